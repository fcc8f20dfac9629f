"""PacketSplitter: alignment, resync, and independence from chunking."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.mpegts import PACKET_SIZE, SYNC, PacketSplitter

from ._tsbuild import packet

NO_SYNC = st.integers(0, 255).filter(lambda b: b != SYNC)


def clean(count: int, *, first_cc: int = 0) -> bytes:
    """Packets whose bytes are 0x47 only at the sync positions."""
    return b"".join(
        packet(0x100, bytes([(i + j) % 0x40 for j in range(184)]), cc=first_cc + i)
        for i in range(count)
    )


def feed_all(chunks: list[bytes]) -> tuple[bytes, int, int]:
    splitter = PacketSplitter()
    out = b"".join(splitter.feed(chunk) for chunk in chunks)
    return out, splitter.garbage_bytes, splitter.resyncs


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# Streams mixing valid-looking packets (random payloads, so stray 0x47s) and
# runs of garbage, to exercise every lock and resync path.
stream_parts = st.lists(
    st.one_of(
        st.binary(min_size=187, max_size=187).map(lambda b: bytes([SYNC]) + b),
        st.binary(max_size=400),
        st.sampled_from([bytes([SYNC]), bytes([SYNC]) * 3]),
    ),
    max_size=12,
)


class SplitterTests(SynchronousTestCase):
    def test_aligned_input_passes_through(self) -> None:
        data = clean(10)
        self.assertEqual(feed_all([data]), (data, 0, 0))

    def test_returns_whole_packets_and_keeps_the_tail(self) -> None:
        data = clean(5)
        splitter = PacketSplitter()
        self.assertEqual(splitter.feed(data[:400]), data[:376])
        self.assertEqual(splitter.feed(data[400:500]), b"")
        self.assertEqual(splitter.feed(data[500:]), data[376:])

    def test_lock_waits_for_three_sync_bytes(self) -> None:
        data = clean(3)
        splitter = PacketSplitter()
        self.assertEqual(splitter.feed(data[: 2 * PACKET_SIZE]), b"")
        self.assertEqual(splitter.feed(data[2 * PACKET_SIZE :]), data)

    def test_leading_garbage_skipped(self) -> None:
        data = clean(4)
        out, garbage, resyncs = feed_all([b"\x00\x47\x01" * 50 + data])
        self.assertEqual((out, garbage, resyncs), (data, 150, 0))

    def test_resync_after_garbage(self) -> None:
        before, after = clean(3), clean(4, first_cc=3)
        out, garbage, resyncs = feed_all([before + b"\x00" * 100 + after])
        self.assertEqual((out, garbage, resyncs), (before + after, 100, 1))

    def test_resync_after_a_short_packet(self) -> None:
        """Locked, only each packet's own sync byte is checked: a packet that
        lost bytes goes out padded with the start of the next one, and the
        rest of that next one is skipped as garbage."""
        data = clean(8)
        damaged = data[:400] + data[420:]  # packet 2 loses 20 bytes
        out, garbage, resyncs = feed_all([damaged])
        self.assertEqual(out, damaged[: 3 * PACKET_SIZE] + data[4 * PACKET_SIZE :])
        self.assertEqual((garbage, resyncs), (PACKET_SIZE - 20, 1))

    def test_byte_at_a_time(self) -> None:
        data = b"junk" + clean(6) + b"\x47junk\x47" + clean(5)
        whole = feed_all([data])
        self.assertEqual(feed_all([data[i : i + 1] for i in range(len(data))]), whole)

    @given(stream_parts, st.lists(st.integers(min_value=0), max_size=20))
    def test_any_split_gives_the_same_packets(
        self, parts: list[bytes], cuts: list[int]
    ) -> None:
        data = b"".join(parts)
        out, garbage, resyncs = feed_all(split(data, cuts))
        self.assertEqual((out, garbage, resyncs), feed_all([data]))
        self.assertEqual(len(out) % PACKET_SIZE, 0)
        self.assertEqual(out[::PACKET_SIZE], bytes([SYNC]) * (len(out) // PACKET_SIZE))

    @given(
        st.integers(3, 6),
        st.binary(max_size=1000),
        st.integers(4, 6),
        st.lists(st.integers(min_value=0), max_size=10),
    )
    def test_recovers_after_any_garbage(
        self, n_before: int, garbage: bytes, n_after: int, cuts: list[int]
    ) -> None:
        """Arbitrary garbage never raises; the packets around it survive, but
        for the first one after it, which a stray 0x47 in the garbage may
        swallow into a false packet."""
        before, after = clean(n_before), clean(n_after, first_cc=n_before)
        out, _, _ = feed_all(split(before + garbage + after, cuts))
        self.assertTrue(out.startswith(before))
        self.assertTrue(out.endswith(after[PACKET_SIZE:]))

    @given(
        st.lists(NO_SYNC, min_size=1, max_size=1000).map(bytes),
        st.lists(st.integers(min_value=0), max_size=10),
    )
    def test_garbage_without_sync_bytes_is_cut_out_exactly(
        self, garbage: bytes, cuts: list[int]
    ) -> None:
        before, after = clean(3), clean(4, first_cc=3)
        result = feed_all(split(before + garbage + after, cuts))
        self.assertEqual(result, (before + after, len(garbage), 1))

    @given(st.binary(max_size=2000))
    def test_pure_garbage(self, data: bytes) -> None:
        out, garbage, _ = feed_all([data])
        self.assertEqual(len(out) % PACKET_SIZE, 0)
        self.assertLessEqual(garbage + len(out), len(data))
