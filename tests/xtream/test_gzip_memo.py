"""GzipMemo: large JSON bodies are compressed once, within a memory budget."""

from __future__ import annotations

import gzip
import os

from twisted.trial.unittest import SynchronousTestCase

from xrelay.xtream._http import GzipMemo, gzipped


def body(size: int, seed: int = 0) -> bytes:
    """Compressible like a catalog list: repeated records with some noise."""
    record = b'{"num":%d,"name":"Channel","stream_icon":"","epg_channel_id":"x"},'
    out = bytearray()
    n = seed
    while len(out) < size:
        out += record % n + os.urandom(4).hex().encode()
        n += 1
    return bytes(out[:size])


class GzipMemoTests(SynchronousTestCase):
    def test_large_bodies_are_compressed_once(self) -> None:
        memo = GzipMemo(max_bytes=10 << 20, min_size=1000)
        big = body(200_000)
        first = memo(big)
        self.assertEqual(gzip.decompress(first), big)
        self.assertIs(memo(big), first)
        self.assertIs(memo(bytes(bytearray(big))), first, "an equal copy hits too")

    def test_small_bodies_are_compressed_each_time(self) -> None:
        memo = GzipMemo(max_bytes=10 << 20, min_size=1000)
        small = body(500)
        first = memo(small)
        self.assertEqual(gzip.decompress(first), small)
        self.assertIsNot(memo(small), first)

    def test_the_budget_drops_the_least_recently_used(self) -> None:
        a, b, c = (body(100_000, seed) for seed in (0, 10_000, 20_000))
        two = sum(len(x) + len(gzipped(x)) for x in (a, b))
        memo = GzipMemo(max_bytes=two + 1000, min_size=1000)  # two, not three
        packed_a, packed_b = memo(a), memo(b)
        self.assertIs(memo(a), packed_a)  # a is now the most recent
        memo(c)  # b goes
        self.assertIs(memo(a), packed_a)
        self.assertIsNot(memo(b), packed_b)
        self.assertEqual(gzip.decompress(memo(c)), c)
