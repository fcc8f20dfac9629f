"""The file:// source: PCR pacing, seamless looping, and bad files.

The ffmpeg tests need ffmpeg on PATH and fail (not skip) without it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from xrelay.demo import demo_media_path
from xrelay.ingest import FileLoopSource, UnsupportedSource, make_source
from xrelay.mpegts import (
    PACKET_SIZE,
    ContinuityChecker,
    PsiTracker,
    discontinuity_indicator,
    parse_pes_timestamps,
    payload_unit_start,
    pcr,
    pid,
)
from xrelay.testing import PacketRecorder

DEMO = demo_media_path()
PTS_WRAP = 1 << 33
FRAME = 3600  # the demo's video frame, 90 kHz ticks (25 fps)


def file_duration(path: Path) -> float:
    """Seconds between the first and last PCR of the PCR PID."""
    data = path.read_bytes()
    values = []
    pcr_pid = None
    for off in range(0, len(data) - PACKET_SIZE + 1, PACKET_SIZE):
        value = pcr(data, off)
        if value is not None and pcr_pid in (None, pid(data, off)):
            pcr_pid = pid(data, off)
            values.append(value)
    return (values[-1] - values[0]) / 27e6


class FileLoopSourceTests(SynchronousTestCase):
    def run_for(
        self, path: str, seconds: float, read_size: int = 64 * 1024
    ) -> tuple[PacketRecorder, list[int]]:
        clock = Clock()
        sink = PacketRecorder()
        source = FileLoopSource(path, clock, read_size=read_size)
        source.start(sink)
        per_second = []
        for _ in range(int(seconds)):
            before = len(sink.data())
            clock.pump([0.02] * 50)
            per_second.append(len(sink.data()) - before)
        source.stop()
        self.addCleanup(source.stop)
        return sink, per_second

    def test_paced_at_the_file_bitrate(self) -> None:
        size = DEMO.stat().st_size
        rate = size / file_duration(DEMO)
        sink, per_second = self.run_for(str(DEMO), 5)
        self.assertEqual(sink.ended, [])
        self.assertEqual(len(sink.data()) % PACKET_SIZE, 0)
        for sent in per_second[1:]:
            self.assertLess(abs(sent / rate - 1.0), 0.1)

    def test_loops_seamlessly_without_a_pace_hiccup(self) -> None:
        duration = file_duration(DEMO)
        sink, per_second = self.run_for(str(DEMO), int(duration * 2) + 3)
        self.assertGreater(len(sink.data()), DEMO.stat().st_size * 2)
        middle = sorted(per_second[1:])
        # no second is starved or doubled around the loop points
        self.assertLess(middle[-1] / middle[0], 1.25)

    def test_loops_as_one_continuous_stream(self) -> None:
        self.assertLoopsSeamlessly(str(DEMO))

    def test_loops_across_a_timestamp_wrap(self) -> None:
        self.assertLoopsSeamlessly(self.wrapped_demo())

    def wrapped_demo(self) -> str:
        """The demo remuxed to start 2 s before PTS/PCR wrap to 0."""
        path = self.mktemp()
        run_ffmpeg(
            *("-i", str(DEMO), "-c", "copy", "-output_ts_offset", "95441.5"),
            *("-muxrate", "1200k", "-f", "mpegts", path),
        )
        return path

    def assertLoopsSeamlessly(self, path: str) -> None:
        sink, _ = self.run_for(path, 26)  # 2.5 passes of the 10 s demo
        data = sink.data()
        checker = ContinuityChecker()
        checker.feed(data)
        self.assertEqual(checker.errors, {})
        psi = PsiTracker()
        psi.feed(data)
        assert psi.video_pid is not None and psi.pcr_pid is not None
        flagged = [
            o
            for o in range(0, len(data), PACKET_SIZE)
            if discontinuity_indicator(data, o)
        ]
        self.assertEqual(flagged, [])
        clock = [pcr(data, off) for off in offsets(data, psi.pcr_pid)]
        values = unwrapped([v for v in clock if v is not None], PTS_WRAP * 300)
        self.assertEqual(values, sorted(set(values)))
        stamps = [parse_pes_timestamps(data, o) for o in offsets(data, psi.video_pid)]
        decode = unwrapped(
            [pts if dts is None else dts for pts, dts in stamps if pts is not None],
            PTS_WRAP,
        )
        self.assertEqual(decode, sorted(set(decode)))
        # every frame once, one frame apart across the loop points too (up
        # to the latest DTS: later frames in display order may not be sent yet)
        pts = unwrapped([pts for pts, _ in stamps if pts is not None], PTS_WRAP)
        shown = sorted(p for p in pts if p <= decode[-1])
        self.assertEqual({b - a for a, b in pairwise(shown)}, {FRAME})
        self.assertGreater(shown[-1] - shown[0], 25 * 90_000)
        out = Path(self.mktemp())
        out.write_bytes(up_to_the_last_frame(data))
        warnings = run_ffmpeg("-i", str(out), "-f", "null", "-")
        # The demo's audio lasts 26.7 ms longer than its video, which sets the
        # loop: at each loop point ffmpeg sees the audio go back by those
        # samples at most (well under an AAC frame of 1024), and that is all.
        overlaps = [
            line
            for line in warnings
            if (m := AUDIO_BACK.search(line)) and int(m[1]) - int(m[2]) < 1024
        ]
        self.assertEqual([line for line in warnings if line not in overlaps], [])
        self.assertLessEqual(len(overlaps), 2)

    def test_any_read_size_gives_the_same_stream(self) -> None:
        whole, _ = self.run_for(str(DEMO), 14)
        odd, _ = self.run_for(str(DEMO), 14, read_size=5000)
        self.assertEqual(odd.data(), whole.data())

    def test_keeps_real_time_over_many_loops(self) -> None:
        """A pass takes exactly its media's duration, so the lead over the
        wall clock stays put instead of drifting by the mux's slack."""
        for path in (str(DEMO), self.wrapped_demo()):
            clock = Clock()
            sink = PacketRecorder()
            source = FileLoopSource(path, clock)
            self.addCleanup(source.stop)
            source.start(sink)
            leads = []
            for seconds in (15, 95):
                clock.pump([0.02] * round((seconds - clock.seconds()) / 0.02))
                data = sink.data()
                first = next(video_pts(data))
                tail = data[-PACKET_SIZE * 2000 :]
                media = max((p - first) % PTS_WRAP for p in video_pts(tail))
                leads.append(media / 90_000 - clock.seconds())
            self.assertLess(abs(leads[1] - leads[0]), 0.05, path)

    def test_a_file_without_timestamps_restarts_its_clock_each_loop(self) -> None:
        """PCR but no PES: each pass is a new time base, flagged as one;
        the counters still carry on."""
        path = Path(self.mktemp())
        # one second: a PCR every 10 ms, each followed by a data packet
        path.write_bytes(
            b"".join(pcr_packet(i * 270_000) + data_packet(i) for i in range(100))
        )
        with capturedLogs() as events:
            sink, _ = self.run_for(str(path), 3)
        data = sink.data()
        flagged = [
            pcr(data, off)
            for off in offsets(data, 0x100)
            if discontinuity_indicator(data, off)
        ]
        self.assertGreaterEqual(len(flagged), 3)
        self.assertEqual(set(flagged), {0})  # each pass as in the file
        self.assertFalse(discontinuity_indicator(data, 0))
        checker = ContinuityChecker()
        checker.feed(data)
        self.assertEqual(checker.errors, {})
        self.assertEqual(
            [e["path"] for e in events if "restarts" in e["log_format"]], [str(path)]
        )

    def test_the_stream_starts_with_the_file_start(self) -> None:
        sink, _ = self.run_for(str(DEMO), 1)
        self.assertEqual(sink.data()[:4096], DEMO.read_bytes()[:4096])

    def test_missing_file_ends_with_a_reason_naming_it(self) -> None:
        sink, _ = self.run_for("/nonexistent/x.ts", 1)
        self.assertEqual(len(sink.ended), 1)
        self.assertIn("/nonexistent/x.ts", sink.ended[0])

    def test_a_file_without_pcr_ends_instead_of_flooding(self) -> None:
        path = Path(self.mktemp())
        # null packets: valid TS, but nothing to pace by
        path.write_bytes((b"\x47\x1f\xff\x10" + b"\xff" * 184) * 2000)
        sink, _ = self.run_for(str(path), 2)
        self.assertEqual(len(sink.ended), 1)
        self.assertIn("no PCR", sink.ended[0])

    def test_an_empty_file_ends(self) -> None:
        path = Path(self.mktemp())
        path.write_bytes(b"")
        sink, _ = self.run_for(str(path), 1)
        self.assertEqual(len(sink.ended), 1)


