"""The segmenter: where it cuts, how long it says a segment is, and when
it flags a discontinuity."""

from __future__ import annotations

import functools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.demo import demo_media_path
from xrelay.hls import Cut, Segmenter
from xrelay.ingest import FailoverSettings, FailoverSource
from xrelay.ingest._slate import default_slate_path
from xrelay.mpegts import (
    PACKET_SIZE,
    PsiTracker,
    is_random_access,
    parse_pes_timestamps,
    pid,
)
from xrelay.testing import FakeSource, PacketRecorder

from ._streams import (
    AUDIO,
    FRAME,
    PMT_PID,
    VIDEO,
    chunks,
    looped_demo,
    psi,
    synthetic,
)

BIG = 64 * 1024 * 1024


def cut_all(data: bytes, target: float = 4.0, packets: int = 7) -> list[Cut]:
    segmenter = Segmenter(target, BIG)
    return [cut for chunk in chunks(data, packets) for cut in segmenter.feed(chunk)]


def body(cut: Cut) -> bytes:
    """A segment without the PAT/PMT the segmenter put first."""
    off = 0
    while pid(cut.data, off) in (0, PMT_PID):
        off += PACKET_SIZE
    return cut.data[off:]


def frame_offsets(data: bytes, on_pid: int = VIDEO) -> list[int]:
    """Where each PES on ``on_pid`` starts."""
    return [
        off
        for off in range(0, len(data), PACKET_SIZE)
        if pid(data, off) == on_pid and data[off + 1] & 0x40
    ]


def keyframe_times(data: bytes) -> list[int]:
    """The PTS of every video keyframe."""
    return [
        pts
        for off in frame_offsets(data)
        if is_random_access(data, off, 0x1B)
        and (pts := parse_pes_timestamps(data, off)[0]) is not None
    ]


@functools.cache
def demo_stream() -> bytes:
    return looped_demo(30)


class CuttingTests(SynchronousTestCase):
    def test_cuts_at_the_first_keyframe_past_the_target(self) -> None:
        cuts = cut_all(synthetic(25 * 21, gop=25))  # 21 s, a keyframe a second
        self.assertEqual([c.duration for c in cuts], [4.0] * 5)
        self.assertEqual([c.discontinuity for c in cuts], [False] * 5)
        for cut in cuts:
            self.assertEqual(cut.data[: len(psi())], psi(), "PAT/PMT first")
            first = body(cut)
            self.assertEqual(pid(first, 0), VIDEO)
            self.assertTrue(is_random_access(first, 0, 0x1B), "then a keyframe")

    def test_segments_hold_every_packet_once_in_order(self) -> None:
        data = synthetic(25 * 13, gop=25)
        cuts = cut_all(data)
        joined = b"".join(body(c) for c in cuts)
        start = data.index(body(cuts[0])[:PACKET_SIZE])
        self.assertEqual(joined, data[start : start + len(joined)])

    def test_sparse_keyframes_make_longer_segments(self) -> None:
        cuts = cut_all(synthetic(25 * 20, gop=75))  # a keyframe every 3 s
        self.assertEqual([c.duration for c in cuts], [6.0, 6.0, 6.0])

    def test_a_shorter_target(self) -> None:
        cuts = cut_all(synthetic(25 * 11, gop=25), target=2.0)
        self.assertEqual([c.duration for c in cuts], [2.0] * 5)

    def test_waits_for_a_keyframe_before_the_first_segment(self) -> None:
        data = synthetic(25 * 11, gop=25)
        late = psi() + data[frame_offsets(data)[5] :]  # joined mid-GOP
        cuts = cut_all(late)
        self.assertEqual([c.duration for c in cuts], [4.0, 4.0])
        first = body(cuts[0])
        self.assertTrue(is_random_access(first, 0, 0x1B))
        self.assertEqual(parse_pes_timestamps(first, 0)[0], 90_000 + 25 * FRAME)

    def test_nothing_until_the_pmt_is_known(self) -> None:
        data = synthetic(25 * 6)
        segmenter = Segmenter(4.0, BIG)
        without_psi = b"".join(
            data[off : off + PACKET_SIZE]
            for off in range(0, len(data), PACKET_SIZE)
            if pid(data, off) not in (0, PMT_PID)
        )
        self.assertEqual(segmenter.feed(without_psi), [])
        self.assertEqual(segmenter.pending_bytes, 0)
        self.assertIsNone(segmenter.finish())

    def test_radio_cuts_on_its_audio(self) -> None:
        cuts = cut_all(synthetic(25 * 9, video=False))
        self.assertEqual([c.duration for c in cuts], [4.0, 4.0])
        self.assertEqual(pid(body(cuts[0]), 0), AUDIO)

    def test_timestamps_wrapping_at_33_bits(self) -> None:
        cuts = cut_all(synthetic(25 * 13, start=(1 << 33) - 5 * 90_000))
        self.assertEqual([c.duration for c in cuts], [4.0, 4.0, 4.0])
        self.assertEqual([c.discontinuity for c in cuts], [False] * 3)

    def test_finish_cuts_the_last_segment_at_its_last_frame(self) -> None:
        segmenter = Segmenter(4.0, BIG)
        cuts = segmenter.feed(synthetic(25 * 6 + 10))  # 6.4 s
        self.assertEqual([c.duration for c in cuts], [4.0])
        last = segmenter.finish()
        assert last is not None
        self.assertAlmostEqual(last.duration, 2.4)
        self.assertIsNone(segmenter.finish())

    @given(st.lists(st.integers(1, 60), min_size=1, max_size=80))
    @settings(max_examples=40, deadline=None)
    def test_any_batch_sizes_give_the_same_segments(self, sizes: list[int]) -> None:
        data = synthetic(25 * 9, gop=25, flagged={130})
        expected = cut_all(data, packets=len(data))
        segmenter = Segmenter(4.0, BIG)
        got, pos, i = [], 0, 0
        while pos < len(data):
            size = sizes[i % len(sizes)] * PACKET_SIZE
            got += segmenter.feed(data[pos : pos + size])
            pos += size
            i += 1
        self.assertEqual(got, expected)


