"""Which recordings to delete: by age, then by disk quota.  Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from xrelay.archive._index import Segment


def expired(
    segments: Iterable[Segment],
    now: float,
    keep: Callable[[int], float],
    quota: int,
) -> list[Segment]:
    """The segments to delete.

    First those that ended more than ``keep(channel_id)`` seconds before
    ``now``; then, while everything left holds more than ``quota`` bytes
    (0: no quota), the oldest left, whichever channel.  A segment still
    being recorded is never deleted.
    """
    candidates = sorted(segments, key=lambda s: s.start)
    doomed = [
        s for s in candidates if not s.recording and s.end <= now - keep(s.channel_id)
    ]
    if quota > 0:
        gone = set(doomed)
        left = sum(s.size for s in candidates if s not in gone)
        for segment in candidates:
            if left <= quota:
                break
            if segment.recording or segment in gone:
                continue
            doomed.append(segment)
            left -= segment.size
    return doomed
