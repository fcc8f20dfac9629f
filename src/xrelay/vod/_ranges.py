"""HTTP ``Range: bytes=...`` (RFC 9110 §14), for one representation of a
known size.  Pure.

One satisfiable range is answered 206 (the unsatisfiable ones of a set are
left out, as RFC 9110 allows); a set of ranges none of which overlaps the
file is 416; a header that is not a valid ``bytes`` range set is ignored,
and so is a set of several satisfiable ranges (both are answered 200 with
the whole file, which RFC 9110 allows: players ask for one range at a
time, and multipart bodies are not worth having for them).
"""

from __future__ import annotations

import re

import attrs


@attrs.frozen
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


@attrs.frozen
class Unsatisfiable:
    def content_range(self, size: int) -> str:
        return f"bytes */{size}"


UNSATISFIABLE = Unsatisfiable()

_SPEC = re.compile(r"(\d{1,30})-(\d{0,30})|-(\d{1,30})")  # no 4300-digit ints
_MAX_SPECS = 100  # more is an attack (or a broken client): ignore the header


def parse_range(header: str | None, size: int) -> ByteRange | Unsatisfiable | None:
    """What to send of a ``size``-byte file: a ``ByteRange`` (206),
    ``UNSATISFIABLE`` (416), or None for the whole file (200)."""
    if header is None:
        return None
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    ranges: list[ByteRange | None] = []
    parts = specs.split(",")
    if len(parts) > _MAX_SPECS:
        return None
    for part in parts:
        match = _SPEC.fullmatch(part.strip())
        if match is None:
            return None  # not a range set: ignored as a whole
        first, last, suffix = match.groups()
        if suffix is not None:  # the last N bytes
            length = int(suffix)
            ranges.append(
                ByteRange(max(size - length, 0), size - 1)
                if length > 0 and size > 0
                else None
            )
            continue
        start = int(first)
        if last and int(last) < start:
            return None  # invalid spec: the header is ignored
        end = min(int(last), size - 1) if last else size - 1
        ranges.append(ByteRange(start, end) if start < size else None)
    satisfiable = [r for r in ranges if r is not None]
    if not satisfiable:
        return UNSATISFIABLE
    if len(satisfiable) > 1:
        return None
    return satisfiable[0]
