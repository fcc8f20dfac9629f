"""The ffmpeg command line built from a profile."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import require_binary
from xrelay.config import TranscodeProfile
from xrelay.transcode import ffmpeg_args
from xrelay.transcode._args import PIPE_IN, PIPE_OUT

SMALL = TranscodeProfile(
    height=180, video_bitrate=300, preset="ultrafast", audio_bitrate=64
)


def option(argv: list[str], name: str) -> str:
    """The value after the (single) option ``name``."""
    assert argv.count(name) == 1, f"{name} appears {argv.count(name)} times"
    return argv[argv.index(name) + 1]


class SoftwareTests(SynchronousTestCase):
    def test_default_profile_is_720p_libx264(self) -> None:
        argv = ffmpeg_args("ffmpeg", TranscodeProfile(), "libx264")
        self.assertEqual(argv[0], "ffmpeg")
        self.assertEqual(option(argv, "-vf"), "scale=-2:720")
        self.assertEqual(option(argv, "-c:v"), "libx264")
        self.assertEqual(option(argv, "-preset"), "veryfast")
        self.assertEqual(option(argv, "-pix_fmt"), "yuv420p")
        self.assertEqual(
            [option(argv, o) for o in ("-b:v", "-maxrate", "-bufsize")],
            ["2500k", "2500k", "5000k"],
        )
        self.assertEqual(option(argv, "-force_key_frames"), "expr:gte(t,n_forced*2)")
        self.assertEqual(option(argv, "-c:a"), "aac")
        self.assertEqual(option(argv, "-b:a"), "128k")
        self.assertNotIn("-vaapi_device", argv)

    def test_reads_stdin_writes_stdout_reports_progress_on_stderr(self) -> None:
        argv = ffmpeg_args("/opt/ff/ffmpeg", SMALL, "libx264")
        self.assertEqual(argv[0], "/opt/ff/ffmpeg")
        start = argv.index("-i") - 2
        self.assertEqual(tuple(argv[start : start + 4]), PIPE_IN)
        self.assertEqual(tuple(argv[-len(PIPE_OUT) :]), PIPE_OUT)
        self.assertEqual(option(argv, "-progress"), "pipe:2")
        self.assertIn("-nostats", argv)
        self.assertIn("-nostdin", argv)  # no keyboard commands from the TS

    def test_frame_rate_and_keyframe_interval(self) -> None:
        profile = TranscodeProfile(fps=25.0, keyframe_interval=1.5)
        argv = ffmpeg_args("ffmpeg", profile, "libx264")
        self.assertEqual(option(argv, "-vf"), "fps=25,scale=-2:720")
        self.assertEqual(option(argv, "-force_key_frames"), "expr:gte(t,n_forced*1.5)")

    def test_audio_copy_and_none(self) -> None:
        copy = ffmpeg_args("ffmpeg", TranscodeProfile(audio_codec="copy"), "libx264")
        self.assertEqual(option(copy, "-c:a"), "copy")
        self.assertNotIn("-b:a", copy)
        none = ffmpeg_args("ffmpeg", TranscodeProfile(audio_codec="none"), "libx264")
        self.assertIn("-an", none)
        self.assertNotIn("0:a:0?", none)
        self.assertNotIn("-c:a", none)

    def test_a_fallback_gets_software_options(self) -> None:
        # A hardware profile whose GPU is missing is encoded with libx264.
        profile = TranscodeProfile(video_codec="h264_vaapi")
        argv = ffmpeg_args("ffmpeg", profile, "libx264")
        self.assertEqual(option(argv, "-c:v"), "libx264")
        self.assertEqual(option(argv, "-vf"), "scale=-2:720")
        self.assertNotIn("-vaapi_device", argv)


class HardwareTests(SynchronousTestCase):
    def test_vaapi_uploads_and_scales_on_the_gpu(self) -> None:
        profile = TranscodeProfile(
            video_codec="h264_vaapi", vaapi_device="/dev/dri/renderD129"
        )
        argv = ffmpeg_args("ffmpeg", profile, "h264_vaapi")
        self.assertEqual(option(argv, "-vaapi_device"), "/dev/dri/renderD129")
        self.assertLess(argv.index("-vaapi_device"), argv.index("-i"))
        self.assertEqual(
            option(argv, "-vf"), "format=nv12,hwupload,scale_vaapi=w=-2:h=720"
        )
        self.assertEqual(option(argv, "-c:v"), "h264_vaapi")
        self.assertNotIn("-preset", argv)

    def test_nvenc_gets_its_own_preset_names(self) -> None:
        for preset, expected in [
            ("ultrafast", "p1"),
            ("veryfast", "p3"),
            ("veryslow", "p7"),
        ]:
            profile = TranscodeProfile(video_codec="h264_nvenc", preset=preset)
            argv = ffmpeg_args("ffmpeg", profile, "h264_nvenc")
            self.assertEqual(option(argv, "-preset"), expected)
            self.assertEqual(option(argv, "-forced-idr"), "1")
            self.assertEqual(option(argv, "-vf"), "scale=-2:720")

    def test_qsv_presets_start_at_veryfast(self) -> None:
        for preset, expected in [("ultrafast", "veryfast"), ("slow", "slow")]:
            profile = TranscodeProfile(video_codec="h264_qsv", preset=preset)
            argv = ffmpeg_args("ffmpeg", profile, "h264_qsv")
            self.assertEqual(option(argv, "-preset"), expected)
            self.assertEqual(option(argv, "-pix_fmt"), "nv12")


class RealFfmpegTests(SynchronousTestCase):
    """The software command line, run: ffmpeg must accept it as built."""

    def test_ffmpeg_encodes_stdin_to_the_profile(self) -> None:
        ffmpeg = require_binary("ffmpeg")
        ffprobe = require_binary("ffprobe")
        source = subprocess.run(
            [
                ffmpeg, "-v", "error",
                "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=3",
                "-f", "lavfi", "-i", "sine=duration=3",
                "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                "-f", "mpegts", "-",
            ],
            capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        encoded = subprocess.run(
            ffmpeg_args(ffmpeg, SMALL, "libx264"),
            input=source,
            capture_output=True,
            check=True,
            timeout=60,
        )
        self.assertIn(b"progress=end", encoded.stderr)
        path = Path(tempfile.mkdtemp()) / "out.ts"
        self.addCleanup(path.parent.rmdir)
        self.addCleanup(path.unlink)
        path.write_bytes(encoded.stdout)
        probe = subprocess.run(
            [ffprobe, "-v", "error", "-show_streams", "-of", "json", str(path)],
            capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        streams = json.loads(probe.stdout)["streams"]
        video = next(s for s in streams if s["codec_type"] == "video")
        audio = next(s for s in streams if s["codec_type"] == "audio")
        self.assertEqual(
            (video["codec_name"], video["width"], video["height"]),
            ("h264", 320, 180),
        )
        self.assertEqual(audio["codec_name"], "aac")
