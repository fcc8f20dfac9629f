"""CRC, section reassembly, PAT/PMT parsing and the PSI tracker."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.mpegts import (
    PACKET_SIZE,
    Pmt,
    PsiTracker,
    SectionAssembler,
    StreamInfo,
    crc32_mpeg2,
    parse_pat,
    parse_pmt,
)

from ._tsbuild import packet, pat_section, pmt_section, psi_packets, section


def reference_crc(data: bytes) -> int:
    """CRC-32/MPEG-2 bit by bit, straight from the definition."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (
                (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
            ) & 0xFFFFFFFF
    return crc


def assemble(data: bytes) -> tuple[list[bytes], SectionAssembler]:
    assembler = SectionAssembler()
    found = []
    for off in range(0, len(data), PACKET_SIZE):
        found += [s.data for s in assembler.feed(data, off)]
    return found, assembler


H264_AAC = [(0x1B, 0x100, b""), (0x0F, 0x101, b"\x0a\x04eng\x00")]


class CrcTests(SynchronousTestCase):
    def test_check_value(self) -> None:
        self.assertEqual(crc32_mpeg2(b"123456789"), 0x0376E6E7)

    @given(st.binary(max_size=300))
    def test_matches_reference(self, data: bytes) -> None:
        self.assertEqual(crc32_mpeg2(data), reference_crc(data))

    def test_intact_section_checks_to_zero(self) -> None:
        self.assertEqual(crc32_mpeg2(pat_section({1: 0x1000})), 0)


class SectionAssemblerTests(SynchronousTestCase):
    def test_single_packet_section(self) -> None:
        pat = pat_section({1: 0x1000})
        assembler = SectionAssembler()
        carrier = psi_packets(0, [pat])
        [found] = assembler.feed(carrier, 0)
        self.assertEqual((found.data, found.packets), (pat, carrier))

    def test_section_spanning_packets(self) -> None:
        streams = [
            (0x06, 0x100 + i, b"\x59\x08" + b"eng\x10\x00\x01\x00\x01")
            for i in range(30)
        ]
        pmt = pmt_section(1, 0x100, streams)
        data = b"\x00" * PACKET_SIZE + psi_packets(
            0x1000, [pmt]
        )  # a stray packet first
        self.assertGreater(len(data), 3 * PACKET_SIZE)
        assembler = SectionAssembler()
        sections = [
            s
            for off in range(0, len(data), PACKET_SIZE)
            for s in assembler.feed(data, off)
        ]
        self.assertEqual([s.data for s in sections], [pmt])
        self.assertEqual(sections[0].packets, data[PACKET_SIZE:])

    def test_several_sections_in_one_packet(self) -> None:
        a, b = pat_section({1: 0x1000}), pat_section({2: 0x1001})
        self.assertEqual(assemble(psi_packets(0, [a, b, a]))[0], [a, b, a])

    def test_pointer_field_ends_the_previous_section(self) -> None:
        """A section's tail sits before the pointed-to start of the next."""
        long = pmt_section(1, 0x100, [(0x1B, 0x100 + i, b"") for i in range(40)])
        short = pat_section({1: 0x1000})
        first = packet(0, b"\x00" + long[:183], pusi=True)
        rest = long[183:]
        second = packet(0, bytes([len(rest)]) + rest + short, pusi=True, cc=1)
        assembler = SectionAssembler()
        self.assertEqual(assembler.feed(first, 0), [])
        [a, b] = assembler.feed(second, 0)
        self.assertEqual((a.data, a.packets), (long, first + second))
        self.assertEqual((b.data, b.packets), (short, second))

    def test_crc_error_counted_and_dropped(self) -> None:
        bad = bytearray(pat_section({1: 0x1000}))
        bad[9] ^= 1
        found, assembler = assemble(psi_packets(0, [bytes(bad), pat_section({2: 1})]))
        self.assertEqual(found, [pat_section({2: 1})])
        self.assertEqual(assembler.crc_errors, 1)

    def test_waits_for_a_section_start(self) -> None:
        pmt = pmt_section(1, 0x100, [(0x1B, 0x100 + i, b"") for i in range(40)])
        carriers = psi_packets(0x1000, [pmt])
        self.assertEqual(len(carriers), 2 * PACKET_SIZE)
        found, _ = assemble(carriers[PACKET_SIZE:] + carriers)  # joined mid-section
        self.assertEqual(found, [pmt])

    def test_sections_starting_mid_packet(self) -> None:
        pmt = pmt_section(1, 0x100, [(0x1B, 0x100 + i, b"") for i in range(40)])
        carriers = psi_packets(0x1000, [pmt, pmt, pmt])
        self.assertEqual(assemble(carriers)[0], [pmt, pmt, pmt])
        self.assertEqual(assemble(carriers[PACKET_SIZE:])[0], [pmt, pmt])

    def test_lost_packet_is_not_a_section(self) -> None:
        pmt = pmt_section(1, 0x100, [(0x1B, 0x100 + i, b"") for i in range(80)])
        carriers = psi_packets(0x1000, [pmt])
        found, _ = assemble(carriers[:PACKET_SIZE] + carriers[2 * PACKET_SIZE :])
        self.assertEqual(found, [])

    @given(st.binary(min_size=PACKET_SIZE * 4, max_size=PACKET_SIZE * 4))
    def test_garbage_never_raises(self, data: bytes) -> None:
        assemble(data)


