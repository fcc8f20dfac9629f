"""ffprobe: its output read, and the process run (real ffprobe)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.integration._daemon import require_binary
from xrelay.vod import FFprobe, MediaFacts, ProbeFailure
from xrelay.vod._probe import facts_from_ffprobe

MEDIA = Path(__file__).resolve().parents[2] / "src" / "xrelay" / "media"
MOVIE = MEDIA / "vod" / "movies" / "Sample.Movie.2024.mp4"


def ffprobe_json(streams: list[dict[str, object]], **fmt: object) -> bytes:
    return json.dumps({"streams": streams, "format": fmt}).encode()


class FactsTests(SynchronousTestCase):
    def test_video_and_audio(self) -> None:
        output = ffprobe_json(
            [
                {"codec_type": "video", "codec_name": "mjpeg", "width": 600,
                 "height": 900, "disposition": {"attached_pic": 1}},
                {"codec_type": "video", "codec_name": "hevc", "width": 3840,
                 "height": 2160, "disposition": {"attached_pic": 0}},
                {"codec_type": "audio", "codec_name": "eac3"},
                {"codec_type": "audio", "codec_name": "aac"},
            ],
            duration="5400.6",
            bit_rate="8000000",
        )  # fmt: skip
        self.assertEqual(
            facts_from_ffprobe(output, 1),
            MediaFacts(5401, "hevc", "eac3", 3840, 2160, 8000),
        )

    def test_audio_only_and_bitrate_from_the_size(self) -> None:
        output = ffprobe_json(
            [{"codec_type": "audio", "codec_name": "mp3"}], duration="8"
        )
        self.assertEqual(
            facts_from_ffprobe(output, 128_000), MediaFacts(8, "", "mp3", 0, 0, 128)
        )

    def test_no_media(self) -> None:
        self.assertEqual(
            facts_from_ffprobe(ffprobe_json([{"codec_type": "subtitle"}]), 1),
            ProbeFailure("no video or audio stream"),
        )
        self.assertEqual(
            facts_from_ffprobe(b"{}", 1), ProbeFailure("no video or audio stream")
        )
        self.assertEqual(
            facts_from_ffprobe(b"garbage", 1),
            ProbeFailure("ffprobe printed something that is not JSON"),
        )

    def test_nonsense_numbers_are_zero(self) -> None:
        output = ffprobe_json(
            [{"codec_type": "video", "codec_name": "h264", "width": "N/A"}],
            duration="nan",
            bit_rate=-5,
        )
        self.assertEqual(
            facts_from_ffprobe(output, 1), MediaFacts(0, "h264", "", 0, 0, 0)
        )


class FFprobeTests(TestCase):
    """The real ffprobe, run by the real reactor."""

    timeout = 60

    def setUp(self) -> None:
        self.ffprobe = require_binary("ffprobe")
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)

    async def test_a_real_file(self) -> None:
        result = await FFprobe(reactor, "ffprobe").probe(
            str(MOVIE), MOVIE.stat().st_size
        )
        self.assertEqual(result, MediaFacts(10, "h264", "aac", 320, 180, 121))

    async def test_not_media_and_odd_names(self) -> None:
        text = self.workdir / "-x: not a movie.mkv"
        text.write_text("hello\n")
        result = await FFprobe(reactor, self.ffprobe).probe(str(text), 6)
        self.assertEqual(
            result, ProbeFailure("Invalid data found when processing input")
        )
        missing = await FFprobe(reactor, "ffprobe").probe(
            str(self.workdir / "gone.mkv"), 0
        )
        self.assertEqual(missing, ProbeFailure("No such file or directory"))

    def fake_ffprobe(self, script: str) -> str:
        path = self.workdir / "fake-ffprobe"
        path.write_text(f"#!/bin/sh\n{script}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return str(path)

    async def test_a_slow_ffprobe_is_killed_and_not_remembered(self) -> None:
        slow = FFprobe(reactor, self.fake_ffprobe("exec sleep 30"), timeout=0.5)
        result = await slow.probe(str(MOVIE), 1)
        self.assertEqual(result, ProbeFailure("ffprobe took too long", lasting=False))

    async def test_too_much_output(self) -> None:
        chatty = FFprobe(reactor, self.fake_ffprobe("exec yes"), timeout=20)
        self.assertEqual(
            await chatty.probe(str(MOVIE), 1), ProbeFailure("ffprobe printed too much")
        )

    async def test_concurrency_is_bounded(self) -> None:
        log = self.workdir / "running"
        script = self.fake_ffprobe(
            f'echo start >> "{log}"; sleep 0.3; echo end >> "{log}";'
            ' echo \'{"streams":[{"codec_type":"audio","codec_name":"aac"}]}\''
        )
        prober = FFprobe(reactor, script, concurrency=2)
        results = await ensureDeferred(
            _all([prober.probe(str(MOVIE), 1) for _ in range(5)])
        )
        self.assertEqual(len(results), 5)
        running = peak = 0
        for line in log.read_text().split():
            running += 1 if line == "start" else -1
            peak = max(peak, running)
        self.assertEqual(peak, 2)

    async def test_cancelling_kills_the_process(self) -> None:
        pidfile = self.workdir / "pid"
        prober = FFprobe(
            reactor, self.fake_ffprobe(f'echo $$ > "{pidfile}"; exec sleep 30')
        )
        probe = prober.probe(str(MOVIE), 1)
        for _ in range(100):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            await _sleep(0.05)
        pid = int(pidfile.read_text())
        probe.cancel()
        with self.assertRaises(CancelledError):
            await probe
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await _sleep(0.05)
        else:
            self.fail("the cancelled ffprobe is still running")

    def test_missing_ffprobe_is_named(self) -> None:
        reason = FFprobe(reactor, "no-such-ffprobe").unavailable()
        self.assertEqual(
            reason,
            "ffprobe not found (library.ffprobe = 'no-such-ffprobe');"
            " install ffmpeg (apt-get install -y ffmpeg)",
        )
        self.assertIsNone(FFprobe(reactor, "ffprobe").unavailable())


async def _all(ds: list[Deferred[object]]) -> list[object]:
    return [await d for d in ds]


def _sleep(seconds: float) -> Deferred[None]:
    d: Deferred[None] = Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d
