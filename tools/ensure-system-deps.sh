#!/usr/bin/env bash
# Install the system programs the tests drive for real (ffmpeg/ffprobe,
# redis-server, ip for the multicast tests' network namespaces), only when
# missing.  Needs root (or sudo) for apt-get.
set -euo pipefail
missing=()
{ command -v ffmpeg && command -v ffprobe; } >/dev/null || missing+=(ffmpeg)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v ip >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