AUDIO_BACK = re.compile(r"non monotonically increasing dts .* stream 1: (\d+) >= (\d+)")


def offsets(data: bytes, packet_pid: int) -> Iterator[int]:
    return (
        off for off in range(0, len(data), PACKET_SIZE) if pid(data, off) == packet_pid
    )


def unwrapped(values: list[int], wrap: int) -> list[int]:
    """``values`` of a wrapping clock, counted on past each wrap."""
    out: list[int] = []
    base = 0
    for a, b in pairwise([values[0], *values]):
        if b - a < -wrap // 2:
            base += wrap
        elif b - a > wrap // 2:  # B-frames reordered back over the wrap
            base -= wrap
        out.append(b + base)
    return out


def video_pts(data: bytes) -> Iterator[int]:
    """The PTS of the demo's video (PID 0x100), in stream order."""
    for off in offsets(data, 0x100):
        pts = parse_pes_timestamps(data, off)[0]
        if pts is not None:
            yield pts


def up_to_the_last_frame(data: bytes) -> bytes:
    """``data`` without the video frame it ends in the middle of."""
    psi = PsiTracker()
    psi.feed(data)
    assert psi.video_pid is not None
    starts = [o for o in offsets(data, psi.video_pid) if payload_unit_start(data, o)]
    return data[: starts[-1]]


def run_ffmpeg(*args: str) -> list[str]:
    """Run ffmpeg; return the lines it printed on stderr."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None
    result = subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "warning", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stderr.splitlines()


def pcr_packet(value: int) -> bytes:
    """PID 0x100, an adaptation field with only a PCR (27 MHz ticks)."""
    bits = (value // 300) << 15 | 0x3F << 9 | value % 300
    field = b"\x10" + bits.to_bytes(6, "big")
    return b"\x47\x01\x00\x20" + bytes([183]) + field.ljust(183, b"\xff")


def data_packet(counter: int) -> bytes:
    """PID 0x101, payload only, not a PES."""
    return b"\x47\x01\x01" + bytes([0x10 | counter % 16]) + bytes(184)


class MakeSourceTests(SynchronousTestCase):
    def test_file_url(self) -> None:
        source = make_source("file:///srv/tv/a%20b.ts", Clock())
        assert isinstance(source, FileLoopSource)
        self.assertEqual(source.path, "/srv/tv/a b.ts")

    def test_unknown_scheme_is_refused_by_name(self) -> None:
        with self.assertRaises(UnsupportedSource) as e:
            make_source("gopher://x/1", Clock())
        self.assertIn("gopher", str(e.exception))
