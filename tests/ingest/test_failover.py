"""Failover between a channel's sources, and the "no signal" slate.

The sources are FakeSources fed real transport streams made by ffmpeg (once
per test run), played like live channels: a source started at time t
delivers its stream from position t on.  These tests need ffmpeg on PATH
and fail (not skip) without it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import attrs
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.ingest._failover import (
    FailoverSettings,
    FailoverSource,
    _last_frame_start,
    _Splicer,
    display_url,
)
from xrelay.ingest._slate import SlateSource, default_slate_path
from xrelay.mpegts import (
    PACKET_SIZE,
    ContinuityChecker,
    PsiTracker,
    continuity_counter,
    discontinuity_indicator,
    is_random_access,
    parse_pes_timestamps,
    payload_unit_start,
    pcr,
    pid,
)
from xrelay.testing import FakeSource, PacketRecorder

SECONDS = 10
CLIPS = {
    # name: ffmpeg arguments; all 320x240, 25 fps, a keyframe every 12 frames
    "a": [
        *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"),
        *("-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"),
    ],
    "b": [
        *("-f", "lavfi", "-i", "smptebars=size=320x240:rate=25"),
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
        # other PIDs and another time base than "a"
        *("-mpegts_start_pid", "0x200", "-output_ts_offset", "1000"),
    ],
    "radio": [*("-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000"), "-vn"],
}
A, B, RADIO = "http://user:pw@a.example/live/1.ts", "udp://@239.1.1.2:5000", "file:///r"
SETTINGS = FailoverSettings(
    stall_timeout=0.5,
    recheck_interval=1.5,
    recover_after=1.0,
    keyframe_wait=3.0,
    retry_interval=0.5,
    slate_timeout=2.0,
)
STEP = 0.04  # the clock's step, and how much stream each live source sends per step


@functools.cache
def _media_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="xrelay-failover-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def clip(name: str) -> bytes:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AssertionError(
            "ffmpeg is not on PATH; install it (apt-get install ffmpeg)"
        )
    out = _media_dir() / f"{name}.ts"
    subprocess.run(
        [
            *(ffmpeg, "-v", "error", "-nostdin", "-y", *CLIPS[name]),
            *(
                "-t",
                str(SECONDS),
                "-g",
                "12",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
            ),
            *("-c:a", "aac", "-ac", "2", "-f", "mpegts", str(out)),
        ],
        check=True,
        timeout=120,
    )
    return out.read_bytes()


def psi_of(data: bytes) -> PsiTracker:
    tracker = PsiTracker()
    tracker.feed(data)
    return tracker


def without_cc(data: bytes) -> bytes:
    """``data`` with every continuity counter zeroed."""
    out = bytearray(data)
    out[3::PACKET_SIZE] = bytes(b & 0xF0 for b in data[3::PACKET_SIZE])
    return bytes(out)


def offsets(data: bytes, on_pid: int) -> list[int]:
    return [off for off in range(0, len(data), PACKET_SIZE) if pid(data, off) == on_pid]


class Channel:
    """A FailoverSource over FakeSources playing clips like live streams."""

    def __init__(
        self, streams: dict[str, bytes], settings: FailoverSettings = SETTINGS
    ) -> None:
        self.streams = streams  # url -> what its sources deliver
        self.alive = set(streams)  # urls whose sources deliver
        self.clock = Clock()
        self.made: list[FakeSource] = []
        self.started_at: list[tuple[str, float]] = []
        self.out = PacketRecorder()
        self.failover = FailoverSource(
            list(streams), self.make, self.clock, settings, label="test"
        )
        self.failover.start(self.out)

    def make(self, url: str) -> FakeSource:
        source = FakeSource(url)
        self.made.append(source)
        self.started_at.append((url, self.clock.seconds()))
        return source

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / STEP)):
            now = self.clock.seconds()
            for source in list(self.made):
                if source.url in self.alive and source.sink and not source.stopped:
                    self.deliver(source, now)
            self.clock.advance(STEP)

    def deliver(self, source: FakeSource, now: float) -> None:
        """Send the stream between now and the next step, in UDP-sized batches."""
        data = self.streams[source.url]
        rate = len(data) / SECONDS
        start, end = (
            int(t * rate) // PACKET_SIZE * PACKET_SIZE for t in (now, now + STEP)
        )
        assert end <= len(data), "the test outran its clips"
        for off in range(start, end, 7 * PACKET_SIZE):
            assert source.sink is not None
            source.sink.write_packets(data[off : min(off + 7 * PACKET_SIZE, end)])

    def current(self, url: str) -> FakeSource:
        return next(s for s in reversed(self.made) if s.url == url)


class PassiveFakeSource(FakeSource):
    passive: ClassVar[bool] = True  # like a tcp://@ or udp:// listener


class PassiveChannel(Channel):
    """Its first source is a listener."""

    def make(self, url: str) -> FakeSource:
        if url != A:
            return super().make(url)
        source = PassiveFakeSource(url)
        self.made.append(source)
        self.started_at.append((url, self.clock.seconds()))
        return source


class FailoverTests(SynchronousTestCase):
    def assertContinuous(self, data: bytes) -> None:
        checker = ContinuityChecker()
        checker.feed(data)
        self.assertEqual(checker.errors, {})

    def assertSpliced(self, data: bytes, at: int, into: bytes) -> None:
        """At ``at`` the output switches to the stream ``into``: its PAT and
        PMT, then its keyframe, with the new time base flagged."""
        psi = psi_of(into)
        assert psi.video_pid is not None and psi.pcr_pid is not None
        self.assertEqual(
            without_cc(data[at : at + 2 * PACKET_SIZE]), without_cc(psi.psi_packets)
        )
        video = at + 2 * PACKET_SIZE
        self.assertEqual(pid(data, video), psi.video_pid)
        self.assertTrue(is_random_access(data, video, psi.video_stream_type or 0))
        first_pcr = next(
            off
            for off in offsets(data, psi.pcr_pid)
            if off >= at and pcr(data, off) is not None
        )
        self.assertTrue(discontinuity_indicator(data, first_pcr))

    def test_plays_the_first_source_from_its_first_keyframe(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        out = channel.out.data()
        a = clip("a")
        psi = psi_of(a)
        # what came before the first keyframe is dropped
        self.assertEqual(
            without_cc(out[: 2 * PACKET_SIZE]), without_cc(psi.psi_packets)
        )
        rest = out[2 * PACKET_SIZE :]
        self.assertIn(rest[: 50 * PACKET_SIZE], a)
        self.assertContinuous(out)
        self.assertEqual(channel.failover.state, "live")
        self.assertEqual(channel.failover.active_url, "http://a.example/…")
        self.assertEqual(channel.failover.switches, 0)
        self.assertEqual([s.url for s in channel.made], [A])  # the backup sleeps

    def test_the_output_goes_out_in_whole_video_frames(self) -> None:
        channel = Channel({A: clip("a")})
        channel.run(1.0)
        video = psi_of(clip("a")).video_pid
        chunks = channel.out.chunks
        self.assertGreater(len(chunks), 20)
        for chunk in chunks[1:]:  # each starts a frame; its end waits for the next
            first = offsets(chunk, video)[0]
            self.assertEqual(first, 0)
            self.assertTrue(payload_unit_start(chunk, first))

    def test_a_stalled_source_fails_over_at_a_keyframe(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        before = len(channel.out.data())
        channel.alive.discard(A)
        channel.run(2.0)
        out = channel.out.data()
        self.assertEqual(channel.failover.state, "failover")
        self.assertEqual(channel.failover.active_url, "udp://@239.1.1.2:5000")
        self.assertEqual(channel.failover.switches, 1)
        self.assertEqual(channel.failover.last_errors, ["no packets for 0.5 s", None])
        self.assertTrue(channel.made[0].stopped)
        self.assertSpliced(out, before, clip("b"))
        self.assertEqual(channel.out.switched_at, [0, before])  # the sink is told
        self.assertContinuous(out)
        self.assertEqual(
            channel.failover.health(),
            {
                "state": "failover",
                "active": "udp://@239.1.1.2:5000",
                "switches": 1,
                "sources": [
                    {"url": "http://a.example/…", "last_error": "no packets for 0.5 s"},
                    {"url": "udp://@239.1.1.2:5000", "last_error": None},
                ],
                "active_health": {},
            },
        )

    def test_an_ended_source_fails_over_at_once(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        sink = channel.made[0].sink
        assert sink is not None
        sink.source_ended("upstream closed")
        self.assertEqual(channel.started_at[-1], (B, channel.clock.seconds()))
        self.assertEqual(channel.failover.last_errors[0], "upstream closed")
        before = len(channel.out.data())
        channel.run(1.0)
        self.assertSpliced(channel.out.data(), before, clip("b"))

    def test_back_to_the_preferred_source_once_it_recovers(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.discard(A)
        channel.run(1.0)  # on B from about 1.6 s
        channel.alive.add(A)
        switched_at = channel.clock.seconds()
        channel.run(1.0)
        # A is not tried again before recheck_interval
        self.assertEqual([url for url, _ in channel.started_at], [A, B])
        self.assertEqual(channel.failover.active_url, "udp://@239.1.1.2:5000")
        before = len(channel.out.data())
        channel.run(3.0)
        url, retried_at = channel.started_at[-1]
        self.assertEqual(url, A)
        self.assertGreater(retried_at, switched_at)
        self.assertEqual(channel.failover.state, "live")
        self.assertEqual(channel.failover.switches, 2)
        self.assertTrue(channel.current(B).stopped)
        out = channel.out.data()
        a_again = next(
            off
            for off in range(before, len(out), PACKET_SIZE)
            if without_cc(out[off : off + 2 * PACKET_SIZE])
            == without_cc(psi_of(clip("a")).psi_packets)
        )
        self.assertSpliced(out, a_again, clip("a"))
        # A's PIDs came back with other counters: rewritten to carry on.
        self.assertContinuous(out)

    def test_a_returning_source_must_deliver_steadily(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.discard(A)
        channel.run(3.0)  # on B from about 2 s; A retried 1.5 s later, and stalls
        self.assertEqual([url for url, _ in channel.started_at], [A, B, A])
        channel.run(1.0)
        self.assertTrue(channel.current(A).stopped)
        self.assertEqual(channel.failover.active_url, "udp://@239.1.1.2:5000")

    def test_every_source_down_plays_the_slate(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.clear()
        channel.run(1.5)
        self.assertEqual(channel.failover.state, "slate")
        self.assertEqual(channel.failover.active_url, "slate")
        before = len(channel.out.data())
        channel.run(1.0)
        out = channel.out.data()
        self.assertGreater(len(out) - before, 10_000)  # about 100 kbit/s, sent ahead
        self.assertIn(b"xrelay slate", out[before:])  # its service name
        self.assertContinuous(out)
        self.assertEqual(channel.failover.last_errors, ["no packets for 0.5 s"] * 2)

    def test_a_source_that_comes_back_replaces_the_slate(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.clear()
        channel.run(1.5)
        channel.alive.add(B)
        channel.run(1.5)
        self.assertEqual(channel.failover.state, "failover")
        self.assertEqual(channel.failover.active_url, "udp://@239.1.1.2:5000")
        self.assertEqual(channel.out.ended, [])
        self.assertContinuous(channel.out.data())

    def test_the_slate_plays_for_slate_timeout_then_the_channel_ends(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.clear()
        channel.run(1.5)
        self.assertEqual(channel.out.ended, [])
        channel.run(2.0)
        self.assertEqual(channel.out.ended, ["every source down for 2 s"])
        self.assertEqual(channel.failover.state, "down")
        self.assertTrue(all(s.stopped for s in channel.made))
        size = len(channel.out.data())
        channel.run(0.5)
        self.assertEqual(len(channel.out.data()), size)

    def test_without_a_slate_the_channel_ends_when_every_source_is_down(
        self,
    ) -> None:
        channel = Channel({A: clip("a")}, tuned(slate_timeout=0))
        channel.run(0.5)
        channel.alive.clear()
        channel.run(1.0)
        self.assertEqual(channel.out.ended, ["every source is down"])

    def test_a_missing_slate_keeps_the_viewers_waiting(self) -> None:
        channel = Channel({A: clip("a")}, tuned(slate_path="/nonexistent.ts"))
        channel.run(0.5)
        channel.alive.clear()
        channel.run(1.0)
        self.assertEqual(channel.failover.state, "slate")
        self.assertEqual(channel.out.ended, [])
        channel.run(2.0)
        self.assertEqual(len(channel.out.ended), 1)

    def test_a_source_that_cannot_be_made_is_skipped(self) -> None:
        clock = Clock()
        made: list[FakeSource] = []

        def make(url: str) -> FakeSource:
            if url == "bad:":
                raise ValueError("unsupported scheme")
            made.append(FakeSource(url))
            return made[-1]

        failover = FailoverSource(["bad:", B], make, clock, SETTINGS)
        failover.start(PacketRecorder())
        self.assertEqual([s.url for s in made], [B])
        self.assertEqual(
            failover.last_errors, ["cannot make the source: unsupported scheme", None]
        )
        failover.stop()

    def test_stop_stops_every_source_started(self) -> None:
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.discard(A)
        channel.run(2.0)
        channel.alive.add(A)
        channel.run(1.2)  # A is being tried again, B plays
        self.assertEqual([s.stopped for s in channel.made], [True, False, False])
        d = channel.failover.stop()
        self.assertTrue(all(s.stopped for s in channel.made))
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(channel.failover.state, "down")
        self.assertFalse(channel.clock.getDelayedCalls())

    def test_a_passive_source_keeps_listening_and_takes_back_over(self) -> None:
        channel = PassiveChannel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.discard(A)
        channel.run(1.0)  # A stalls, B plays; A stays open for its sender
        self.assertEqual(channel.failover.active_url, "udp://@239.1.1.2:5000")
        self.assertFalse(channel.made[0].stopped)
        channel.alive.add(A)
        channel.run(3.0)  # its sender is back: A takes over, never restarted
        self.assertEqual(channel.failover.state, "live")
        self.assertEqual([url for url, _ in channel.started_at], [A, B])
        self.assertEqual([s.stopped for s in channel.made], [False, True])
        self.assertContinuous(channel.out.data())
        self.assertIsNone(self.successResultOf(channel.failover.stop()))
        self.assertTrue(all(s.stopped for s in channel.made))

    def test_a_passive_source_that_cannot_listen_is_dropped(self) -> None:
        channel = PassiveChannel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.discard(A)
        channel.run(1.0)
        sink = channel.made[0].sink
        assert sink is not None
        sink.source_ended("cannot listen: address in use")
        self.assertTrue(channel.made[0].stopped)
        self.assertEqual(
            channel.failover.last_errors[0], "cannot listen: address in use"
        )

    def test_a_stream_without_video_switches_at_once(self) -> None:
        channel = Channel({A: clip("a"), RADIO: clip("radio")})
        channel.run(1.0)
        before = len(channel.out.data())
        channel.alive.discard(A)
        channel.run(1.0)
        out = channel.out.data()
        self.assertEqual(channel.failover.active_url, "file:///r")
        psi = psi_of(clip("radio"))
        self.assertEqual(
            without_cc(out[before : before + 2 * PACKET_SIZE]),
            without_cc(psi.psi_packets),
        )
        self.assertContinuous(out)

    def test_a_source_without_keyframes_takes_over_after_keyframe_wait(self) -> None:
        b = clip("b")
        psi = psi_of(b)
        keyless = b"".join(
            b[off : off + PACKET_SIZE]
            for off in range(0, len(b), PACKET_SIZE)
            if not (
                pid(b, off) == psi.video_pid
                and is_random_access(b, off, psi.video_stream_type or 0)
            )
        )
        channel = Channel({A: clip("a"), B: keyless})
        channel.run(1.0)
        channel.alive.discard(A)
        channel.run(2.5)
        self.assertEqual(channel.failover.state, "failover")
        self.assertIsNone(channel.failover.active_url)
        channel.run(1.5)  # keyframe_wait after its first packet, at about 4.5 s
        self.assertEqual(channel.failover.active_url, "udp://@239.1.1.2:5000")

    def test_the_output_decodes_cleanly(self) -> None:
        """A -> B -> A through ffmpeg: no continuity or decoding errors."""
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.discard(A)
        channel.run(2.0)
        channel.alive.add(A)
        channel.run(4.0)
        self.assertEqual(channel.failover.switches, 2)
        self.assertDecodesCleanly(channel.out.data())

    def test_the_output_through_the_slate_decodes_cleanly(self) -> None:
        """A -> slate -> B through ffmpeg (the slate is 640x360, A and B
        320x240)."""
        channel = Channel({A: clip("a"), B: clip("b")})
        channel.run(1.0)
        channel.alive.clear()
        channel.run(1.5)
        channel.alive.add(B)
        channel.run(1.5)
        self.assertEqual(channel.failover.switches, 2)
        self.assertDecodesCleanly(channel.out.data())

    def assertDecodesCleanly(self, data: bytes) -> None:
        path = Path(self.mktemp())
        path.write_bytes(data)
        self.assertEqual(ffmpeg_errors(path), [])


def ffmpeg_errors(path: Path) -> list[str]:
    """What ffmpeg warns about decoding ``path`` (continuity, corrupt
    packets, broken frames...), less the timestamp jumps a switch makes."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None
    result = subprocess.run(
        [ffmpeg, "-v", "warning", "-nostdin", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return [
        line
        for line in result.stderr.splitlines()
        if "timestamp discontinuity" not in line.lower()
    ]


def tuned(**changes: Any) -> FailoverSettings:
    return attrs.evolve(SETTINGS, **changes)


class SlateTests(SynchronousTestCase):
    def play(self, seconds: float) -> bytes:
        clock = Clock()
        out = PacketRecorder()
        slate = SlateSource(default_slate_path(), clock)
        slate.start(out)
        clock.pump([0.02] * round(seconds / 0.02))
        slate.stop()
        self.assertEqual(out.ended, [])
        return out.data()

    def test_loops_as_one_continuous_stream(self) -> None:
        data = self.play(8.0)
        self.assertGreater(len(data), 3 * Path(default_slate_path()).stat().st_size)
        checker = ContinuityChecker()
        checker.feed(data)
        self.assertEqual(checker.errors, {})
        psi = psi_of(data)
        assert psi.video_pid is not None and psi.pcr_pid is not None
        clock = [pcr(data, off) for off in offsets(data, psi.pcr_pid)]
        values = [v for v in clock if v is not None]
        self.assertEqual(values, sorted(values))
        for stream in psi.pmts[next(iter(psi.pat))].streams:
            decode = [
                pts if dts is None else dts
                for pts, dts in (
                    parse_pes_timestamps(data, off) for off in offsets(data, stream.pid)
                )
                if pts is not None
            ]
            self.assertEqual(decode, sorted(set(decode)), stream.codec)

    def test_loops_cleanly_for_ffmpeg(self) -> None:
        path = Path(self.mktemp())
        path.write_bytes(self.play(8.0))
        self.assertEqual(ffmpeg_errors(path), [])

    def test_a_missing_file_ends_at_once(self) -> None:
        out = PacketRecorder()
        SlateSource("/nonexistent/slate.ts", Clock()).start(out)
        self.assertEqual(len(out.ended), 1)
        self.assertIn("/nonexistent/slate.ts", out.ended[0])

    def test_the_shipped_slate_is_small(self) -> None:
        self.assertLess(Path(default_slate_path()).stat().st_size, 300_000)


class SplicerTests(SynchronousTestCase):
    def test_the_first_source_passes_untouched(self) -> None:
        splicer = _Splicer()
        splicer.next_source(None)
        data = clip("a")[: 70 * PACKET_SIZE]
        self.assertEqual(splicer.feed(data), data)
        batch = clip("a")[70 * PACKET_SIZE : 77 * PACKET_SIZE]
        self.assertIs(splicer.feed(batch), batch)  # no copy

    def test_counters_carry_on_across_a_switch_on_the_same_pids(self) -> None:
        a = clip("a")
        splicer = _Splicer()
        splicer.next_source(None)
        first = splicer.feed(a[: 300 * PACKET_SIZE])
        splicer.next_source(psi_of(a).pcr_pid)
        # the same stream again, from a point with other counters
        second = splicer.feed(a[1000 * PACKET_SIZE : 1300 * PACKET_SIZE])
        checker = ContinuityChecker()
        checker.feed(first + second)
        self.assertEqual(checker.errors, {})
        self.assertNotEqual(
            continuity_counter(second, 0), continuity_counter(a, 1000 * PACKET_SIZE)
        )


class FrameStartTests(SynchronousTestCase):
    def packet(self, header: bytes) -> bytes:
        return b"\x47" + header + b"\x10" + b"\xff" * 184

    def test_finds_the_last_pes_start_on_the_pid(self) -> None:
        start = self.packet(b"\x41\x00")  # PUSI, PID 0x100
        middle = self.packet(b"\x01\x00")
        other = self.packet(b"\x41\x01")
        data = start + middle + start + other + middle
        self.assertEqual(_last_frame_start(data, 0x100), 2 * PACKET_SIZE)
        self.assertIsNone(_last_frame_start(middle + other, 0x100))

    def test_ignores_bytes_that_match_across_two_packets(self) -> None:
        # PID 0x0041 then PID 0x0000: "41 00" straddles the two headers
        straddle = self.packet(b"\x00\x41") + self.packet(b"\x00\x00")
        self.assertIsNone(_last_frame_start(straddle, 0x100))
        start = self.packet(b"\x41\x00")
        self.assertEqual(_last_frame_start(start + straddle, 0x100), 0)


class DisplayUrlTests(SynchronousTestCase):
    def test_no_secrets(self) -> None:
        cases = {
            "http://u:p@h.example:8080/live/u/p/1.ts?token=x": "http://h.example:8080/…",
            "https://h.example": "https://h.example",
            "udp://10.0.0.1@239.1.1.1:5000": "udp://10.0.0.1@239.1.1.1:5000",
            "exec:ffmpeg -i http://u:p@h/x -f mpegts -": (
                "exec:ffmpeg -i http://h/… -f mpegts -"
            ),
            "file:///srv/tv/a.ts": "file:///srv/tv/a.ts",
        }
        for url, shown in cases.items():
            self.assertEqual(display_url(url), shown)
