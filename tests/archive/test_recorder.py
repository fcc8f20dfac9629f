"""Recording to disk with a Clock, and reading the archive back at start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from tests.archive._stream import PTS0, Rig, video_pts_at, wall_of
from xrelay.archive import _files
from xrelay.archive._index import (
    end_line,
    header,
    parse_index,
    point_line,
    scan_segment,
)
from xrelay.archive._segmenter import Point
from xrelay.mpegts import PACKET_SIZE


class RecorderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = Path(self.mktemp())
        self.rig = Rig(self.root, segment_seconds=10)

    def segments(self) -> list[Any]:
        return self.rig.recordings.segments(1)

    def test_segments_land_in_day_directories_with_their_index(self) -> None:
        self.rig.record(25)
        self.successResultOf(self.rig.recorder.stop())
        segments = self.segments()
        self.assertEqual([s.start - self.rig.t0 for s in segments], [0.0, 10.0, 20.0])
        for segment in segments:
            ts_path, idx_path = self.rig.layout.of(segment)
            self.assertEqual(
                ts_path,
                str(self.root / "1" / "20231114" / f"{segment.name}.ts"),
            )
            data = Path(ts_path).read_bytes()
            self.assertEqual(len(data), segment.size)
            self.assertFalse(segment.recording)
            index = parse_index(Path(idx_path).read_text())
            assert index is not None
            self.assertEqual(index.end, segment.end)
            self.assertEqual(index.size, segment.size)
            for point in index.points:  # every point is a keyframe of its time
                self.assertEqual(video_pts_at(data, point.offset), point.pts)
                assert point.pts is not None
                self.assertEqual(point.wall, wall_of(point.pts, self.rig.t0))

    def test_only_what_is_written_is_visible(self) -> None:
        written: list[Deferred[None]] = []

        def held(f: Any, *args: Any) -> Deferred[None]:
            d: Deferred[None] = Deferred()
            d.addCallback(lambda _: f(*args))
            written.append(d)
            return d

        self.rig.disk.write = held  # type: ignore[method-assign]
        self.rig.record(3)
        [segment] = self.segments()
        self.assertTrue(segment.recording)
        self.assertEqual((segment.size, segment.points), (0, []))
        self.assertGreater(self.rig.recorder.backlog, 0)
        for d in written:
            d.callback(None)
        self.assertEqual(self.rig.recorder.backlog, 0)
        self.assertEqual(segment.size, os.path.getsize(self.rig.layout.of(segment)[0]))
        self.assertEqual(
            [p.pts for p in segment.points or []][:3],
            [PTS0, PTS0 + 90_000, PTS0 + 180_000],
        )

    def test_a_slow_disk_costs_a_gap_not_memory(self) -> None:
        written: list[tuple[Deferred[None], Any, tuple[Any, ...]]] = []

        def held(f: Any, *args: Any) -> Deferred[None]:
            d: Deferred[None] = Deferred()
            written.append((d, f, args))
            return d

        recorder = self.rig.recorder
        recorder._max_backlog = 200_000
        self.rig.disk.write = held  # type: ignore[method-assign]
        self.rig.record(20)
        self.assertLessEqual(recorder.backlog, 200_000 + 2 * 65_000)
        self.assertGreater(recorder.dropped_bytes, 0)
        for d, f, args in written:
            f(*args)
            d.callback(None)
        written.clear()
        self.assertEqual(recorder.backlog, 0)
        self.rig.disk.write = type(self.rig.disk)().write  # type: ignore[method-assign]
        self.rig.record(3)
        self.successResultOf(recorder.stop())
        *_, before, after = self.segments()
        self.assertGreater(after.start, before.end + 1, "recording resumes after a gap")
        self.assertEqual(after.points, None)
        self.assertEqual(after.size, os.path.getsize(self.rig.layout.of(after)[0]))

    def test_a_failed_write_ends_the_segment(self) -> None:
        self.rig.record(2)
        self.rig.disk.write = lambda f, *a: fail(OSError(28, "No space left on device"))  # type: ignore[method-assign,assignment]
        self.rig.record(2)
        self.flushLoggedErrors(OSError)
        [segment] = self.segments()
        self.assertFalse(segment.recording)
        self.rig.disk.write = type(self.rig.disk)().write  # type: ignore[method-assign]
        self.rig.record(2)
        self.assertEqual(len(self.segments()), 2)


class LoadTests(SynchronousTestCase):
    """What a restart finds: the index files, repaired where needed."""

    def setUp(self) -> None:
        self.root = Path(self.mktemp())
        self.rig = Rig(self.root, segment_seconds=10)
        self.rig.record(25)
        self.successResultOf(self.rig.recorder.stop())
        self.recorded = [
            (s.name, s.start, s.end, s.size, s.psi_bytes)
            for s in self.rig.recordings.segments(1)
        ]

    def load(self) -> list[tuple[int, float, float, int, int]]:
        segments = _files.load(self.rig.layout)
        return sorted((s.name, s.start, s.end, s.size, s.psi_bytes) for s in segments)

    def test_a_restart_finds_every_segment(self) -> None:
        self.assertEqual(self.load(), self.recorded)

    def test_an_unfinished_index_is_completed(self) -> None:
        segment = self.rig.recordings.segments(1)[-1]
        _, idx_path = self.rig.layout.of(segment)
        text = Path(idx_path).read_text()
        Path(idx_path).write_text(text[: text.rindex("E ")] + "P 1700000")  # crash
        [*_, last] = self.load()
        index = parse_index(Path(idx_path).read_text())
        assert index is not None
        self.assertEqual(last[3], segment.size)
        self.assertEqual(last[2], index.points[-1].wall)
        self.assertEqual(index.end, last[2])

    def test_a_lost_index_is_rebuilt_from_the_segment(self) -> None:
        segment = self.rig.recordings.segments(1)[1]
        ts_path, idx_path = self.rig.layout.of(segment)
        original = parse_index(Path(idx_path).read_text())
        os.unlink(idx_path)
        with open(ts_path, "ab") as f:
            f.write(b"\x47\x00")  # a crash in mid-packet
        self.assertEqual(len(self.load()), 3)
        rebuilt = parse_index(Path(idx_path).read_text())
        assert original is not None and rebuilt is not None
        self.assertEqual(
            [(p.pts, p.offset) for p in rebuilt.points],
            [(p.pts, p.offset) for p in original.points],
        )
        self.assertEqual(rebuilt.start, segment.name)
        self.assertEqual(rebuilt.size, segment.size)

    def test_foreign_and_empty_files_are_left_or_dropped(self) -> None:
        day = self.root / "1" / "20231114"
        (day / "notes.txt").write_text("mine")
        (self.root / "lost+found").mkdir()
        (day / "1700000999.ts").write_bytes(b"")
        self.assertEqual(self.load(), self.recorded)
        self.assertTrue((day / "notes.txt").exists())
        self.assertFalse((day / "1700000999.ts").exists())

    def test_remove_deletes_empty_directories(self) -> None:
        for segment in self.rig.recordings.segments(1):
            _files.remove(*self.rig.layout.of(segment))
        self.assertEqual(list(self.root.iterdir()), [])


class IndexFormatTests(SynchronousTestCase):
    def test_round_trip_and_a_cut_last_line(self) -> None:
        text = (
            header(100.5, 376)
            + point_line(Point(100.5, 900_000, 376))
            + point_line(Point(101.5, None, 5000))
            + end_line(102.25, 9400)
        )
        index = parse_index(text)
        assert index is not None
        self.assertEqual((index.start, index.psi_bytes), (100.5, 376))
        self.assertEqual(
            index.points, (Point(100.5, 900_000, 376), Point(101.5, None, 5000))
        )
        self.assertEqual((index.end, index.size), (102.25, 9400))
        cut = parse_index(text[:-12])
        assert cut is not None
        self.assertEqual((len(cut.points), cut.end), (2, None))

    def test_not_ours(self) -> None:
        self.assertIsNone(parse_index("something else\n"))
        self.assertIsNone(parse_index("xrelay-archive-index 2 1 2\n"))
        self.assertIsNone(parse_index("xrelay-archive-index 1 x 2\n"))

    def test_scan_without_video_points_at_the_start(self) -> None:
        index = scan_segment([b"\x47\x1f\xff\x10" + b"\xff" * 184], 50.0)
        self.assertEqual(index.points, (Point(50.0, None, 0),))
        self.assertEqual(index.size, PACKET_SIZE)
