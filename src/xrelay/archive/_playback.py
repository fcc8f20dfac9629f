"""Playing a stretch of a channel's recording back, as one TS stream."""

from __future__ import annotations

import bisect

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from xrelay.archive import _files
from xrelay.archive._disk import Disk
from xrelay.archive._index import Layout, Segment
from xrelay.archive._recordings import Recordings
from xrelay.archive._segmenter import Point

# While playing up to the edge of a segment still being recorded, look for
# more this often; give up when it stopped growing for TAIL_TIMEOUT.
TAIL_POLL = 1.0
TAIL_TIMEOUT = 30.0


class Playback:
    """Reads the recording of one channel from ``start`` to ``end`` (epoch
    seconds) in pieces (``read``).

    It starts at the last seek point (keyframe) at or before ``start``,
    preceded by its segment's PAT/PMT, so a player decodes from the first
    byte; it goes on through the following segments (each begins with its
    PAT/PMT and a keyframe; a gap in the recording is a jump in the
    timestamps) and stops at the first seek point at or after ``end``.
    Reaching the edge of the segment still being recorded, it waits for
    more (catch-up of a programme still on air).  Only bytes on disk are
    read: ``Segment.size`` and ``points`` grow once written.
    """

    def __init__(
        self,
        recordings: Recordings,
        layout: Layout,
        disk: Disk,
        clock: IReactorTime,
        first: Segment,
        end: float,
    ) -> None:
        self._recordings = recordings
        self._layout = layout
        self._disk = disk
        self._clock = clock
        self._segment: Segment | None = first
        self._pos = 0
        self._end = end
        self._cut: tuple[int, bool] | None = None  # (stop offset, ends here)
        self._head = b""  # PAT/PMT to send before the first seek point
        self._grew = clock.seconds()
        self.started_at: Point | None = None

    async def seek(self, start: float) -> None:
        """Begin at the seek point for ``start`` (called once, first)."""
        assert self._segment is not None
        segment = self._segment
        points = await self._points(segment)
        walls = [p.wall for p in points]
        point = points[max(bisect.bisect_right(walls, start) - 1, 0)]
        self.started_at = point
        if point.offset > segment.psi_bytes:
            self._head = await self._read(segment, 0, segment.psi_bytes)
            self._pos = point.offset

    async def read(self, size: int) -> bytes:
        """Up to ``size`` more bytes; b"" at the end."""
        if self._head:
            head, self._head = self._head, b""
            return head
        while self._segment is not None:
            segment = self._segment
            stop, ends_here = await self._stop_of(segment)
            if self._pos < stop:
                data = await self._read(segment, self._pos, min(size, stop - self._pos))
                if not data:  # deleted meanwhile (retention)
                    break
                self._pos += len(data)
                self._grew = self._clock.seconds()
                return data
            if ends_here:
                break
            following = self._recordings.after(segment)
            if following is not None and following.start < self._end:
                self._segment, self._pos, self._cut = following, 0, None
                continue
            if following is None and segment.recording and self._waits():
                await deferLater(self._clock, TAIL_POLL, lambda: None)
                continue
            break
        self._segment = None
        return b""

    def _waits(self) -> bool:
        now = self._clock.seconds()
        return now < self._end and now - self._grew < TAIL_TIMEOUT

    async def _stop_of(self, segment: Segment) -> tuple[int, bool]:
        """Where to stop reading ``segment``, and whether the playback ends
        there (``end`` falls in it).  A segment being recorded is asked
        again each time: it grows."""
        if self._cut is not None:
            return self._cut
        if segment.recording and segment.points is not None:
            cut = _cut_at(segment.points, self._end)
            return (segment.size, False) if cut is None else (cut, True)
        if segment.end <= self._end:
            self._cut = (segment.size, False)
        else:
            cut = _cut_at(await self._points(segment), self._end)
            self._cut = (segment.size, True) if cut is None else (cut, True)
        return self._cut

    async def _points(self, segment: Segment) -> list[Point]:
        if segment.points is not None:
            points = list(segment.points)
        else:
            _, idx_path = self._layout.of(segment)
            points = await self._disk.read(_files.read_points, idx_path)
        # A segment always starts playable at its head.
        return points or [Point(segment.start, None, 0)]

    def _read(self, segment: Segment, offset: int, size: int) -> Deferred[bytes]:
        ts_path, _ = self._layout.of(segment)
        d = self._disk.read(_files.read_range, ts_path, offset, size)
        d.addErrback(_nothing_if_gone)
        return d


def _nothing_if_gone(failure: Failure) -> bytes:
    failure.trap(OSError)  # deleted (retention) while playing
    return b""


def _cut_at(points: list[Point], end: float) -> int | None:
    """The offset of the first seek point at or after ``end``."""
    for point in points:
        if point.wall >= end:
            return point.offset
    return None
