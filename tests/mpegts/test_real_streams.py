"""The parsers over transport streams made by ffmpeg.

These tests need ffmpeg on PATH and fail (not skip) without it: they are the
check that the parsers agree with a real muxer.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from xrelay.mpegts import (
    PACKET_SIZE,
    ContinuityChecker,
    PacketSplitter,
    PsiTracker,
    is_random_access,
    parse_pes_timestamps,
    payload_unit_start,
    pcr,
    pid,
)

SECONDS, FPS, GOP = 3, 25, 25
ENCODERS = {
    # name: (video encoder args, audio encoder args)
    "h264": (["-c:v", "libx264", "-sc_threshold", "0"], ["-c:a", "aac"]),
    "hevc": (
        ["-c:v", "libx265", "-x265-params", "scenecut=0:log-level=error"],
        # System B signalling: AC-3 as a private stream with a DVB descriptor.
        ["-c:a", "ac3", "-mpegts_flags", "system_b"],
    ),
    "mpeg2": (["-c:v", "mpeg2video", "-sc_threshold", "0"], ["-c:a", "mp2"]),
}


@functools.cache
def _media_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="xrelay-mpegts-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def stream(name: str) -> bytes:
    """A SECONDS-long test pattern with a tone, made once per test run."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AssertionError(
            "ffmpeg is not on PATH; install it (apt-get install ffmpeg)"
        )
    video, audio = ENCODERS[name]
    out = _media_dir() / f"{name}.ts"
    subprocess.run(
        [
            *(ffmpeg, "-v", "error", "-nostdin", "-y"),
            *("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={FPS}"),
            *("-f", "lavfi", "-i", "sine", "-t", str(SECONDS), "-g", str(GOP)),
            *video,
            *audio,
            *("-f", "mpegts", str(out)),
        ],
        check=True,
        timeout=120,
    )
    return out.read_bytes()


def offsets(data: bytes, on_pid: int) -> list[int]:
    return [off for off in range(0, len(data), PACKET_SIZE) if pid(data, off) == on_pid]


def steps(values: list[int]) -> set[int]:
    return {b - a for a, b in itertools.pairwise(values)}


class RealStreamTests(SynchronousTestCase):
    def tracked(self, name: str) -> tuple[bytes, PsiTracker]:
        data = stream(name)
        self.assertEqual(PacketSplitter().feed(data), data)
        tracker = PsiTracker()
        tracker.feed(data)
        self.assertEqual(tracker.errors, 0)
        return data, tracker

    def test_psi(self) -> None:
        expected = {
            "h264": (0x1B, ["h264", "aac"]),
            "hevc": (0x24, ["hevc", "ac3"]),
            "mpeg2": (0x02, ["mpeg2video", "mp2"]),
        }
        for name, (stream_type, codecs) in expected.items():
            _, tracker = self.tracked(name)
            [(program, pmt_pid)] = tracker.pat.items()
            pmt = tracker.pmts[program]
            self.assertEqual([s.codec for s in pmt.streams], codecs, name)
            self.assertEqual(tracker.video_stream_type, stream_type)
            self.assertEqual(tracker.video_pid, pmt.streams[0].pid)
            self.assertEqual(tracker.pcr_pid, pmt.pcr_pid)
            # The cached packets alone are enough for a fresh demuxer.
            self.assertEqual(len(tracker.psi_packets), 2 * PACKET_SIZE)
            self.assertEqual(pid(tracker.psi_packets, PACKET_SIZE), pmt_pid)
            fresh = PsiTracker()
            fresh.feed(tracker.psi_packets)
            self.assertEqual((fresh.pat, fresh.pmts), (tracker.pat, tracker.pmts))

    def test_one_random_access_point_per_gop(self) -> None:
        for name in ENCODERS:
            data, tracker = self.tracked(name)
            assert (
                tracker.video_pid is not None and tracker.video_stream_type is not None
            )
            video = offsets(data, tracker.video_pid)
            # ffmpeg flags keyframes itself; clear the flags to test the ES scan.
            unflagged = bytearray(data)
            for off in video:
                if unflagged[off + 3] & 0x20 and unflagged[off + 4]:
                    unflagged[off + 5] &= ~0x40
            for buf in (data, unflagged):
                points = [
                    off
                    for off in video
                    if is_random_access(buf, off, tracker.video_stream_type)
                ]
                self.assertEqual(len(points), SECONDS * FPS // GOP, name)
                self.assertEqual(points[0], video[0], name)

    def test_pes_timestamps(self) -> None:
        data, tracker = self.tracked("h264")
        assert tracker.video_pid is not None
        starts = [
            off
            for off in offsets(data, tracker.video_pid)
            if payload_unit_start(data, off)
        ]
        stamps = [parse_pes_timestamps(data, off) for off in starts]
        self.assertEqual(len(stamps), SECONDS * FPS)  # one PES per frame
        pts = [p for p, _ in stamps if p is not None]
        self.assertEqual(len(pts), len(stamps))
        # Frames are decoded in DTS order (PTS when no DTS) one frame apart,
        # and presented one frame apart once B-frames are put back in order.
        decode = [p if d is None else d for p, d in stamps if p is not None]
        self.assertEqual(steps(decode), {90_000 // FPS})
        self.assertEqual(steps(sorted(pts)), {90_000 // FPS})

    def test_pcr_monotonic(self) -> None:
        for name in ENCODERS:
            data, tracker = self.tracked(name)
            assert tracker.pcr_pid is not None
            clock = [pcr(data, off) for off in offsets(data, tracker.pcr_pid)]
            values = [v for v in clock if v is not None]
            self.assertGreater(len(values), SECONDS * 10, name)
            self.assertGreater(min(steps(values)), 0, name)
            # PCR runs with the stream: about SECONDS of 27 MHz ticks.
            self.assertLess(abs((values[-1] - values[0]) / 27e6 - SECONDS), 0.5, name)

    def test_continuity(self) -> None:
        data, tracker = self.tracked("h264")
        checker = ContinuityChecker()
        checker.feed(data)
        self.assertEqual(checker.errors, {})

        assert tracker.video_pid is not None
        lost = offsets(data, tracker.video_pid)[100]
        checker = ContinuityChecker()
        checker.feed(data[:lost] + data[lost + PACKET_SIZE :])
        self.assertEqual(checker.errors, {tracker.video_pid: 1})
