"""Constants and per-packet field access for 188-byte transport packets.

Every function takes ``(buf, off)``: a buffer holding a batch of whole packets
and the offset of one packet in it, so callers walk a batch without slicing
it into per-packet objects.  Nothing is validated beyond what a field needs:
the splitter has already checked the sync byte.
"""

from __future__ import annotations

from typing import TypeAlias

PACKET_SIZE = 188
SYNC = 0x47
NULL_PID = 0x1FFF

Buffer: TypeAlias = bytes | bytearray | memoryview
WritableBuffer: TypeAlias = bytearray | memoryview

# Adaptation field flag bits (ISO/IEC 13818-1, 2.4.3.4).
_DISCONTINUITY = 0x80
_RANDOM_ACCESS = 0x40
_PCR_FLAG = 0x10


def pid(buf: Buffer, off: int) -> int:
    return ((buf[off + 1] & 0x1F) << 8) | buf[off + 2]


def payload_unit_start(buf: Buffer, off: int) -> bool:
    return bool(buf[off + 1] & 0x40)


def continuity_counter(buf: Buffer, off: int) -> int:
    return buf[off + 3] & 0x0F


def has_payload(buf: Buffer, off: int) -> bool:
    return bool(buf[off + 3] & 0x10)


def adaptation_field_length(buf: Buffer, off: int) -> int | None:
    """The adaptation field's length byte, or None when there is no field."""
    return buf[off + 4] if buf[off + 3] & 0x20 else None


def _adaptation_flags(buf: Buffer, off: int) -> int:
    """The adaptation field's flag byte, or 0 when there is none."""
    if buf[off + 3] & 0x20 and buf[off + 4]:
        return buf[off + 5]
    return 0


def random_access_indicator(buf: Buffer, off: int) -> bool:
    return bool(_adaptation_flags(buf, off) & _RANDOM_ACCESS)


def discontinuity_indicator(buf: Buffer, off: int) -> bool:
    return bool(_adaptation_flags(buf, off) & _DISCONTINUITY)


def pcr(buf: Buffer, off: int) -> int | None:
    """The program clock reference in 27 MHz ticks (base * 300 + extension)."""
    if not (buf[off + 3] & 0x20 and buf[off + 4] >= 7 and buf[off + 5] & _PCR_FLAG):
        return None
    # 33-bit base, 6 reserved bits, 9-bit extension.
    bits = int.from_bytes(buf[off + 6 : off + 12], "big")
    return (bits >> 15) * 300 + (bits & 0x1FF)


def payload_offset(buf: Buffer, off: int) -> int | None:
    """Index in ``buf`` (not in the packet) of the first payload byte, or
    None when the packet carries no payload or its adaptation field overruns it."""
    control = buf[off + 3] & 0x30
    if control == 0x10:
        return off + 4
    if control == 0x30:
        start = off + 5 + buf[off + 4]
        if start < off + PACKET_SIZE:
            return start
    return None


def set_continuity_counter(buf: WritableBuffer, off: int, cc: int) -> None:
    buf[off + 3] = (buf[off + 3] & 0xF0) | (cc & 0x0F)


def set_discontinuity_indicator(buf: WritableBuffer, off: int) -> bool:
    """Flag a discontinuity (e.g. after a failover) in place.

    Only possible when the packet already has an adaptation field with at
    least the flag byte (length > 0): growing one would mean moving payload
    bytes.  Returns whether the flag was set.
    """
    if buf[off + 3] & 0x20 and buf[off + 4]:
        buf[off + 5] |= _DISCONTINUITY
        return True
    return False
