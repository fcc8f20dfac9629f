"""``Range`` headers against RFC 9110 §14."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.vod._ranges import UNSATISFIABLE, ByteRange, parse_range


class ParseRangeTests(SynchronousTestCase):
    def test_no_header_is_the_whole_file(self) -> None:
        self.assertIsNone(parse_range(None, 100))

    def test_closed_open_and_suffix_ranges(self) -> None:
        self.assertEqual(parse_range("bytes=0-0", 100), ByteRange(0, 0))
        self.assertEqual(parse_range("bytes=10-19", 100), ByteRange(10, 19))
        self.assertEqual(parse_range("bytes=99-99", 100), ByteRange(99, 99))
        self.assertEqual(parse_range("bytes=90-", 100), ByteRange(90, 99))
        self.assertEqual(parse_range("bytes=-1", 100), ByteRange(99, 99))
        self.assertEqual(parse_range("bytes=-10", 100), ByteRange(90, 99))

    def test_ranges_past_the_end_are_cut_to_it(self) -> None:
        self.assertEqual(parse_range("bytes=50-1000", 100), ByteRange(50, 99))
        self.assertEqual(parse_range("bytes=-1000", 100), ByteRange(0, 99))

    def test_spelling_is_lenient_where_the_rfc_is(self) -> None:
        self.assertEqual(parse_range("Bytes= 5-6 ", 100), ByteRange(5, 6))

    def test_unsatisfiable(self) -> None:
        for header in ("bytes=100-", "bytes=100-200", "bytes=-0", "bytes=1000-,2000-"):
            self.assertIs(parse_range(header, 100), UNSATISFIABLE, header)
        self.assertIs(parse_range("bytes=0-", 0), UNSATISFIABLE)
        self.assertIs(parse_range("bytes=-5", 0), UNSATISFIABLE)

    def test_invalid_headers_are_ignored(self) -> None:
        for header in (
            "bytes=5-2",  # last before first: an invalid spec
            "bytes=abc",
            "bytes=-",
            "bytes=1-2-3",
            "items=0-1",
            "bytes 0-1",
            "bytes=" + "9" * 5000 + "-",  # no 5000-digit number parsing
            ",".join(["bytes=0-1"] + ["2-3"] * 200),
        ):
            self.assertIsNone(parse_range(header, 100), header)

    def test_several_ranges_are_answered_whole(self) -> None:
        self.assertIsNone(parse_range("bytes=0-1,5-6", 100))
        # ... unless only one of them can be served
        self.assertEqual(parse_range("bytes=0-1,500-600", 100), ByteRange(0, 1))

    @given(
        size=st.integers(0, 10_000),
        first=st.integers(0, 12_000),
        length=st.integers(0, 12_000),
        form=st.sampled_from(["closed", "open", "suffix"]),
    )
    def test_a_range_is_exactly_the_python_slice(
        self, size: int, first: int, length: int, form: str
    ) -> None:
        data = bytes(i % 251 for i in range(size))
        if form == "closed":
            header, expected = (
                f"bytes={first}-{first + length}",
                data[first : first + length + 1],
            )
        elif form == "open":
            header, expected = f"bytes={first}-", data[first:]
        else:
            header, expected = f"bytes=-{length}", data[-length:] if length else b""
        chosen = parse_range(header, size)
        if not expected:
            self.assertIs(chosen, UNSATISFIABLE)
        else:
            assert isinstance(chosen, ByteRange)
            self.assertEqual(data[chosen.start : chosen.end + 1], expected)
            self.assertEqual(chosen.length, len(expected))
            self.assertEqual(
                chosen.content_range(size), f"bytes {chosen.start}-{chosen.end}/{size}"
            )
