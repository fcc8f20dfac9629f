"""Pure MPEG transport stream parsing for the relay (no Twisted imports).

The hot path works on batches: ``PacketSplitter.feed`` returns a bytes run of
whole packets, and the accessors take ``(buf, offset)`` so callers walk that
run without creating an object per packet.
"""

from xrelay.mpegts._continuity import ContinuityChecker
from xrelay.mpegts._packet import (
    NULL_PID,
    PACKET_SIZE,
    SYNC,
    adaptation_field_length,
    continuity_counter,
    discontinuity_indicator,
    has_payload,
    payload_offset,
    payload_unit_start,
    pcr,
    pid,
    random_access_indicator,
    set_continuity_counter,
    set_discontinuity_indicator,
)
from xrelay.mpegts._pes import (
    VIDEO_STREAM_TYPES,
    is_random_access,
    parse_pes_timestamps,
)
from xrelay.mpegts._psi import (
    Pmt,
    Section,
    SectionAssembler,
    StreamInfo,
    crc32_mpeg2,
    parse_pat,
    parse_pmt,
)
from xrelay.mpegts._splitter import PacketSplitter
from xrelay.mpegts._tracker import PsiTracker

__all__ = [
    "NULL_PID",
    "PACKET_SIZE",
    "SYNC",
    "VIDEO_STREAM_TYPES",
    "ContinuityChecker",
    "PacketSplitter",
    "Pmt",
    "PsiTracker",
    "Section",
    "SectionAssembler",
    "StreamInfo",
    "adaptation_field_length",
    "continuity_counter",
    "crc32_mpeg2",
    "discontinuity_indicator",
    "has_payload",
    "is_random_access",
    "parse_pat",
    "parse_pes_timestamps",
    "parse_pmt",
    "payload_offset",
    "payload_unit_start",
    "pcr",
    "pid",
    "random_access_indicator",
    "set_continuity_counter",
    "set_discontinuity_indicator",
]
