"""What the relay needs from PES headers: timestamps and random access points."""

from __future__ import annotations

from xrelay.mpegts._packet import (
    PACKET_SIZE,
    Buffer,
    payload_offset,
    random_access_indicator,
)

VIDEO_STREAM_TYPES = frozenset({0x02, 0x1B, 0x24})  # MPEG-2, H.264, HEVC

# stream_ids whose PES packets lack the optional header (ISO/IEC 13818-1 2.4.3.7).
_NO_HEADER_STREAM_IDS = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})

_START_CODE = b"\x00\x00\x01"
_MPEG2_SEQUENCE_HEADER = b"\x00\x00\x01\xb3"
# stream_type -> (shift, mask) extracting nal_unit_type from the NAL header's
# first byte, and the types a decoder can start from.
_NAL_RANDOM_ACCESS = {
    0x1B: (0, 0x1F, frozenset({5, 7})),  # H.264 IDR slice, SPS
    0x24: (1, 0x3F, frozenset({16, 17, 18, 19, 20, 21, 32, 33})),  # HEVC IRAP, VPS, SPS
}


def _pes_start(buf: Buffer, off: int) -> int | None:
    """Index of a PES packet starting in this packet whose fixed optional
    header (up to PES_header_data_length) fits in it."""
    if not buf[off + 1] & 0x40:
        return None
    start = payload_offset(buf, off)
    if (
        start is None
        or start + 9 > off + PACKET_SIZE
        or buf[start] != 0
        or buf[start + 1] != 0
        or buf[start + 2] != 1
        or buf[start + 3] in _NO_HEADER_STREAM_IDS
    ):
        return None
    return start


def _timestamp(buf: Buffer, i: int) -> int:
    """A 33-bit PTS/DTS spread over 5 bytes between marker bits."""
    return (
        ((buf[i] >> 1) & 0x07) << 30
        | buf[i + 1] << 22
        | (buf[i + 2] >> 1) << 15
        | buf[i + 3] << 7
        | buf[i + 4] >> 1
    )


def parse_pes_timestamps(buf: Buffer, off: int) -> tuple[int | None, int | None]:
    """(PTS, DTS) in 90 kHz ticks of the PES packet starting in this packet;
    None for each one absent (always both without payload_unit_start)."""
    start = _pes_start(buf, off)
    if start is None:
        return None, None
    flags = buf[start + 7] >> 6
    end = off + PACKET_SIZE
    pts = _timestamp(buf, start + 9) if flags & 0b10 and start + 14 <= end else None
    dts = _timestamp(buf, start + 14) if flags == 0b11 and start + 19 <= end else None
    return pts, dts


def is_random_access(buf: Buffer, off: int, stream_type: int) -> bool:
    """Whether a decoder can start at this packet of a video PID.

    True when the adaptation field says so (random_access_indicator), or when
    a PES packet starts here and the elementary stream bytes in *this packet*
    hold an H.264 IDR slice or SPS, an HEVC IRAP picture, VPS or SPS, or an
    MPEG-2 sequence header.  Later packets of the PES are not scanned:
    encoders put these units first in the access unit, so they land in the
    first packet.
    """
    if random_access_indicator(buf, off):
        return True
    start = _pes_start(buf, off)
    if start is None:
        return False
    es = bytes(buf[start + 9 + buf[start + 8] : off + PACKET_SIZE])
    if stream_type == 0x02:
        return _MPEG2_SEQUENCE_HEADER in es
    if stream_type not in _NAL_RANDOM_ACCESS:
        return False
    shift, mask, wanted = _NAL_RANDOM_ACCESS[stream_type]
    i = es.find(_START_CODE)
    while 0 <= i < len(es) - 3:
        if (es[i + 3] >> shift) & mask in wanted:
            return True
        i = es.find(_START_CODE, i + 3)
    return False
