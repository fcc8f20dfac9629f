"""The archive's index in memory: every channel's segments in time order."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator

from xrelay.archive._index import Segment

GAP_TOLERANCE = 5.0
"""Seconds between one segment's end and the next one's start still taken
as one unbroken recording (each segment starts where the last ended, give
or take the arrival jitter of its first packet)."""


def _start(segment: Segment) -> float:
    return segment.start


class Recordings:
    """Segments by channel, sorted by start.  Only the reactor thread
    touches this: the disk threads report back through Deferreds."""

    def __init__(self) -> None:
        self._channels: dict[int, list[Segment]] = {}

    def add(self, segment: Segment) -> None:
        segments = self._channels.setdefault(segment.channel_id, [])
        bisect.insort(segments, segment, key=_start)

    def remove(self, doomed: Iterable[Segment]) -> None:
        gone = set(doomed)
        for channel_id in {s.channel_id for s in gone}:
            kept = [s for s in self._channels.get(channel_id, []) if s not in gone]
            if kept:
                self._channels[channel_id] = kept
            else:
                self._channels.pop(channel_id, None)

    def __iter__(self) -> Iterator[Segment]:
        for segments in self._channels.values():
            yield from segments

    def segments(self, channel_id: int) -> list[Segment]:
        return list(self._channels.get(channel_id, ()))

    def last_name(self, channel_id: int) -> int:
        """The highest segment name of the channel (0: none)."""
        return max((s.name for s in self._channels.get(channel_id, ())), default=0)

    def total_size(self) -> int:
        return sum(s.size for s in self)

    def channel_ids(self) -> list[int]:
        return list(self._channels)

    def window(self, channel_id: int) -> tuple[float, float] | None:
        """(start, end) of what is recorded of the channel (gaps included),
        or None."""
        spans = self.spans(channel_id)
        return (spans[0][0], spans[-1][1]) if spans else None

    def spans(self, channel_id: int) -> list[tuple[float, float]]:
        """What is recorded of the channel, as unbroken (start, end) spans
        in time order: a gap (the channel was down, the disk fell behind)
        splits them.  EPG ``has_archive`` flags are computed from these."""
        spans: list[tuple[float, float]] = []
        for segment in self._channels.get(channel_id, ()):
            if not segment.size:
                continue
            if spans and segment.start <= spans[-1][1] + GAP_TOLERANCE:
                spans[-1] = (spans[-1][0], max(spans[-1][1], segment.end))
            else:
                spans.append((segment.start, segment.end))
        return spans

    def days(self, channel_id: int) -> int:
        """Whole days (rounded up) the recording spans; 0 if none."""
        window = self.window(channel_id)
        if window is None:
            return 0
        return max(1, math.ceil((window[1] - window[0]) / 86400))

    def first_to_play(
        self, channel_id: int, start: float, end: float
    ) -> Segment | None:
        """The segment holding ``start``; else the first one after it
        that begins before ``end`` (``start`` falls in a gap)."""
        segments = self._channels.get(channel_id, [])
        i = bisect.bisect_right(segments, start, key=_start)
        if i and segments[i - 1].end > start and segments[i - 1].size:
            return segments[i - 1]
        for segment in segments[i:]:
            if segment.start >= end:
                break
            if segment.size:
                return segment
        return None

    def after(self, segment: Segment) -> Segment | None:
        """The channel's next segment (``segment`` may be gone already)."""
        segments = self._channels.get(segment.channel_id, [])
        i = bisect.bisect_right(segments, segment.start, key=_start)
        return segments[i] if i < len(segments) else None
