"""Cutting a transport stream into HLS media segments (pure: no Twisted).

The segmenter is fed the stream in batches of whole packets, from a live
channel or (later) a recording, and returns each segment as it completes.
"""

from __future__ import annotations

import attrs

from xrelay.mpegts import (
    PACKET_SIZE,
    PsiTracker,
    is_random_access,
    parse_pes_timestamps,
    pid,
)

PTS_HZ = 90_000
_PTS_MASK = (1 << 33) - 1
_HALF = 1 << 32  # PTS differences past this are negative (33-bit wrap)
# A presentation time this far behind the previous one, or this far ahead
# of it, starts a new time base (an upstream restart nobody flagged).
# B-frames step back a few frames; a lost second or two steps ahead.
_JUMP_BACK = 2 * PTS_HZ
_JUMP_AHEAD = 10 * PTS_HZ
_DEFAULT_FRAME = PTS_HZ // 25

# Per-packet header bytes mapped in C (bytes.translate) for the scans below.
_PUSI_PID_HIGH = bytes(b & 0x5F for b in range(256))  # drops TEI and priority
_HAS_FIELD = bytes(0xFF if b & 0x20 else 0 for b in range(256))  # byte 3
_NON_ZERO = bytes(0xFF if b else 0 for b in range(256))  # byte 4: field length
_DISCONTINUITY = bytes(0xFF if b & 0x80 else 0 for b in range(256))  # byte 5


@attrs.frozen
class Cut:
    """A finished segment, before a window gives it a sequence number."""

    data: bytes  # PAT/PMT, then packets from a random access point on
    duration: float  # seconds
    discontinuity: bool  # its time base does not continue the last segment's


