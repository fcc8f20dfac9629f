"""Continuity counter checking, per PID."""

from __future__ import annotations

from xrelay.mpegts._packet import NULL_PID, PACKET_SIZE, Buffer, discontinuity_indicator

_DUPLICATE_SEEN = 0x10  # stored above the 4-bit counter


class ContinuityChecker:
    """Counts continuity errors (lost, reordered or repeated packets) per PID.

    Follows ISO/IEC 13818-1 2.4.3.3: the counter advances only on packets
    with a payload, so adaptation-only packets are not checked; a packet may
    be sent twice in a row (duplicate); a packet with the
    discontinuity_indicator may carry any counter.  The null PID is ignored.
    """

    def __init__(self) -> None:
        self._last: dict[int, int] = {}  # pid -> last counter | _DUPLICATE_SEEN
        self.errors: dict[int, int] = {}  # pid -> errors seen, only PIDs with errors

    def feed(self, buf: Buffer) -> None:
        """Check a batch of whole packets."""
        last = self._last
        # This loop sees every packet of the stream: strided slices pull out
        # the header bytes in C, about twice as fast as indexing per packet.
        headers = zip(
            range(0, len(buf), PACKET_SIZE),
            buf[1::PACKET_SIZE],
            buf[2::PACKET_SIZE],
            buf[3::PACKET_SIZE],
            strict=True,
        )
        for off, pid_high, pid_low, flags in headers:
            if not flags & 0x10:
                continue
            pid = ((pid_high & 0x1F) << 8) | pid_low
            if pid == NULL_PID:
                continue
            cc = flags & 0x0F
            previous = last.get(pid)
            last[pid] = cc
            if previous is None or cc == ((previous + 1) & 0x0F):
                continue
            if cc == previous:  # a first duplicate (flag not yet set)
                last[pid] = cc | _DUPLICATE_SEEN
                continue
            if not discontinuity_indicator(buf, off):
                self.errors[pid] = self.errors.get(pid, 0) + 1