class ParseTests(SynchronousTestCase):
    def test_pat(self) -> None:
        self.assertEqual(
            parse_pat(pat_section({0: 0x10, 1: 0x1000, 2: 0x1001})),
            {1: 0x1000, 2: 0x1001},
        )

    def test_pmt(self) -> None:
        pmt = parse_pmt(pmt_section(7, 0x100, H264_AAC))
        self.assertEqual(
            pmt,
            Pmt(
                program_number=7,
                pcr_pid=0x100,
                streams=(
                    StreamInfo(0x1B, 0x100),
                    StreamInfo(0x0F, 0x101, ((0x0A, b"eng\x00"),)),
                ),
            ),
        )
        self.assertEqual([s.codec for s in pmt.streams], ["h264", "aac"])

    def test_codec_names(self) -> None:
        cases = {
            (0x24, b""): "hevc",
            (0x02, b""): "mpeg2video",
            (0x03, b""): "mp2",
            (0x04, b""): "mp2",
            (0x81, b""): "ac3",
            (0x06, b"\x6a\x01\x00"): "ac3",
            (0x06, b"\x7a\x01\x00"): "eac3",
            (0x06, b"\x05\x04AC-3"): "ac3",
            (0x06, b"\x0a\x04eng\x00\x59\x08eng\x10\x00\x01\x00\x01"): "dvb_subtitle",
            (0x06, b"\x0a\x04eng\x00"): "private",
            (0x99, b""): None,
        }
        for (stream_type, info), codec in cases.items():
            [stream] = parse_pmt(
                pmt_section(1, 0x100, [(stream_type, 0x100, info)])
            ).streams
            self.assertEqual(stream.codec, codec, (stream_type, info))

    def test_malformed(self) -> None:
        pat = pat_section({1: 0x1000})
        for bad in (
            pat[:-1],
            pmt_section(1, 0x100, []),  # wrong table
            section(0x00, 1, b"\x00\x01\xe0"),  # partial program entry
        ):
            with self.assertRaises(ValueError):
                parse_pat(bad)
        for bad in (
            pat,
            section(0x02, 1, b"\xe1\x00\xf0\x09\x00"),  # program info overruns
            section(0x02, 1, b"\xe1\x00\xf0\x00\x1b\xe1\x00\xf0\x05\x0a\x09"),
        ):
            with self.assertRaises(ValueError):
                parse_pmt(bad)

    @given(st.binary(max_size=200))
    def test_garbage_raises_only_value_error(self, data: bytes) -> None:
        for parse in (parse_pat, parse_pmt):
            with contextlib.suppress(ValueError):
                parse(data)


def program(
    version: int = 0, streams: list[tuple[int, int, bytes]] = H264_AAC, *, cc: int = 0
) -> bytes:
    """PAT and PMT packets for program 1 (PMT on PID 0x1000)."""
    return psi_packets(0, [pat_section({1: 0x1000})], cc=cc) + psi_packets(
        0x1000, [pmt_section(1, 0x100, streams, version=version)], cc=cc
    )