class Segmenter:
    """Cuts at random access points (video keyframes; for a stream without
    video, any PES start of its first stream) once the open segment holds
    at least ``target`` seconds, measured by presentation timestamps.
    A segment is therefore at least ``target`` long unless a discontinuity
    cuts it short, and longer when keyframes are further apart.

    Each segment starts with the PAT/PMT in force, so it plays on its own.
    Its duration is exact (the next segment's first PTS less its own)
    except before a discontinuity or at the end, where it is the span of
    its frames plus one frame.  A discontinuity is a discontinuity_indicator
    on the PCR or video PID (what xrelay's failover sets at a source
    switch) or a PTS jump; the segment after it is flagged.

    An open segment past ``max_bytes`` (no access point for that long) is
    dropped, and the next one flagged.  Work per batch: the PSI tracker's
    pass, two scans in C, and a Python step per PES start on one PID.
    """

    def __init__(self, target: float, max_bytes: int) -> None:
        self.psi = PsiTracker()
        self._target = round(target * PTS_HZ) - PTS_HZ // 1000  # 1 ms slack
        self._max_bytes = max_bytes
        self._pieces: list[bytes] = []
        self._bytes = 0
        self._start: int | None = None  # the open segment's first PTS
        self._base: int | None = None  # the first PTS of its time base now
        self._span = 0  # its latest frame's PTS less ``_base``
        self._earlier = 0  # ticks of its earlier time bases (before a break)
        self._frames = 0
        self._frame = _DEFAULT_FRAME  # mean frame length, from past segments
        self._last_pts: int | None = None
        self._broken = False  # a discontinuity since the open segment began
        self._opened_broken = False  # the open segment follows a discontinuity
        self._gap = False  # data was dropped: flag the next segment
        self._cut_any = False  # whether a segment came out yet

    @property
    def pending_bytes(self) -> int:
        """Bytes held for the segment being cut."""
        return self._bytes

    def feed(self, data: bytes) -> list[Cut]:
        """Take whole packets; returns the segments they complete."""
        self.psi.feed(data)
        target = self._cut_pid()
        if target is None:
            self._keep(data)
            return []
        cut_pid, stream_type = target
        cuts: list[Cut] = []
        pos = 0  # ``data`` before this belongs to a closed segment
        for off, is_flag in _events(data, cut_pid, self.psi.pcr_pid):
            if is_flag:
                self._break()
                continue
            pts, _ = parse_pes_timestamps(data, off)
            if pts is None:
                continue
            if self._last_pts is not None and _jumped(self._last_pts, pts):
                self._break()
            self._last_pts = pts
            access = stream_type is None or is_random_access(data, off, stream_type)
            if access and self._cuts_at(pts):
                if self._start is not None:
                    self._keep(data[pos:off])
                if self._start is not None:  # still open: not dropped as too big
                    cuts.append(self._close(None if self._broken else pts))
                self._open(pts)
                pos = off
            elif self._start is not None:
                self._frame_at(pts)
        self._keep(data[pos:] if pos else data)
        return cuts

    def finish(self) -> Cut | None:
        """The open segment, cut where the stream ended (None if empty)."""
        if self._start is None:
            return None
        return self._close(None)

    def _cut_pid(self) -> tuple[int, int | None] | None:
        """The PID cut on and its video stream_type (None: not video, so
        every PES start is an access point), once the PMT is known."""
        if self.psi.video_pid is not None:
            return self.psi.video_pid, self.psi.video_stream_type or 0
        first = next(iter(self.psi.pat), None)
        pmt = None if first is None else self.psi.pmts.get(first)
        if pmt is None or not pmt.streams:
            return None
        return pmt.streams[0].pid, None

    def _cuts_at(self, pts: int) -> bool:
        if self._start is None or self._broken:
            return True
        elapsed = (pts - self._start) & _PTS_MASK
        return _HALF > elapsed >= self._target

    def _break(self) -> None:
        """The time base changes here: what the open segment holds so far
        is measured apart, and it ends at the next access point."""
        self._broken = True
        self._last_pts = None
        if self._base is not None:
            self._earlier += self._span + self._frame
            self._base = None

    def _frame_at(self, pts: int) -> None:
        self._frames += 1
        if self._base is None:
            self._base, self._span = pts, 0
            return
        offset = (pts - self._base) & _PTS_MASK
        if self._span < offset < _HALF:  # B-frames come before their anchors
            self._span = offset

    def _open(self, pts: int) -> None:
        self._pieces = [self.psi.psi_packets]
        self._bytes = len(self._pieces[0])
        self._start = self._base = pts
        self._span = self._earlier = 0
        self._frames = 1
        self._opened_broken = self._gap or (self._broken and self._cut_any)
        self._broken = self._gap = False

    def _keep(self, data: bytes) -> None:
        if self._start is None or not data:
            return
        self._pieces.append(data)
        self._bytes += len(data)
        if self._bytes > self._max_bytes:
            self._drop()

    def _drop(self) -> None:
        self._pieces = []
        self._bytes = 0
        self._start = self._base = None
        self._gap = True

    def _close(self, end: int | None) -> Cut:
        """The open segment, ending where ``end`` starts the next one
        (exact), or, when that PTS is in another time base (None), after
        its last frame (the span of its frames plus a mean frame)."""
        assert self._start is not None
        if end is not None:
            ticks = (end - self._start) & _PTS_MASK
            self._frame = max(1, ticks // self._frames)
        else:
            ticks = self._earlier
            if self._base is not None:
                ticks += self._span + self._frame
        cut = Cut(b"".join(self._pieces), ticks / PTS_HZ, self._opened_broken)
        self._cut_any = True
        self._pieces = []
        self._bytes = 0
        self._start = self._base = None
        return cut


def _jumped(last: int, pts: int) -> bool:
    step = ((pts - last + _HALF) & _PTS_MASK) - _HALF  # signed, across a wrap
    return step < -_JUMP_BACK or step > _JUMP_AHEAD


def _events(data: bytes, cut_pid: int, pcr_pid: int | None) -> list[tuple[int, bool]]:
    """(offset, is_flag) of the PES starts on ``cut_pid`` and of the
    packets on it or on the PCR PID flagging a discontinuity, in stream
    order; at one offset the flag comes first."""
    found = [(off, False) for off in _pes_starts(data, cut_pid)]
    found += [
        (off, True)
        for off in _flagged(data)
        if pid(data, off) == cut_pid or pid(data, off) == pcr_pid
    ]
    found.sort(key=lambda event: (event[0], not event[1]))
    return found


def _pes_starts(data: bytes, wanted_pid: int) -> list[int]:
    """Offsets of the packets starting a PES on ``wanted_pid``: each
    packet's PUSI+PID bytes side by side, searched in C."""
    keys = bytearray(2 * (len(data) // PACKET_SIZE))
    keys[0::2] = data[1::PACKET_SIZE].translate(_PUSI_PID_HIGH)
    keys[1::2] = data[2::PACKET_SIZE]
    wanted = bytes([0x40 | wanted_pid >> 8, wanted_pid & 0xFF])
    found = []
    i = keys.find(wanted)
    while i >= 0:
        if i % 2 == 0:  # not straddling two packets
            found.append(i // 2 * PACKET_SIZE)
        i = keys.find(wanted, i + 1)
    return found


def _flagged(data: bytes) -> list[int]:
    """Offsets of the packets whose adaptation field sets the
    discontinuity_indicator: the three conditions as byte masks ANDed
    as big integers, so a batch without any costs no Python loop."""
    count = len(data) // PACKET_SIZE
    hits = (
        int.from_bytes(data[3::PACKET_SIZE].translate(_HAS_FIELD))
        & int.from_bytes(data[4::PACKET_SIZE].translate(_NON_ZERO))
        & int.from_bytes(data[5::PACKET_SIZE].translate(_DISCONTINUITY))
    )
    if not hits:
        return []
    marks = hits.to_bytes(count)
    found = []
    i = marks.find(0xFF)
    while i >= 0:
        found.append(i * PACKET_SIZE)
        i = marks.find(0xFF, i + 1)
    return found
