"""``file://`` source: a local TS file looped in real time, paced by its PCR,
as one continuous stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from xrelay.interfaces import IChannelSource, IPacketSink
from xrelay.mpegts import (
    PACKET_SIZE,
    PacketSplitter,
    PsiTracker,
    parse_pes_timestamps,
    payload_offset,
    pcr,
    pid,
    set_discontinuity_indicator,
)

PCR_HZ = 27_000_000
_PTS_WRAP = 1 << 33  # PTS/DTS are 33-bit counts of a 90 kHz clock
_PCR_WRAP = _PTS_WRAP * 300  # the PCR counts the same base at 27 MHz
# PCR steps larger than this (or backwards) are discontinuities, not time.
_MAX_PCR_STEP = PCR_HZ
# Give no more than this much stream time without a PCR before giving up.
_NO_PCR_LIMIT = 4 * 1024 * 1024


@implementer(IChannelSource)
class FileLoopSource:
    """Reads the file in chunks and releases each packet when the wall clock
    reaches its stream time (from the PCR), ``lead`` seconds early so
    viewers' buffers stay topped up.

    At the end it starts over as one continuous stream.  Each later pass is
    shifted forward in time (PCR, PTS, DTS) by the file's duration (its
    video's, or else its PCR PID stream's, plus a frame) and each PID's
    continuity counter so that its first follows its last: a loop point
    looks like any other frame boundary.  The pace follows the shifted PCR,
    so a pass takes exactly that long and viewers' buffers neither drain
    nor fill up over the hours.  The shift is learnt while the first pass
    plays; nothing of the file is kept.  A stream lasting longer than the
    video overlaps itself at the loop by the difference (a shorter one
    leaves a gap).  When the clock cannot carry on (no timestamps, or a PCR
    that jumps) each pass restarts it, with the discontinuity_indicator set.
    """

    log = Logger()

    def __init__(
        self,
        path: str,
        clock: IReactorTime,
        tick: float = 0.02,
        lead: float = 2.0,
        read_size: int = 64 * 1024,
    ) -> None:
        self.path = path
        self._clock = clock
        self._tick = tick
        self._lead = int(lead * PCR_HZ)
        self._read_size = read_size
        self._file: BinaryIO | None = None
        self._sink: IPacketSink | None = None
        self._call: IDelayedCall | None = None
        self._splitter = PacketSplitter()
        self._buf: bytes | bytearray = b""  # whole packets read but not yet released
        self._pos = 0
        self._first_pass = _FirstPass()
        self._shift: _Shift | None = None  # known once the first pass is read
        self._flag_discontinuity = False  # at the next PCR: the clock restarted
        self._pcr_pid: int | None = None
        self._last_pcr: int | None = None
        self._stream_time = 0  # 27 MHz ticks since start, across loops
        self._pcr_step = PCR_HZ // 25  # a typical interval, refined as we go
        self._since_pcr = 0
        self._t0 = 0.0
        self.loops = 0

    def start(self, sink: IPacketSink) -> None:
        self._sink = sink
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 -- closed in stop()
        except OSError as e:
            self._fail(f"cannot open {self.path}: {e.strerror}")
            return
        self._t0 = self._clock.seconds()
        self._call = self._clock.callLater(0, self._release)

    def stop(self) -> Deferred[None]:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if self._file is not None:
            self._file.close()
            self._file = None
        return succeed(None)

    def _fail(self, reason: str) -> None:
        self.stop()
        if self._sink is not None:
            self._sink.source_ended(reason)

    def _release(self) -> None:
        """Send every packet whose time has come, then sleep one tick."""
        self._call = None
        due = int((self._clock.seconds() - self._t0) * PCR_HZ) + self._lead
        out = bytearray()
        while self._file is not None:
            if self._pos >= len(self._buf) and not self._refill():
                return
            if self._time_of_next_packet_exceeds(due):
                break
            out += self._buf[self._pos : self._pos + PACKET_SIZE]
            self._pos += PACKET_SIZE
            self._since_pcr += PACKET_SIZE
            if self._since_pcr > _NO_PCR_LIMIT:
                self._fail(f"{self.path}: no PCR in {_NO_PCR_LIMIT} bytes")
                return
        if out and self._sink is not None:
            self._sink.write_packets(bytes(out))
        if self._file is not None:
            self._call = self._clock.callLater(self._tick, self._release)

    def _time_of_next_packet_exceeds(self, due: int) -> bool:
        """Advance the stream clock at a PCR packet; True if it is not due."""
        off = self._pos
        value = pcr(self._buf, off)
        if value is None:
            return False
        packet_pid = pid(self._buf, off)
        if self._pcr_pid is None:
            self._pcr_pid = packet_pid
        if packet_pid != self._pcr_pid:
            return False
        if self._last_pcr is None:
            step = 0 if self.loops == 0 else self._pcr_step
        else:
            step = (value - self._last_pcr) % _PCR_WRAP
            if 0 < step <= _MAX_PCR_STEP:
                self._pcr_step = step
            else:
                step = self._pcr_step
        if self._stream_time + step > due:
            return True
        self._stream_time += step
        self._last_pcr = value
        self._since_pcr = 0
        return False

    def _refill(self) -> bool:
        """Read the next chunk, looping at the end; False if stopped."""
        assert self._file is not None
        data = self._file.read(self._read_size)
        if not data:
            if not self._next_pass():
                return False
            data = self._file.read(self._read_size)
            if not data:
                self._fail(f"{self.path}: file is empty")
                return False
        packets = self._splitter.feed(data)
        self._pos = 0
        if self._shift is None:
            self._first_pass.feed(packets)
            self._buf = packets
            return True
        buf = bytearray(packets)
        self._shift.apply(buf, self.loops)
        if self._flag_discontinuity and self._pcr_pid is not None:
            self._flag_discontinuity = not _flag_first_pcr(buf, self._pcr_pid)
        self._buf = buf
        return True

    def _next_pass(self) -> bool:
        """Rewind for the next pass; False if stopped."""
        assert self._file is not None
        if self._shift is None:
            if self._last_pcr is None:
                self._fail(f"{self.path}: no PCR found")
                return False
            self._shift = self._first_pass.shift()
            if self._shift.ticks is None:
                self.log.warn(
                    "{path}: no timestamps to carry on across the loop:"
                    " each pass restarts the stream clock",
                    path=self.path,
                )
        if self._shift.ticks is None:
            # A new time base: pace its first PCR by a usual step, and say so.
            self._last_pcr = None
            self._flag_discontinuity = True
        self.loops += 1
        self._file.seek(0)
        self._splitter = PacketSplitter()
        return True


@attrs.define
class _Timing:
    """One PID's PTS range during the first pass, relative to its first PTS
    (so a wrap inside the file is no jump), and the smallest step between
    its decode timestamps: one frame."""

    origin: int
    last_decode: int
    low: int = 0
    high: int = 0
    frame: int = 0  # 0: not seen yet

    def add(self, pts: int, dts: int | None) -> None:
        offset = _ticks_from(self.origin, pts)
        self.low = min(self.low, offset)
        self.high = max(self.high, offset)
        # DTS advance by exactly one frame even where B-frames reorder the PTS.
        decode = pts if dts is None else dts
        step = _ticks_from(self.last_decode, decode)
        if step > 0 and (not self.frame or step < self.frame):
            self.frame = step
        self.last_decode = decode

    def duration(self) -> int | None:
        """The PTS span plus one frame, in 90 kHz ticks; None if unknown."""
        return self.high - self.low + self.frame if self.frame else None


@attrs.define
class _PcrRange:
    """One PID's first and last PCR during the first pass."""

    first: int
    last: int
    steady: bool = True  # never went back or jumped ahead

    def add(self, value: int) -> None:
        step = (value - self.last) % _PCR_WRAP
        self.steady = self.steady and 0 < step <= _MAX_PCR_STEP
        self.last = value


