"""The "no signal" slate: a short TS file looped as one seamless stream."""

from __future__ import annotations

from collections import Counter
from importlib.resources import files
from itertools import pairwise

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from xrelay.ingest._file import FileLoopSource
from xrelay.interfaces import IChannelSource, IPacketSink
from xrelay.mpegts import (
    PACKET_SIZE,
    PacketSplitter,
    PsiTracker,
    continuity_counter,
    has_payload,
    parse_pes_timestamps,
    payload_offset,
    pcr,
    pid,
    set_continuity_counter,
)

_PTS_WRAP = 1 << 33  # PTS/DTS are 33-bit counts of a 90 kHz clock
_PCR_WRAP = _PTS_WRAP * 300  # the PCR counts the same base at 27 MHz


def default_slate_path() -> str:
    """The slate shipped in the package (tools/make-slate-ts.sh made it)."""
    return str(files("xrelay.media") / "slate.ts")


@implementer(IChannelSource, IPacketSink)
class SlateSource:
    """Plays a short TS file in a loop that players see as one continuous
    stream.

    ``FileLoopSource`` paces the file.  Each pass after the first is shifted
    forward in time (PCR, PTS, DTS) by the file's duration and its continuity
    counters by the file's packet count per PID, so a loop point looks like
    any other frame boundary: no CC errors, no timestamps going back.  The
    file's streams should all last exactly as long (the shipped slate does);
    otherwise the loop leaves a gap or an overlap under one frame.

    It is the packet sink of its own FileLoopSource.
    """

    def __init__(self, path: str, clock: IReactorTime) -> None:
        self.path = path
        self._player = FileLoopSource(path, clock)
        self._sink: IPacketSink | None = None
        self._loop_packets = 0  # packets in one pass of the file
        self._cc_steps: Counter[int] = Counter()  # pid -> payload packets per pass
        self._duration = 0  # of one pass, 90 kHz ticks
        self._sent = 0  # packets passed on so far

    def start(self, sink: IPacketSink) -> None:
        self._sink = sink
        try:
            with open(self.path, "rb") as f:
                data = PacketSplitter().feed(f.read())
        except OSError as e:
            sink.source_ended(f"cannot open slate {self.path}: {e.strerror}")
            return
        self._duration = _duration(data)
        if not self._duration:
            sink.source_ended(f"slate {self.path}: no video or audio timestamps")
            return
        self._loop_packets = len(data) // PACKET_SIZE
        self._cc_steps = Counter(
            pid(data, off)
            for off in range(0, len(data), PACKET_SIZE)
            if has_payload(data, off)
        )
        self._player.start(self)

    def stop(self) -> Deferred[None]:
        return self._player.stop()

    # IPacketSink, for the FileLoopSource
    def write_packets(self, data: bytes) -> None:
        assert self._sink is not None
        first = self._sent
        self._sent += len(data) // PACKET_SIZE
        if self._sent <= self._loop_packets:
            self._sink.write_packets(data)  # still the first pass: as it is
            return
        # The slate is about 100 kbit/s: per-packet work costs nothing here.
        out = bytearray(data)
        for i, off in enumerate(range(0, len(out), PACKET_SIZE)):
            loop = (first + i) // self._loop_packets
            if loop:
                self._shift(out, off, loop)
        self._sink.write_packets(bytes(out))

    def source_ended(self, reason: str) -> None:
        if self._sink is not None:
            self._sink.source_ended(reason)

    def _shift(self, out: bytearray, off: int, loop: int) -> None:
        """Move one packet of pass ``loop`` (counted from 0) into place."""
        packet_pid = pid(out, off)
        cc = continuity_counter(out, off) + loop * self._cc_steps.get(packet_pid, 0)
        set_continuity_counter(out, off, cc)
        ticks = loop * self._duration
        value = pcr(out, off)
        if value is not None:
            value = (value + ticks * 300) % _PCR_WRAP
            bits = (value // 300) << 15 | 0x3F << 9 | value % 300
            out[off + 6 : off + 12] = bits.to_bytes(6, "big")
        pts, dts = parse_pes_timestamps(out, off)
        start = payload_offset(out, off)
        if start is not None and pts is not None:
            _put_timestamp(out, start + 9, pts + ticks)
        if start is not None and dts is not None:
            _put_timestamp(out, start + 14, dts + ticks)


def _duration(data: bytes) -> int:
    """How long one pass of ``data`` lasts, in 90 kHz ticks: the span of
    its video (or else PCR PID's) PTS plus one frame; 0 if unknown."""
    psi = PsiTracker()
    psi.feed(data)
    timed_pid = psi.pcr_pid if psi.video_pid is None else psi.video_pid
    stamps = sorted(
        {
            pts
            for off in range(0, len(data), PACKET_SIZE)
            if pid(data, off) == timed_pid
            and (pts := parse_pes_timestamps(data, off)[0]) is not None
        }
    )
    if len(stamps) < 2:
        return 0
    frame = min(b - a for a, b in pairwise(stamps))
    return stamps[-1] - stamps[0] + frame


def _put_timestamp(buf: bytearray, i: int, value: int) -> None:
    """Write a 33-bit PTS/DTS over the 5 bytes at ``i``, keeping the 4-bit
    prefix and setting the marker bits."""
    value %= _PTS_WRAP
    buf[i] = (buf[i] & 0xF0) | (value >> 29) & 0x0E | 1
    buf[i + 1] = (value >> 22) & 0xFF
    buf[i + 2] = (value >> 14) & 0xFE | 1
    buf[i + 3] = (value >> 7) & 0xFF
    buf[i + 4] = (value << 1) & 0xFE | 1
