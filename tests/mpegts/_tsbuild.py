"""Hand-made transport packets, sections and PES headers for the tests."""

from __future__ import annotations

from xrelay.mpegts import PACKET_SIZE, SYNC, crc32_mpeg2


def packet(
    pid: int,
    payload: bytes | None = None,
    *,
    pusi: bool = False,
    cc: int = 0,
    pcr: int | None = None,
    rai: bool = False,
    discontinuity: bool = False,
) -> bytes:
    """One packet; ``payload=None`` makes it adaptation-only.  A short
    payload is padded by stuffing the adaptation field, as muxers do."""
    flags = (discontinuity << 7) | (rai << 6) | ((pcr is not None) << 4)
    af_body = bytes([flags])
    if pcr is not None:
        base, ext = divmod(pcr, 300)
        af_body += ((base << 15) | (0x3F << 9) | ext).to_bytes(6, "big")
    room = PACKET_SIZE - 4 - (len(payload) if payload is not None else 0)
    if payload is not None and room == 0 and not flags:
        control, af = 0x10, b""
    elif room == 1 and not flags:
        control, af = 0x30, b"\x00"  # a zero-length field: one stuffing byte
    else:
        assert room >= 1 + len(af_body), "payload too long for the adaptation field"
        control = 0x30 if payload is not None else 0x20
        af = bytes([room - 1]) + af_body + b"\xff" * (room - 1 - len(af_body))
    header = bytes([SYNC, (pusi << 6) | (pid >> 8), pid & 0xFF, control | (cc & 0x0F)])
    return header + af + (payload or b"")


def section(table_id: int, extension: int, body: bytes, *, version: int = 0) -> bytes:
    """A long-form section with current_next_indicator set and its CRC."""
    length = 5 + len(body) + 4
    head = bytes(
        [
            table_id,
            0xB0 | (length >> 8),
            length & 0xFF,
            extension >> 8,
            extension & 0xFF,
            0xC1 | (version << 1),
            0,
            0,
        ]
    )
    data = head + body
    return data + crc32_mpeg2(data).to_bytes(4, "big")


def pat_section(programs: dict[int, int], *, version: int = 0) -> bytes:
    body = b"".join(
        n.to_bytes(2, "big") + (0xE000 | p).to_bytes(2, "big")
        for n, p in programs.items()
    )
    return section(0x00, 1, body, version=version)


def pmt_section(
    program: int,
    pcr_pid: int,
    streams: list[tuple[int, int, bytes]],
    *,
    version: int = 0,
) -> bytes:
    """``streams`` holds (stream_type, pid, raw ES info descriptors)."""
    body = (0xE000 | pcr_pid).to_bytes(2, "big") + b"\xf0\x00"
    for stream_type, pid, info in streams:
        body += bytes([stream_type]) + (0xE000 | pid).to_bytes(2, "big")
        body += (0xF000 | len(info)).to_bytes(2, "big") + info
    return section(0x02, program, body, version=version)


def psi_packets(pid: int, sections: list[bytes], *, cc: int = 0) -> bytes:
    """Sections back to back over as many packets as needed, with a
    pointer_field in each packet where one starts; 0xFF pads the last."""
    stream = b"".join(sections)
    starts = [sum(len(s) for s in sections[:i]) for i in range(len(sections))]
    out = b""
    pos = 0
    while pos < len(stream):
        first = next((s for s in starts if pos <= s < pos + 183), None)
        if first is None:
            payload = stream[pos : pos + 184]
        else:
            payload = bytes([first - pos]) + stream[pos : pos + 183]
        pos += len(payload) - (first is not None)
        out += packet(pid, payload.ljust(184, b"\xff"), pusi=first is not None, cc=cc)
        cc += 1
    return out


def timestamp(prefix: int, value: int) -> bytes:
    """A PTS/DTS field: 4-bit prefix, 33 bits split by marker bits."""
    return bytes(
        [
            (prefix << 4) | ((value >> 29) & 0x0E) | 1,
            (value >> 22) & 0xFF,
            ((value >> 14) & 0xFE) | 1,
            (value >> 7) & 0xFF,
            ((value << 1) & 0xFE) | 1,
        ]
    )


def pes(
    es: bytes, *, stream_id: int = 0xE0, pts: int | None = None, dts: int | None = None
) -> bytes:
    """A PES packet header with optional PTS/DTS, followed by ``es``."""
    fields = b""
    if pts is not None and dts is not None:
        fields = timestamp(0b0011, pts) + timestamp(0b0001, dts)
    elif pts is not None:
        fields = timestamp(0b0010, pts)
    flags = (pts is not None) << 7 | (dts is not None) << 6
    return bytes([0, 0, 1, stream_id, 0, 0, 0x80, flags, len(fields)]) + fields + es