@attrs.define
class _FirstPass:
    """Watches the first pass go by to learn how to shift the next ones:
    only counters, whatever the file's size."""

    psi: PsiTracker = attrs.Factory(PsiTracker)
    first_cc: dict[int, int] = attrs.Factory(dict)  # pid -> its first counter
    last_cc: dict[int, int] = attrs.Factory(dict)  # pid -> its latest counter
    timings: dict[int, _Timing] = attrs.Factory(dict)  # pid -> PTS range
    pcrs: dict[int, _PcrRange] = attrs.Factory(dict)  # pid -> PCR range

    def feed(self, buf: bytes) -> None:
        """Look at a batch of whole packets."""
        self.psi.feed(buf)
        first_cc, last_cc = self.first_cc, self.last_cc
        timings, pcrs = self.timings, self.pcrs
        for off, pid_high, pid_low, flags in _headers(buf):
            packet_pid = ((pid_high & 0x1F) << 8) | pid_low
            if flags & 0x20 and (value := pcr(buf, off)) is not None:
                if packet_pid in pcrs:
                    pcrs[packet_pid].add(value)
                else:
                    pcrs[packet_pid] = _PcrRange(value, value)
            if not flags & 0x10:
                continue  # counters advance only on packets with a payload
            first_cc.setdefault(packet_pid, flags & 0x0F)
            last_cc[packet_pid] = flags & 0x0F
            if not pid_high & 0x40:
                continue  # no PES starts here
            pts, dts = parse_pes_timestamps(buf, off)
            if pts is None:
                continue
            if packet_pid in timings:
                timings[packet_pid].add(pts, dts)
            else:
                timings[packet_pid] = _Timing(pts, pts if dts is None else dts)

    def shift(self) -> _Shift:
        """How to shift the next passes, from what this one showed."""
        cc_steps = {
            packet_pid: (self.last_cc[packet_pid] + 1 - first) % 16
            for packet_pid, first in self.first_cc.items()
        }
        last_pcrs = {packet_pid: r.last for packet_pid, r in self.pcrs.items()}
        return _Shift(cc_steps, self._ticks(), last_pcrs)

    def _ticks(self) -> int | None:
        """The duration of a pass in 90 kHz ticks, if the clock can carry on
        across the loop: the span of the video's PTS (or else the PCR PID's)
        plus one frame, with the PCR steady and meeting its start again
        within a second either way."""
        psi = self.psi
        timed = psi.pcr_pid if psi.video_pid is None else psi.video_pid
        timing = None if timed is None else self.timings.get(timed)
        clock = None if psi.pcr_pid is None else self.pcrs.get(psi.pcr_pid)
        ticks = None if timing is None else timing.duration()
        if ticks is None or clock is None or not clock.steady:
            return None
        gap = (clock.first + ticks * 300 - clock.last) % _PCR_WRAP
        if _MAX_PCR_STEP < gap < _PCR_WRAP - _MAX_PCR_STEP:
            return None
        return ticks


