"""EncoderCheck: a hardware encoder only when a test encode with it works."""

from __future__ import annotations

import subprocess
import sys

from twisted.internet import reactor
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.integration._daemon import require_binary
from tests.transcode._fakes import ProcessClock
from xrelay.config import TranscodeProfile
from xrelay.transcode import EncoderCheck, ffmpeg_args
from xrelay.transcode._probe import TEST_SINK, TEST_SOURCE

NVENC = TranscodeProfile(video_codec="h264_nvenc")


class EncoderCheckTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = ProcessClock()

    def check(self, profile: TranscodeProfile = NVENC) -> EncoderCheck:
        check = EncoderCheck(sys.executable, "hd", profile, self.reactor, timeout=30)
        check.start()
        return check

    def test_software_is_decided_at_once(self) -> None:
        check = self.check(TranscodeProfile())
        self.assertEqual(self.successResultOf(check.encoder()), "libx264")
        self.assertEqual(self.reactor.spawned, [])

    def test_hardware_that_encodes_is_used(self) -> None:
        check = self.check()
        [test] = self.reactor.spawned
        self.assertEqual(
            test.argv,
            ffmpeg_args(sys.executable, NVENC, "h264_nvenc", TEST_SOURCE, TEST_SINK),
        )
        first, second = check.encoder(), check.encoder()
        self.assertNoResult(first)
        test.end(0)
        self.assertEqual(self.successResultOf(first), "h264_nvenc")
        self.assertEqual(self.successResultOf(second), "h264_nvenc")
        self.assertEqual(self.successResultOf(check.encoder()), "h264_nvenc")

    def test_hardware_that_fails_falls_back_with_a_warning(self) -> None:
        check = self.check()
        [test] = self.reactor.spawned
        with capturedLogs() as events:
            test.stderr(b"frame=0\nprogress=continue\n")
            test.stderr(b"[h264_nvenc @ 0x55] Cannot load libcuda.so.1\n")
            test.stderr(b"frame=0\nprogress=end\n")
            test.end(1)
        self.assertEqual(self.successResultOf(check.encoder()), "libx264")
        [warning] = [e for e in events if e["log_level"].name == "warn"]
        self.assertEqual(
            (warning["profile"], warning["encoder"], warning["software"]),
            ("hd", "h264_nvenc", "libx264"),
        )
        self.assertEqual(
            warning["why"],
            "a test encode failed: [h264_nvenc @ 0x55] Cannot load libcuda.so.1",
        )

    def test_a_hung_test_encode_is_killed_and_falls_back(self) -> None:
        check = self.check()
        [test] = self.reactor.spawned
        self.reactor.advance(29)
        self.assertEqual(test.signals, [])
        self.reactor.advance(1)
        self.assertEqual(test.signals, ["KILL"])
        test.end(by="KILL")
        self.assertEqual(self.successResultOf(check.encoder()), "libx264")

    def test_stop_kills_a_running_test_and_fires_once_reaped(self) -> None:
        check = self.check()
        [test] = self.reactor.spawned
        d = check.stop()
        self.assertEqual(test.signals, ["KILL"])
        self.assertNoResult(d)
        test.end(by="KILL")
        self.successResultOf(d)
        self.assertEqual(self.reactor.getDelayedCalls(), [])  # no timeout left

    def test_missing_ffmpeg_falls_back(self) -> None:
        check = EncoderCheck("/nonexistent/ffmpeg", "hd", NVENC, self.reactor)
        check.start()
        self.assertEqual(self.successResultOf(check.encoder()), "libx264")


class RealEncoderCheckTests(TestCase):
    timeout = 60

    async def test_agrees_with_ffmpeg_on_this_machine(self) -> None:
        """With the real ffmpeg: nvenc only if ffmpeg can encode with it here
        (on a machine without an NVIDIA GPU, libx264)."""
        ffmpeg = require_binary("ffmpeg")
        argv = ffmpeg_args(ffmpeg, NVENC, "h264_nvenc", TEST_SOURCE, TEST_SINK)
        works = subprocess.run(argv, capture_output=True, timeout=60).returncode == 0
        check = EncoderCheck(ffmpeg, "hd", NVENC, reactor)
        check.start()
        self.addCleanup(check.stop)
        encoder = await check.encoder()
        self.assertEqual(encoder, "h264_nvenc" if works else "libx264")
