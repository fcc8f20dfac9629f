"""``file://`` source: a local TS file looped in real time, paced by its PCR."""

from __future__ import annotations

from typing import BinaryIO

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from xrelay.interfaces import IChannelSource, IPacketSink
from xrelay.mpegts import PACKET_SIZE, PacketSplitter, pcr, pid

PCR_HZ = 27_000_000
# PCR steps larger than this (or backwards) are discontinuities, not time.
_MAX_PCR_STEP = PCR_HZ
# Give no more than this much stream time without a PCR before giving up.
_NO_PCR_LIMIT = 4 * 1024 * 1024


@implementer(IChannelSource)
class FileLoopSource:
    """Reads the file in chunks and releases each packet when the wall clock
    reaches its stream time (from the PCR), ``lead`` seconds early so
    viewers' buffers stay topped up.  At the end it starts over, carrying the
    stream clock on so the pace does not hiccup at the loop."""

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
        self._buf = b""  # whole packets read but not yet released
        self._pos = 0
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
            step = value - self._last_pcr
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
            if self.loops == 0 and self._last_pcr is None:
                self._fail(f"{self.path}: no PCR found")
                return False
            self.loops += 1
            self._file.seek(0)
            self._last_pcr = None
            self._splitter = PacketSplitter()
            data = self._file.read(self._read_size)
            if not data:
                self._fail(f"{self.path}: file is empty")
                return False
        self._buf = self._splitter.feed(data)
        self._pos = 0
        return True