@attrs.define
class _Shift:
    """Rewrites each pass after the first to carry on from the one before."""

    cc_steps: dict[int, int]  # pid -> continuity counter step per pass
    ticks: int | None  # 90 kHz ticks per pass; None: timestamps stay as they are
    # pid -> the PCR last written. A pass may start before the previous one
    # ended in PCR time (the mux ran further ahead of the video at the start
    # of the file than at its end): until it catches up, its PCRs follow the
    # last one by a tick instead of going back.
    last_pcrs: dict[int, int]

    def apply(self, buf: bytearray, loop: int) -> None:
        """Rewrite a batch of pass ``loop`` (counted from 0) in place."""
        cc_add = {packet_pid: loop * n for packet_pid, n in self.cc_steps.items()}
        ticks = None if self.ticks is None else loop * self.ticks
        for off, pid_high, pid_low, flags in _headers(buf):
            packet_pid = ((pid_high & 0x1F) << 8) | pid_low
            add = cc_add.get(packet_pid, 0)
            buf[off + 3] = (flags & 0xF0) | ((flags + add) & 0x0F)
            if ticks is None:
                continue
            if flags & 0x20 and (value := pcr(buf, off)) is not None:
                self._put_pcr(buf, off, packet_pid, value + ticks * 300)
            if pid_high & 0x40:
                _shift_pes(buf, off, ticks)

    def _put_pcr(self, buf: bytearray, off: int, packet_pid: int, value: int) -> None:
        last = self.last_pcrs.get(packet_pid)
        if last is not None and not 0 < (value - last) % _PCR_WRAP <= _PCR_WRAP // 2:
            value = last + 1
        value %= _PCR_WRAP
        self.last_pcrs[packet_pid] = value
        bits = (value // 300) << 15 | 0x3F << 9 | value % 300
        buf[off + 6 : off + 12] = bits.to_bytes(6, "big")


def _headers(buf: bytes | bytearray) -> Iterator[tuple[int, int, int, int]]:
    """(offset, PID high byte, PID low byte, flags byte) of each packet:
    strided slices pull the header bytes out in C."""
    return zip(
        range(0, len(buf), PACKET_SIZE),
        buf[1::PACKET_SIZE],
        buf[2::PACKET_SIZE],
        buf[3::PACKET_SIZE],
        strict=True,
    )


def _shift_pes(buf: bytearray, off: int, ticks: int) -> None:
    """Move the PTS and DTS of a PES packet starting at this packet."""
    pts, dts = parse_pes_timestamps(buf, off)
    start = payload_offset(buf, off)
    if start is None:
        return
    if pts is not None:
        _put_timestamp(buf, start + 9, pts + ticks)
    if dts is not None:
        _put_timestamp(buf, start + 14, dts + ticks)


def _put_timestamp(buf: bytearray, i: int, value: int) -> None:
    """Write a 33-bit PTS/DTS over the 5 bytes at ``i``, keeping the 4-bit
    prefix and setting the marker bits.  The masks drop the bits above 33:
    ``value`` wraps."""
    buf[i] = (buf[i] & 0xF0) | (value >> 29) & 0x0E | 1
    buf[i + 1] = (value >> 22) & 0xFF
    buf[i + 2] = (value >> 14) & 0xFE | 1
    buf[i + 3] = (value >> 7) & 0xFF
    buf[i + 4] = (value << 1) & 0xFE | 1


def _ticks_from(a: int, b: int) -> int:
    """``b - a`` on the wrapping 33-bit PTS clock."""
    return (b - a + _PTS_WRAP // 2) % _PTS_WRAP - _PTS_WRAP // 2


def _flag_first_pcr(buf: bytearray, pcr_pid: int) -> bool:
    """Set the discontinuity_indicator on the first PCR of ``pcr_pid`` in
    ``buf``; whether there was one."""
    for off in range(0, len(buf), PACKET_SIZE):
        if pid(buf, off) == pcr_pid and pcr(buf, off) is not None:
            return set_discontinuity_indicator(buf, off)
    return False
