"""Cut a byte stream into whole, sync-checked transport packets."""

from __future__ import annotations

from xrelay.mpegts._packet import PACKET_SIZE, SYNC

_SYNC_BYTE = bytes([SYNC])


class PacketSplitter:
    """Turns arbitrary chunks of a TS byte stream into runs of whole packets.

    Sync is locked at an offset holding 0x47 there and one and two packets
    later.  The third sync byte is always waited for (never skipped because
    the chunk ends early), so every decision depends only on the bytes and
    not on where the input was cut: any split of a stream yields the same
    packets.  Bytes that cannot start a packet are skipped and counted.

    Once locked, only each packet's own sync byte is checked, so a packet
    that lost bytes goes out completed by the start of the next one; the
    continuity counters show the loss downstream.  Checking the next sync
    byte too would hold the last packet of every chunk back until more data
    came.
    """

    def __init__(self) -> None:
        self._tail = b""  # bytes not yet decided: a partial packet or a sync candidate
        self._locked = False
        self._ever_locked = False
        self.garbage_bytes = 0
        self.resyncs = 0  # times sync was regained after being lost

    def feed(self, data: bytes) -> bytes:
        """Return the whole packets completed by ``data`` (possibly none)."""
        buf = self._tail + data if self._tail else data
        pos = 0
        runs: list[bytes] = []
        while True:
            if self._locked:
                # Check all sync bytes at once: a strided slice is one C loop.
                count = (len(buf) - pos) // PACKET_SIZE
                syncs = buf[pos : pos + count * PACKET_SIZE : PACKET_SIZE]
                good = count - len(syncs.lstrip(_SYNC_BYTE))
                if good:
                    runs.append(buf[pos : pos + good * PACKET_SIZE])
                    pos += good * PACKET_SIZE
                if good == count:
                    break
                self._locked = False
            pos = self._find_lock(buf, pos)
            if not self._locked:
                break
        self._tail = buf[pos:]
        return b"".join(runs)

    def _find_lock(self, buf: bytes, pos: int) -> int:
        """Skip garbage from ``pos`` to the next offset that locks sync, or
        to a candidate too near the end to judge yet; return that offset."""
        start = pos
        end = len(buf)
        while True:
            n = buf.find(SYNC, pos)
            if n < 0:
                n = end
                break
            if n + 2 * PACKET_SIZE >= end:
                break
            if buf[n + PACKET_SIZE] == SYNC and buf[n + 2 * PACKET_SIZE] == SYNC:
                self._locked = True
                if self._ever_locked:
                    self.resyncs += 1
                self._ever_locked = True
                break
            pos = n + 1
        self.garbage_bytes += n - start
        return n
