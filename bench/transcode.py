"""Transcoding benchmark: the real-time factor of the default 720p profile.

Generates a test source with ffmpeg (testsrc2 + a sine tone, H.264 + AAC in
MPEG-TS, 1080p25 by default, ``--seconds`` long), then pipes it through the
exact ffmpeg command line xrelay runs for a profile (``ffmpeg_args``: TS on
stdin, TS on stdout, progress on stderr), as fast as ffmpeg can go, and
prints:

- the real-time factor: seconds of stream encoded per wall-clock second
  (xrelay feeds ffmpeg live, so a profile keeps up on this machine when
  this is above 1; the headroom says how many such channels would fit),
  as measured here and as ffmpeg's own last ``speed=`` report;
- the CPU it took: user + system seconds of the ffmpeg process, per second
  of stream and as cores busy while it ran;
- what came out, checked with ffprobe (codec, size, bitrate).

Bounded: the source is ``--seconds`` long (20 by default) and every ffmpeg
run has a timeout.

    python bench/transcode.py                    # default 720p profile, 1080p source
    python bench/transcode.py --source-height 720 --preset ultrafast
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from xrelay.config import X264_PRESETS, TranscodeProfile  # noqa: E402
from xrelay.transcode import ProgressParser, ffmpeg_args  # noqa: E402


def need(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is needed (apt-get install -y ffmpeg)")
    return path


def make_source(ffmpeg: str, path: Path, height: int, seconds: int) -> None:
    width = height * 16 // 9
    subprocess.run(
        [
            ffmpeg, "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "50",
            "-b:v", "8M" if height > 720 else "4M", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k",
            "-f", "mpegts", str(path),
        ],
        check=True,
        timeout=600,
    )  # fmt: skip


def transcode(argv: list[str], source: Path, output: Path) -> dict[str, float]:
    """Run ``argv`` with ``source`` on stdin; wall time, CPU, last progress."""
    progress = ProgressParser()
    errors: list[str] = []
    with source.open("rb") as stdin, output.open("wb") as stdout:
        started = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE
        )
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line and not progress.line(line):
                errors.append(line)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"ffmpeg failed ({process.returncode}): {errors[-5:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "speed": progress.current.speed or 0.0,
        "encoded": progress.current.out_seconds or 0.0,
        "max_rss_mb": usage.ru_maxrss / 1024,
    }


def probe(ffprobe: str, path: Path) -> dict[str, object]:
    result = subprocess.run(
        [ffprobe, "-v", "error", "-show_streams", "-show_format",
         "-of", "json", str(path)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    found = json.loads(result.stdout)
    video = next(s for s in found["streams"] if s["codec_type"] == "video")
    return {
        "video": f"{video['codec_name']} {video['width']}x{video['height']}",
        "duration": float(found["format"]["duration"]),
        "kbps": int(found["format"]["bit_rate"]) / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="source length")
    parser.add_argument("--source-height", type=int, default=1080, choices=(720, 1080))
    parser.add_argument("--preset", choices=X264_PRESETS, default=None,
                        help="override the profile's preset")  # fmt: skip
    args = parser.parse_args()
    ffmpeg, ffprobe = need("ffmpeg"), need("ffprobe")
    profile = TranscodeProfile()
    if args.preset:
        profile = TranscodeProfile(preset=args.preset)
    with tempfile.TemporaryDirectory(prefix="xrelay-bench-transcode-") as tmp:
        source = Path(tmp) / "source.ts"
        made = time.monotonic()
        make_source(ffmpeg, source, args.source_height, args.seconds)
        made = time.monotonic() - made
        src = probe(ffprobe, source)
        output = Path(tmp) / "out.ts"
        argv = ffmpeg_args(ffmpeg, profile, "libx264")
        run = transcode(argv, source, output)
        out = probe(ffprobe, output)
    seconds = float(src["duration"])  # type: ignore[arg-type]
    cores = os.cpu_count() or 1
    print(f"machine: {cores} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    print(
        f"source: {src['video']}, {seconds:.1f} s, {src['kbps']:.0f} kbit/s "
        f"(generated in {made:.1f} s)"
    )
    print(
        f"profile: libx264 {profile.height}p, preset {profile.preset}, "
        f"{profile.video_bitrate} kbit/s video, {profile.audio_codec} "
        f"{profile.audio_bitrate} kbit/s audio, a keyframe every "
        f"{profile.keyframe_interval:g} s"
    )
    print(f"command: {' '.join(argv)}")
    print(f"output: {out['video']}, {out['duration']:.1f} s, {out['kbps']:.0f} kbit/s")
    print(f"wall time: {run['wall']:.2f} s for {seconds:.1f} s of stream")
    print(
        f"real-time factor: {seconds / run['wall']:.2f}x "
        f"(ffmpeg's own last speed= report: {run['speed']:.2f}x)"
    )
    print(
        f"CPU: {run['cpu']:.2f} s user+sys = {run['cpu'] / seconds:.2f} CPU-seconds "
        f"per stream second, {run['cpu'] / run['wall']:.2f} cores busy while "
        f"running; peak RSS {run['max_rss_mb']:.0f} MB"
    )
    print(
        "live channels of this profile the CPUs could carry (idle machine): "
        f"{cores * seconds / run['cpu']:.1f}"
    )


if __name__ == "__main__":
    main()
