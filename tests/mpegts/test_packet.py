"""Per-packet accessors and in-place writers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.mpegts import (
    PACKET_SIZE,
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

from ._tsbuild import packet

PAYLOAD = bytes(range(184))


class AccessorTests(SynchronousTestCase):
    def test_header_fields(self) -> None:
        pkt = packet(0x1ABC, PAYLOAD, pusi=True, cc=9)
        self.assertEqual(len(pkt), PACKET_SIZE)
        self.assertEqual(pid(pkt, 0), 0x1ABC)
        self.assertTrue(payload_unit_start(pkt, 0))
        self.assertEqual(continuity_counter(pkt, 0), 9)
        self.assertTrue(has_payload(pkt, 0))
        self.assertIsNone(adaptation_field_length(pkt, 0))
        self.assertEqual(payload_offset(pkt, 0), 4)
        self.assertIsNone(pcr(pkt, 0))
        self.assertFalse(random_access_indicator(pkt, 0))
        self.assertFalse(discontinuity_indicator(pkt, 0))

    def test_offsets_are_into_the_batch(self) -> None:
        """Accessors read the packet at ``off`` in a batch, of any buffer type."""
        batch = packet(0x100, PAYLOAD, cc=1) + packet(0x101, b"xy", cc=2)
        for buf in (batch, bytearray(batch), memoryview(batch)):
            self.assertEqual(pid(buf, PACKET_SIZE), 0x101)
            self.assertEqual(continuity_counter(buf, PACKET_SIZE), 2)
            self.assertEqual(adaptation_field_length(buf, PACKET_SIZE), 181)
            self.assertEqual(payload_offset(buf, PACKET_SIZE), 2 * PACKET_SIZE - 2)

    def test_adaptation_only(self) -> None:
        pkt = packet(0x100, None, pcr=1234567, cc=3)
        self.assertFalse(has_payload(pkt, 0))
        self.assertIsNone(payload_offset(pkt, 0))
        self.assertEqual(adaptation_field_length(pkt, 0), 183)

    def test_flags(self) -> None:
        pkt = packet(0x100, b"x", rai=True, discontinuity=True)
        self.assertTrue(random_access_indicator(pkt, 0))
        self.assertTrue(discontinuity_indicator(pkt, 0))

    def test_empty_adaptation_field_has_no_flags(self) -> None:
        pkt = packet(0x100, PAYLOAD[:183])
        self.assertEqual(adaptation_field_length(pkt, 0), 0)
        self.assertFalse(random_access_indicator(pkt, 0))
        self.assertIsNone(pcr(pkt, 0))

    @given(st.integers(0, (1 << 33) * 300 - 1))
    def test_pcr_round_trip(self, value: int) -> None:
        self.assertEqual(pcr(packet(0x100, b"x", pcr=value), 0), value)

    def test_overlong_adaptation_field_has_no_payload(self) -> None:
        pkt = bytearray(packet(0x100, b"x"))
        pkt[4] = 184
        self.assertIsNone(payload_offset(pkt, 0))


class WriterTests(SynchronousTestCase):
    def test_set_continuity_counter(self) -> None:
        batch = bytearray(packet(0x100, PAYLOAD, cc=1) + packet(0x100, PAYLOAD, cc=1))
        set_continuity_counter(batch, PACKET_SIZE, 0x1F)
        self.assertEqual(continuity_counter(batch, 0), 1)
        self.assertEqual(continuity_counter(batch, PACKET_SIZE), 0xF)
        self.assertEqual(batch[PACKET_SIZE + 3] & 0xF0, 0x10)

    def test_set_discontinuity_indicator(self) -> None:
        pkt = bytearray(packet(0x100, b"x", pcr=27_000_000))
        self.assertTrue(set_discontinuity_indicator(pkt, 0))
        self.assertTrue(discontinuity_indicator(pkt, 0))
        self.assertEqual(pcr(pkt, 0), 27_000_000)

    def test_set_discontinuity_indicator_needs_a_flag_byte(self) -> None:
        for original in (packet(0x100, PAYLOAD), packet(0x100, PAYLOAD[:183])):
            pkt = bytearray(original)
            self.assertFalse(set_discontinuity_indicator(pkt, 0))
            self.assertEqual(pkt, original)
