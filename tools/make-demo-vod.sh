#!/usr/bin/env bash
# Regenerate the demo VOD library shipped in the package (src/xrelay/media/vod/):
# a 10 s sample movie (MP4, moov first) and a show with two 4 s episodes (MKV),
# 320x180 24 fps test patterns + tones, H.264 (keyframe every 1 s) + AAC, plus
# small posters and JSON sidecars.  About 220 KB in all.
# Usage: tools/make-demo-vod.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/src/xrelay/media/vod}"
command -v ffmpeg >/dev/null || { echo "ffmpeg missing: apt-get install -y ffmpeg" >&2; exit 1; }

movies="$out/movies"
show="$out/series/Sample.Show"
mkdir -p "$movies" "$show"

clip() {  # clip SECONDS PATTERN TONE_HZ OUT [extra ffmpeg output options...]
  local seconds="$1" pattern="$2" tone="$3" target="$4"
  shift 4
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "$pattern=size=320x180:rate=24" \
    -f lavfi -i "sine=frequency=$tone:sample_rate=48000" \
    -t "$seconds" \
    -c:v libx264 -preset veryslow -profile:v main -pix_fmt yuv420p \
    -b:v 90k -maxrate 120k -bufsize 240k -g 24 -keyint_min 24 -sc_threshold 0 \
    -c:a aac -b:a 24k -ac 1 \
    "$@" "$target"
}

poster() {  # poster PATTERN OUT
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "$1=size=200x300:rate=1" -frames:v 1 -q:v 12 "$2"
}

clip 10 testsrc2 440 "$movies/Sample.Movie.2024.mp4" -movflags +faststart
poster testsrc2 "$movies/Sample.Movie.2024-poster.jpg"
cat > "$movies/Sample.Movie.2024.json" <<'JSON'
{
  "category": "Demo",
  "plot": "Ten seconds of test pattern and a tone, shipped with xrelay so that VOD plays out of the box.",
  "rating": 7.5
}
JSON

clip 4 smptebars 660 "$show/Sample.Show.S01E01.Pilot.mkv"
clip 4 rgbtestsrc 880 "$show/Sample.Show.S01E02.Finale.mkv"
poster smptebars "$show/poster.jpg"
cat > "$show/series.json" <<'JSON'
{
  "category": "Demo",
  "year": 2024,
  "plot": "A show of two short episodes, shipped with xrelay as a sample series."
}
JSON

du -ab "$out" | sort -k2
