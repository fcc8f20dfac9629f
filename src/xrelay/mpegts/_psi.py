"""PSI sections: reassembly from packets, CRC, and PAT/PMT parsing."""

from __future__ import annotations

import zlib

import attrs

from xrelay.mpegts._packet import (
    PACKET_SIZE,
    Buffer,
    payload_offset,
    payload_unit_start,
)

PAT_PID = 0x0000
TABLE_PAT = 0x00
TABLE_PMT = 0x02
_STUFFING = 0xFF  # a table_id of 0xFF: the rest of the packet is filler

_REVERSED_BITS = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 of ``data``; 0 over a whole section (CRC included)
    means the section is intact.

    zlib's CRC-32 is the same polynomial, bit-reflected, with a final xor:
    feeding it bit-reversed bytes, undoing the xor and reversing the result
    gives the MPEG-2 CRC at C speed.
    """
    crc = zlib.crc32(data.translate(_REVERSED_BITS)) ^ 0xFFFFFFFF
    return int(f"{crc:032b}"[::-1], 2)


@attrs.frozen
class Section:
    data: bytes  # the whole section, table_id to CRC
    packets: bytes  # the TS packets that carried it, verbatim


class SectionAssembler:
    """Reassembles the sections carried on one PID.

    Handles sections spanning packets, several sections in one packet, the
    pointer_field and 0xFF stuffing.  Long-form sections (section_syntax_indicator
    set) are dropped and counted in ``crc_errors`` when their CRC fails; short
    ones have no CRC and pass as they are.  A section cut short by a lost
    packet is caught by its CRC or dropped at the next section start.
    """

    def __init__(self) -> None:
        self._pending: bytearray | None = None  # None: waiting for a section start
        self._packets = bytearray()  # the packets that carried the pending bytes
        self.crc_errors = 0

    def feed(self, buf: Buffer, off: int) -> list[Section]:
        """Take one packet; return the sections it completes."""
        start = payload_offset(buf, off)
        if start is None:
            return []
        end = off + PACKET_SIZE
        packet = bytes(buf[off:end])
        sections: list[Section] = []
        if payload_unit_start(buf, off):
            pointer = buf[start]
            start += 1
            if self._pending is not None:
                # The bytes before the pointed-to start end the pending section.
                self._pending += buf[start : min(start + pointer, end)]
                self._packets += packet
                self._take(sections)
            self._pending = bytearray()
            self._packets = bytearray()
            start += pointer
        elif self._pending is None:
            return sections
        self._pending += buf[start:end]
        self._packets += packet
        self._take(sections)
        return sections

    def _take(self, sections: list[Section]) -> None:
        """Move the complete sections out of the pending bytes."""
        pending = self._pending
        assert pending is not None
        while pending and pending[0] != _STUFFING:
            if len(pending) < 3:
                return
            length = 3 + (((pending[1] & 0x0F) << 8) | pending[2])
            if len(pending) < length:
                return
            data = bytes(pending[:length])
            del pending[:length]
            if data[1] & 0x80 and crc32_mpeg2(data):
                self.crc_errors += 1
            else:
                sections.append(Section(data, bytes(self._packets)))
            # Whatever follows started in the current (last) packet.
            self._packets = self._packets[-PACKET_SIZE:]
        self._pending = None
        self._packets = bytearray()


def _loop_end(section: bytes, table_id: int, header: int) -> int:
    """Validate a long-form section; return where its CRC starts."""
    if (
        len(section) < header + 4
        or section[0] != table_id
        or not section[1] & 0x80
        or 3 + (((section[1] & 0x0F) << 8) | section[2]) != len(section)
    ):
        raise ValueError(f"not a well-formed section with table_id {table_id:#04x}")
    return len(section) - 4


def parse_pat(section: bytes) -> dict[int, int]:
    """Map program_number -> PMT PID, in section order; the NIT entry
    (program 0) is left out."""
    end = _loop_end(section, TABLE_PAT, 8)
    if (end - 8) % 4:
        raise ValueError("PAT program loop is not a whole number of entries")
    programs: dict[int, int] = {}
    for i in range(8, end, 4):
        number = (section[i] << 8) | section[i + 1]
        if number:
            programs[number] = ((section[i + 2] & 0x1F) << 8) | section[i + 3]
    return programs


_CODECS = {
    0x02: "mpeg2video",
    0x03: "mp2",
    0x04: "mp2",
    0x0F: "aac",
    0x11: "aac_latm",
    0x1B: "h264",
    0x24: "hevc",
    0x81: "ac3",
    0x87: "eac3",
}
# What a private (0x06) stream carries, by descriptor tag (ETSI EN 300 468).
_PRIVATE_CODECS = {
    0x6A: "ac3",
    0x7A: "eac3",
    0x59: "dvb_subtitle",
    0x56: "dvb_teletext",
}
# ...or by registration descriptor (tag 0x05) format_identifier, as ATSC does.
_REGISTERED_CODECS = {b"AC-3": "ac3", b"EAC3": "eac3"}
_REGISTRATION = 0x05


@attrs.frozen
class StreamInfo:
    stream_type: int
    pid: int
    descriptors: tuple[tuple[int, bytes], ...] = ()  # (tag, body) of the ES info

    @property
    def codec(self) -> str | None:
        """A short codec name (ffmpeg's where one exists), "private" for an
        unrecognised private stream, None for an unknown stream_type."""
        if self.stream_type != 0x06:
            return _CODECS.get(self.stream_type)
        for tag, body in self.descriptors:
            if tag in _PRIVATE_CODECS:
                return _PRIVATE_CODECS[tag]
            if tag == _REGISTRATION and body[:4] in _REGISTERED_CODECS:
                return _REGISTERED_CODECS[body[:4]]
        return "private"


@attrs.frozen
class Pmt:
    program_number: int
    pcr_pid: int
    streams: tuple[StreamInfo, ...]


def _descriptors(data: bytes, pos: int, end: int) -> tuple[tuple[int, bytes], ...]:
    found = []
    while pos < end:
        if pos + 2 > end or pos + 2 + data[pos + 1] > end:
            raise ValueError("descriptor overruns its loop")
        found.append((data[pos], data[pos + 2 : pos + 2 + data[pos + 1]]))
        pos += 2 + data[pos + 1]
    return tuple(found)


def parse_pmt(section: bytes) -> Pmt:
    """Parse a TS_program_map_section."""
    end = _loop_end(section, TABLE_PMT, 12)
    pos = 12 + (((section[10] & 0x0F) << 8) | section[11])  # skip program_info
    if pos > end:
        raise ValueError("PMT program info overruns the section")
    streams = []
    while pos < end:
        if pos + 5 > end:
            raise ValueError("PMT stream entry overruns the section")
        info_end = pos + 5 + (((section[pos + 3] & 0x0F) << 8) | section[pos + 4])
        if info_end > end:
            raise ValueError("PMT ES info overruns the section")
        streams.append(
            StreamInfo(
                stream_type=section[pos],
                pid=((section[pos + 1] & 0x1F) << 8) | section[pos + 2],
                descriptors=_descriptors(section, pos + 5, info_end),
            )
        )
        pos = info_end
    return Pmt(
        program_number=(section[3] << 8) | section[4],
        pcr_pid=((section[8] & 0x1F) << 8) | section[9],
        streams=tuple(streams),
    )
