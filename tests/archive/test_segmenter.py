"""Cutting packets into segments at keyframes, with seek points."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.archive._stream import FPS, PTS0, VIDEO, Stream, video_pts_at
from tests.mpegts._tsbuild import packet, pes
from xrelay.archive import Point, Segmenter
from xrelay.archive._segmenter import Event, Open, keyframes
from xrelay.mpegts import PACKET_SIZE, PsiTracker

Files = list[tuple[Open, bytes, list[Point]]]


def files_of(events: list[Event]) -> Files:
    """The segment files the events describe: (open, bytes, points)."""
    files: Files = []
    for event in events:
        if isinstance(event, Open):
            files.append((event, event.psi, []))
        elif isinstance(event, bytes):
            opened, data, points = files[-1]
            files[-1] = (opened, data + event, points)
        else:
            files[-1][2].append(event)
    return files


def feed_seconds(
    segmenter: Segmenter, stream: Stream, seconds: int, frames_per_write: int = 5
) -> list[Event]:
    """Feed the stream a write at a time, each at its stream time."""
    events: list[Event] = []
    for _ in range(seconds * FPS // frames_per_write):
        now = stream.frame / FPS
        events += segmenter.feed(stream.frames(frames_per_write), now)
    return events


class SegmenterTests(SynchronousTestCase):
    def test_nothing_before_the_pmt_and_a_keyframe(self) -> None:
        stream = Stream()
        stream.frame = 3  # joins mid-GOP: no PAT/PMT yet, no keyframe
        segmenter = Segmenter(10)
        self.assertEqual(segmenter.feed(stream.frames(FPS - 3), 0.0), [])
        events = segmenter.feed(stream.frames(5), 1.0)
        opened = events[0]
        assert isinstance(opened, Open)
        self.assertEqual(opened.wall, 1.0)
        self.assertEqual(events[1], Point(1.0, PTS0 + FPS * 3600, len(opened.psi)))
        psi = PsiTracker()
        psi.feed(opened.psi)
        self.assertEqual(psi.video_pid, VIDEO)

    def test_segments_start_with_psi_and_a_keyframe_and_are_cut_in_time(
        self,
    ) -> None:
        segmenter = Segmenter(4)
        files = files_of(feed_seconds(segmenter, Stream(), 13))
        self.assertEqual([opened.wall for opened, _, _ in files], [0.0, 4.0, 8.0, 12.0])
        for opened, data, points in files:
            head = len(opened.psi)
            self.assertEqual(points[0].offset, head)
            self.assertEqual(video_pts_at(data, head), points[0].pts)
            self.assertEqual(points[0].wall, opened.wall)

    def test_a_point_a_second_at_each_keyframe(self) -> None:
        segmenter = Segmenter(60)
        [(_, data, points)] = files_of(feed_seconds(segmenter, Stream(), 10))
        self.assertEqual([p.wall for p in points], [float(s) for s in range(10)])
        for second, point in enumerate(points):
            self.assertEqual(point.pts, PTS0 + second * 90_000)
            self.assertEqual(video_pts_at(data, point.offset), point.pts)

    def test_short_gops_give_points_a_second_apart(self) -> None:
        segmenter = Segmenter(60)
        stream = Stream(gop=5)
        [(_, _, points)] = files_of(feed_seconds(segmenter, stream, 5, 5))
        self.assertEqual([p.wall for p in points], [0.0, 1.0, 2.0, 3.0, 4.0])

    def test_the_bytes_are_the_stream_from_the_first_keyframe(self) -> None:
        stream = Stream()
        whole = stream.seconds(6)
        segmenter = Segmenter(2)
        events = []
        for second in range(6):
            part = whole[second * len(whole) // 6 : (second + 1) * len(whole) // 6]
            part = part[: len(part) - len(part) % PACKET_SIZE] if second < 5 else part
            events += segmenter.feed(part, float(second))
        recorded = b"".join(e for e in events if isinstance(e, bytes))
        self.assertTrue(whole.endswith(recorded))

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
    def test_write_sizes_do_not_change_what_is_recorded(self, sizes: list[int]) -> None:
        data = Stream().seconds(3)
        reference = files_of(Segmenter(100).feed(data, 0.0))
        segmenter = Segmenter(100)
        events: list[Event] = []
        pos = 0
        for size in itertools.cycle(sizes):
            if pos >= len(data):
                break
            events += segmenter.feed(data[pos : pos + size * PACKET_SIZE], 0.0)
            pos += size * PACKET_SIZE
        [(opened, recorded, _)] = files_of(events)
        # The head is the PAT/PMT in force (its continuity counters vary).
        head = len(opened.psi)
        self.assertEqual(head, len(reference[0][0].psi))
        self.assertEqual(recorded[head:], reference[0][1][head:])

    def test_reset_starts_over_at_the_next_keyframe(self) -> None:
        stream = Stream()
        segmenter = Segmenter(60)
        segmenter.feed(stream.seconds(1.2), 0.0)
        segmenter.reset()
        self.assertFalse(segmenter.recording)
        self.assertEqual(segmenter.feed(stream.seconds(0.6), 1.2), [])
        events = segmenter.feed(stream.seconds(0.4), 2.0)
        self.assertIsInstance(events[0], Open)
        self.assertEqual(events[1], Point(2.0, PTS0 + 2 * 90_000, len(events[0].psi)))  # type: ignore[union-attr]

    def test_a_new_pmt_starts_a_new_segment(self) -> None:
        stream = Stream()
        segmenter = Segmenter(60)
        segmenter.feed(stream.seconds(2), 0.0)
        stream.pmt_version = 1
        events = segmenter.feed(stream.seconds(1), 2.0)
        # The new PAT/PMT ends the old segment; the new one starts with them.
        [old_tail, opened, *_] = events
        assert isinstance(old_tail, bytes) and isinstance(opened, Open)
        self.assertEqual(old_tail, opened.psi)

    def test_radio_is_cut_and_pointed_anywhere(self) -> None:
        stream = Stream(with_video=False)
        segmenter = Segmenter(2)
        files = files_of(feed_seconds(segmenter, stream, 5))
        self.assertEqual([opened.wall for opened, _, _ in files], [0.0, 2.0, 4.0])
        self.assertEqual([p.wall for p in files[0][2]], [0.0, 1.0])
        self.assertIsNone(files[0][2][0].pts)


class KeyframeScanTests(SynchronousTestCase):
    def test_finds_idr_starts_only(self) -> None:
        data = Stream(gop=2).frames(4)
        found = keyframes(data, VIDEO, 0x1B)
        self.assertEqual([pts for _, pts in found], [PTS0, PTS0 + 2 * 3600])
        for off, pts in found:
            self.assertEqual(video_pts_at(data, off), pts)

    def test_transport_priority_and_random_access_flag(self) -> None:
        flagged = bytearray(
            packet(VIDEO, pes(b"\x00" * 20, pts=1234), pusi=True, rai=True)
        )
        flagged[1] |= 0x20  # transport_priority
        other_pid = packet(0x200, pes(b"\x00" * 20, pts=99), pusi=True, rai=True)
        data = other_pid + bytes(flagged)
        self.assertEqual(keyframes(data, VIDEO, 0x1B), [(PACKET_SIZE, 1234)])
