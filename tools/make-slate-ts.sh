#!/usr/bin/env bash
# Regenerate the "no signal" slate shipped in the package (src/xrelay/media/slate.ts),
# played to viewers while every source of their channel is down.
# 2.56 s of a 640x360 25 fps still card, H.264 (keyframe every 32 frames) + silent AAC:
# 64 video frames and 120 AAC frames (the encoder adds one frame of priming to the
# 119 x 1024 samples given) last exactly as long, so the slate loops seamlessly.
# Usage: tools/make-slate-ts.sh [OUT.ts]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/src/xrelay/media/slate.ts}"
command -v ffmpeg >/dev/null || { echo "ffmpeg missing: apt-get install -y ffmpeg" >&2; exit 1; }
font="$(fc-match -f '%{file}' 'DejaVu Sans:bold' 2>/dev/null || true)"
[ -f "$font" ] || { echo "no font for drawtext: apt-get install -y fonts-dejavu-core" >&2; exit 1; }
text="drawtext=fontfile=$font:fontcolor=white:x=(w-text_w)/2"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "color=c=0x202020:size=640x360:rate=25:duration=2.56,$text:fontsize=64:y=(h-text_h)/2-20:text='NO SIGNAL',$text:fontsize=22:y=h/2+40:fontcolor=0xb0b0b0:text='this channel will be back shortly'" \
  -f lavfi -i "anullsrc=channel_layout=stereo:sample_rate=48000,atrim=end_sample=121856" \
  -c:v libx264 -preset veryslow -tune stillimage -profile:v main -pix_fmt yuv420p \
  -crf 28 -maxrate 300k -bufsize 600k -g 32 -keyint_min 32 -sc_threshold 0 \
  -c:a aac -b:a 32k \
  -f mpegts -mpegts_flags +resend_headers \
  -metadata service_name="xrelay slate" -metadata service_provider="xrelay" \
  "$out"
echo "wrote $out: $(stat -c %s "$out") bytes"
