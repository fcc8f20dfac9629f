"""PES timestamps and random access detection on hand-made packets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.mpegts import PACKET_SIZE, is_random_access, parse_pes_timestamps

from ._tsbuild import packet, pes

H264, HEVC, MPEG2 = 0x1B, 0x24, 0x02
AUD = b"\x00\x00\x00\x01\x09\xf0"  # H.264 access unit delimiter
TIMESTAMPS = st.integers(0, (1 << 33) - 1)


def video(es: bytes, *, pusi: bool = True, rai: bool = False) -> bytes:
    payload = pes(es, pts=900) if pusi else es
    return packet(0x100, payload, pusi=pusi, rai=rai)


class TimestampTests(SynchronousTestCase):
    @given(TIMESTAMPS, TIMESTAMPS)
    def test_pts_and_dts(self, pts: int, dts: int) -> None:
        pkt = packet(0x100, pes(b"\x00" * 10, pts=pts, dts=dts), pusi=True)
        self.assertEqual(parse_pes_timestamps(pkt, 0), (pts, dts))

    @given(TIMESTAMPS)
    def test_pts_only(self, pts: int) -> None:
        pkt = packet(0x101, pes(b"", stream_id=0xC0, pts=pts), pusi=True, pcr=27_000)
        self.assertEqual(parse_pes_timestamps(pkt, 0), (pts, None))

    def test_at_an_offset_in_a_batch(self) -> None:
        batch = video(AUD) + packet(0x100, pes(b"", pts=1, dts=2), pusi=True)
        self.assertEqual(parse_pes_timestamps(batch, PACKET_SIZE), (1, 2))

    def test_none_without_a_pes_start(self) -> None:
        for pkt in (
            packet(0x100, pes(b"", pts=1)),  # no payload_unit_start
            packet(0x100, pes(b"")[:8], pusi=True),  # header cut short
            packet(0x100, b"\x00\x00\x02" + pes(b"", pts=1)[3:], pusi=True),
            packet(0x100, pes(b"", stream_id=0xBE, pts=1), pusi=True),  # padding
            packet(0x100, None, pcr=0),
        ):
            self.assertEqual(parse_pes_timestamps(pkt, 0), (None, None))


class RandomAccessTests(SynchronousTestCase):
    def test_random_access_indicator(self) -> None:
        self.assertTrue(is_random_access(video(b"", pusi=False, rai=True), 0, H264))

    def test_h264(self) -> None:
        idr = AUD + b"\x00\x00\x01\x65\x88"
        sps = AUD + b"\x00\x00\x00\x01\x67\x64\x00\x1f"
        non_idr = AUD + b"\x00\x00\x01\x41\x9a"
        self.assertTrue(is_random_access(video(idr), 0, H264))
        self.assertTrue(is_random_access(video(sps), 0, H264))
        self.assertFalse(is_random_access(video(non_idr), 0, H264))
        self.assertFalse(is_random_access(video(idr, pusi=False), 0, H264))
        self.assertFalse(is_random_access(video(idr), 0, HEVC))

    def test_hevc(self) -> None:
        aud = b"\x00\x00\x00\x01\x46\x01\x10"
        for nal_type, expected in (
            (19, True),
            (21, True),
            (32, True),
            (33, True),
            (1, False),
        ):
            es = aud + b"\x00\x00\x01" + bytes([nal_type << 1, 0x01])
            self.assertEqual(is_random_access(video(es), 0, HEVC), expected, nal_type)

    def test_mpeg2(self) -> None:
        self.assertTrue(is_random_access(video(b"\x00\x00\x01\xb3\x14\x00"), 0, MPEG2))
        self.assertFalse(is_random_access(video(b"\x00\x00\x01\x00\x00\x0f"), 0, MPEG2))

    def test_start_code_cut_at_packet_end(self) -> None:
        es = AUD.ljust(184 - 9 - 5 - 3, b"\x00") + b"\x00\x00\x01"
        pkt = video(es)
        self.assertEqual(len(pkt), PACKET_SIZE)
        self.assertFalse(is_random_access(pkt, 0, H264))

    def test_other_stream_types_need_the_indicator(self) -> None:
        self.assertFalse(is_random_access(video(AUD + b"\x00\x00\x01\x65"), 0, 0x0F))

    @given(st.binary(min_size=PACKET_SIZE - 3, max_size=PACKET_SIZE - 3))
    def test_garbage_never_raises(self, body: bytes) -> None:
        pkt = b"\x47\x41\x00" + body  # a PES should start here
        for stream_type in (H264, HEVC, MPEG2):
            is_random_access(pkt, 0, stream_type)
        parse_pes_timestamps(pkt, 0)