class PsiTrackerTests(SynchronousTestCase):
    def test_follows_pat_and_pmt(self) -> None:
        tracker = PsiTracker()
        self.assertEqual(
            (tracker.pat, tracker.pmts, tracker.psi_packets), ({}, {}, b"")
        )
        data = program()
        tracker.feed(data)
        self.assertEqual(tracker.pat, {1: 0x1000})
        self.assertEqual(tracker.pmts, {1: parse_pmt(pmt_section(1, 0x100, H264_AAC))})
        self.assertEqual(
            (tracker.pcr_pid, tracker.video_pid, tracker.video_stream_type),
            (0x100, 0x100, 0x1B),
        )
        self.assertEqual(tracker.psi_packets, data)
        self.assertEqual(tracker.errors, 0)

    def test_pmt_before_pat_is_ignored(self) -> None:
        tracker = PsiTracker()
        data = program()
        tracker.feed(data[PACKET_SIZE:] + data)
        self.assertEqual(tracker.version, 2)
        self.assertEqual(tracker.psi_packets, data)

    def test_version_changes_with_content_only(self) -> None:
        tracker = PsiTracker()
        tracker.feed(program())
        version = tracker.version
        tracker.feed(program(cc=1) + program(cc=2))
        self.assertEqual(tracker.version, version)
        self.assertEqual(tracker.psi_packets, program(cc=2))  # the latest carriers
        tracker.feed(program(1, [(0x24, 0x200, b"")]))
        self.assertNotEqual(tracker.version, version)
        self.assertEqual((tracker.video_pid, tracker.video_stream_type), (0x200, 0x24))

    def test_no_video(self) -> None:
        tracker = PsiTracker()
        tracker.feed(program(streams=[(0x0F, 0x101, b"")]))
        self.assertEqual((tracker.pcr_pid, tracker.video_pid), (0x100, None))

    def test_program_change_drops_its_pmt(self) -> None:
        tracker = PsiTracker()
        tracker.feed(program())
        tracker.feed(psi_packets(0, [pat_section({1: 0x1001}, version=1)], cc=1))
        self.assertEqual((tracker.pmts, tracker.video_pid), ({}, None))
        self.assertEqual(
            tracker.psi_packets,
            psi_packets(0, [pat_section({1: 0x1001}, version=1)], cc=1),
        )
        tracker.feed(psi_packets(0x1001, [pmt_section(1, 0x100, H264_AAC)]))
        self.assertEqual(tracker.video_pid, 0x100)

    def test_first_program_is_selected(self) -> None:
        tracker = PsiTracker()
        tracker.feed(
            psi_packets(0, [pat_section({5: 0x1005, 3: 0x1003})])
            + psi_packets(0x1003, [pmt_section(3, 0x300, [(0x02, 0x300, b"")])])
        )
        self.assertIsNone(tracker.video_pid)
        tracker.feed(psi_packets(0x1005, [pmt_section(5, 0x500, [(0x1B, 0x501, b"")])]))
        self.assertEqual((tracker.pcr_pid, tracker.video_pid), (0x500, 0x501))
        self.assertEqual(len(tracker.psi_packets), 3 * PACKET_SIZE)

    def test_errors_counted(self) -> None:
        tracker = PsiTracker()
        bad_crc = bytearray(psi_packets(0, [pat_section({1: 0x1000})]))
        bad_crc[10] ^= 1
        malformed = psi_packets(0, [section(0x00, 1, b"\x00\x01\xe0")])
        tracker.feed(bytes(bad_crc) + malformed)
        self.assertEqual((tracker.errors, tracker.pat), (2, {}))

    def test_next_sections_ignored(self) -> None:
        pat = bytearray(pat_section({1: 0x1000}))
        pat[5] &= 0xFE  # current_next_indicator = 0
        pat[-4:] = crc32_mpeg2(bytes(pat[:-4])).to_bytes(4, "big")
        tracker = PsiTracker()
        tracker.feed(psi_packets(0, [bytes(pat)]))
        self.assertEqual((tracker.pat, tracker.version), ({}, 0))
