#!/usr/bin/env bash
# Regenerate the demo channel shipped in the package (src/xrelay/media/demo.ts).
# 10 s of 640x360 25 fps test pattern + 1 kHz tone: H.264 (keyframe every 1 s) + AAC,
# constant ~1.2 Mbit/s so the file stays under 2 MB and loops smoothly.
# Usage: tools/make-demo-ts.sh [OUT.ts]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/src/xrelay/media/demo.ts}"
command -v ffmpeg >/dev/null || { echo "ffmpeg missing: apt-get install -y ffmpeg" >&2; exit 1; }
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=25" \
  -f lavfi -i "sine=frequency=1000:sample_rate=48000" \
  -t 10 \
  -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p \
  -b:v 1000k -minrate 1000k -maxrate 1000k -bufsize 1000k -x264-params "nal-hrd=cbr" \
  -g 25 -keyint_min 25 -sc_threshold 0 \
  -c:a aac -b:a 96k -ac 2 \
  -f mpegts -muxrate 1200k -mpegts_flags +resend_headers \
  -metadata service_name="xrelay demo" -metadata service_provider="xrelay" \
  "$out"
echo "wrote $out: $(stat -c %s "$out") bytes"
