"""What a joining viewer gets at once, so its player shows a picture now."""

from __future__ import annotations

from collections import deque

from xrelay.mpegts import (
    PACKET_SIZE,
    PsiTracker,
    is_random_access,
    payload_unit_start,
    pid,
)


class JoinCache:
    """The current PAT/PMT plus the latest GOPs of video.

    A player needs both before it can decode anything; sending them first
    turns a channel join into an instant start instead of a wait for the
    next keyframe.  ``feed`` keeps whole GOPs (each starting at a keyframe),
    the fewest that still hold ``keep_bytes``, so a player also fills its
    buffer at once.  Past ``max_bytes`` (very long GOPs, or no keyframe
    found) the cache empties and refills from the next keyframe; a stream
    without video keeps its last batch.
    """

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.psi = PsiTracker()
        self._max_bytes = max_bytes
        self._gops: deque[list[bytes]] = deque()  # each starts at a keyframe
        self._gop_bytes: deque[int] = deque()
        self._bytes = 0
        self._snapshot: bytes | None = None

    def feed(self, data: bytes, keep_bytes: int = 0) -> int | None:
        """Take the next packets; returns the offset of the first keyframe
        in ``data`` (None if none), where a lagging viewer may rejoin."""
        self.psi.feed(data)
        self._snapshot = None
        video_pid = self.psi.video_pid
        if video_pid is None:
            self._reset()
            if self.psi.pmts:  # a radio channel: no keyframes to wait for
                self._add_gop(data)
                return 0
            return None
        first, start = self._keyframes(data, video_pid)
        if start is None:
            if self._gops and self._bytes + len(data) <= self._max_bytes:
                self._gops[-1].append(data)
                self._gop_bytes[-1] += len(data)
                self._bytes += len(data)
            else:
                self._reset()
            return None
        if start and self._gops:
            self._gops[-1].append(data[:start])
            self._gop_bytes[-1] += start
            self._bytes += start
        self._add_gop(data[start:])
        # Drop the oldest GOPs the cache can spare.
        while len(self._gops) > 1 and (
            self._bytes - self._gop_bytes[0] >= keep_bytes
            or self._bytes > self._max_bytes
        ):
            self._gops.popleft()
            self._bytes -= self._gop_bytes.popleft()
        return first

    def restart(self) -> None:
        """Forget the GOPs kept: the next keyframe starts afresh."""
        self._reset()
        self._snapshot = None

    def _add_gop(self, data: bytes) -> None:
        self._gops.append([data])
        self._gop_bytes.append(len(data))
        self._bytes += len(data)

    def _reset(self) -> None:
        self._gops.clear()
        self._gop_bytes.clear()
        self._bytes = 0

    def _keyframes(self, data: bytes, video_pid: int) -> tuple[int | None, int | None]:
        """Offsets of the first and the last keyframe in ``data``."""
        stream_type = self.psi.video_stream_type or 0
        found = [
            off
            for off in range(0, len(data), PACKET_SIZE)
            if pid(data, off) == video_pid
            and payload_unit_start(data, off)
            and is_random_access(data, off, stream_type)
        ]
        return (found[0], found[-1]) if found else (None, None)

    def snapshot(self) -> bytes:
        """PAT/PMT then the GOPs kept; empty until both are known.  The same
        object is returned until the next ``feed``, so viewers joining
        together share it."""
        if self._snapshot is None:
            if not self._gops or not self.psi.psi_packets:
                self._snapshot = b""
            else:
                gops = b"".join(b"".join(gop) for gop in self._gops)
                self._snapshot = self.psi.psi_packets + gops
        return self._snapshot