class DiscontinuityTests(SynchronousTestCase):
    def test_a_flagged_keyframe_cuts_at_once_and_is_marked(self) -> None:
        # frame 150 (6 s) is a keyframe carrying the discontinuity_indicator
        data = synthetic(25 * 15, gop=25, flagged={150})  # timestamps go on
        cuts = cut_all(data)
        self.assertEqual([c.duration for c in cuts], [4.0, 2.0, 4.0, 4.0])
        self.assertEqual([c.discontinuity for c in cuts], [False, False, True, False])

    def test_a_flag_before_a_keyframe_cuts_at_that_keyframe(self) -> None:
        # a flag on frame 140 (not a keyframe), and a new time base from it
        data = synthetic(25 * 15, gop=25, flagged={140}, jumps={140: 90_000 * 100})
        cuts = cut_all(data)
        self.assertEqual([c.duration for c in cuts], [4.0, 2.0, 4.0, 4.0])
        self.assertEqual([c.discontinuity for c in cuts], [False, False, True, False])

    def test_an_unflagged_jump_is_a_discontinuity_too(self) -> None:
        for jump in (-90_000 * 3, 90_000 * 30):
            cuts = cut_all(synthetic(25 * 15, gop=25, jumps={150: jump}))
            self.assertEqual([c.duration for c in cuts], [4.0, 2.0, 4.0, 4.0], jump)
            flags = [c.discontinuity for c in cuts]
            self.assertEqual(flags, [False, False, True, False])

    def test_small_steps_are_not(self) -> None:
        cuts = cut_all(synthetic(25 * 13, gop=25, jumps={60: 90_000, 70: -9000}))
        self.assertEqual([c.discontinuity for c in cuts], [False] * 3)

    def test_a_segment_too_big_is_dropped_and_the_next_flagged(self) -> None:
        data = synthetic(25 * 30, gop=250)  # a keyframe every 10 s
        limit = 500 * PACKET_SIZE  # 5 s of this stream
        segmenter = Segmenter(4.0, limit)
        cuts = [cut for chunk in chunks(data) for cut in segmenter.feed(chunk)]
        self.assertLessEqual(segmenter.pending_bytes, limit)
        self.assertEqual(cuts, [])
        more = synthetic(25 * 10, gop=25, start=90_000 + 25 * 30 * 3600)
        cuts = [cut for chunk in chunks(more) for cut in segmenter.feed(chunk)]
        self.assertEqual([c.duration for c in cuts], [4.0, 4.0])
        self.assertEqual([c.discontinuity for c in cuts], [True, False])

    def test_a_failover_switch_is_a_discontinuity(self) -> None:
        """The real failover splices the demo clip and the slate; the
        segment after the switch is flagged and starts with the slate's
        keyframe."""
        clock = Clock()
        sources: list[FakeSource] = []

        def make(url: str) -> FakeSource:
            sources.append(FakeSource(url))
            return sources[-1]

        failover = FailoverSource(
            ["a://", "b://"], make, clock, FailoverSettings(slate_timeout=0)
        )
        out = PacketRecorder()
        failover.start(out)
        demo = demo_media_path().read_bytes()
        slate = Path(default_slate_path()).read_bytes()
        first_sink = sources[0].sink
        assert first_sink is not None
        for chunk in chunks(demo):
            first_sink.write_packets(chunk)
        first_sink.source_ended("gone")
        second_sink = sources[1].sink
        assert second_sink is not None
        for chunk in chunks(slate):
            second_sink.write_packets(chunk)
        self.assertEqual(failover.switches, 1)

        failover.stop()
        segmenter = Segmenter(4.0, BIG)
        cuts = [c for chunk in chunks(out.data()) for c in segmenter.feed(chunk)]
        last = segmenter.finish()
        assert last is not None
        cuts.append(last)
        self.assertEqual([c.discontinuity for c in cuts], [False, False, False, True])
        # the demo's 250 frames from its first keyframe on, less the last,
        # which failover held back until the next frame that never came
        self.assertEqual(keyframe_times(demo)[0], 1.48 * 90_000)
        self.assertEqual([c.duration for c in cuts[:3]], [4.0, 4.0, 1.96])
        # the slate from its first keyframe on
        first = body(cuts[3])
        self.assertEqual(parse_pes_timestamps(first, 0)[0], keyframe_times(slate)[0])
        self.assertEqual(cuts[3].duration, 2.56)  # 64 frames, the last held back


class RealStreamTests(SynchronousTestCase):
    def test_the_demo_looped(self) -> None:
        data = demo_stream()
        cuts = cut_all(data)
        self.assertGreaterEqual(len(cuts), 6)
        self.assertEqual({c.duration for c in cuts}, {4.0})
        self.assertEqual({c.discontinuity for c in cuts}, {False})
        for cut in cuts:
            tracker = PsiTracker()
            tracker.feed(cut.data[: PACKET_SIZE * 2])
            self.assertEqual(tracker.video_pid, 0x100, "PAT and PMT lead")
