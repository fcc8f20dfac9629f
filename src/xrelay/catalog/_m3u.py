"""Extended M3U playlists: bytes in, entries and problems out.  Pure.

Accepted, line by line (lines split on LF, CRLF or CR; a UTF-8 BOM is
skipped; blank lines are ignored):

- ``#EXTM3U`` with optional ``key="value"`` attributes (kept in ``header``);
  the header itself is optional (plain M3U).
- ``#EXTINF:<duration> key="value" ...,Display Name``: attributes in any
  order, quoted ('"' or "'") or unquoted; commas may appear inside quoted
  values and in the name.  ``tvg-id``, ``tvg-logo``, ``group-title`` and
  ``tvg-chno`` are used, and ``tvg-name`` when the name after the comma is
  empty; other attributes are ignored.
  The entry's URL is the next line that is not a comment.
- ``#EXTGRP:Group``: the group of the next entry when it has no
  ``group-title``.
- ``#EXTVLCOPT:`` and any other ``#`` line: ignored.
- A URL line with no ``#EXTINF`` before it is an entry named after its URL
  (plain M3U).

Every line that cannot be used becomes a `Problem`: an ``#EXTINF`` with no
URL after it, bad attribute syntax (unterminated quote, no ``=``), no ``,``
before the name, an empty name, a bad ``tvg-chno``, a URL whose scheme is not
http, https, udp, rtp, tcp or file (``exec:`` is refused: it would run a
command on the server), a URL seen earlier in the playlist, text that is not
UTF-8.  Callers decide what to do with a playlist that has any (the importer
refuses the whole playlist).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

# Schemes a channel source may use.  ``exec:`` runs a command on the server,
# so a playlist from elsewhere may not bring one in; ``transcode:`` names a
# channel of this server (xrelay.transcode), meaningless in one.
SOURCE_SCHEMES = ("http", "https", "udp", "rtp", "tcp", "file", "exec", "transcode")
_IMPORT_SCHEMES = tuple(s for s in SOURCE_SCHEMES if s not in ("exec", "transcode"))
_TRANSCODE = re.compile(r"\d{1,9}\?profile=[A-Za-z0-9_-]{1,32}")

_BOM = b"\xef\xbb\xbf"
_DURATION = re.compile(r"\s*-?\d+(?:\.\d+)?")
_KEY = re.compile(r"[A-Za-z0-9_-]+")
_MAX_CHNO = 2**31 - 1  # what players parsing channel numbers as int32 accept


@attrs.frozen
class Problem:
    line: int  # 1-based
    reason: str


@attrs.frozen
class Entry:
    """One playlist item.  ``line`` is where it starts (its ``#EXTINF``, or
    the URL for a bare URL line); ``chno`` is ``tvg-chno`` when given."""

    line: int
    name: str
    url: str
    group: str = ""
    tvg_id: str = ""
    logo: str = ""
    chno: int | None = None


@attrs.frozen
class Playlist:
    entries: tuple[Entry, ...]
    problems: tuple[Problem, ...]
    header: dict[str, str]  # the #EXTM3U attributes


class _BadLine(Exception):
    """A line that cannot be used; the message is the reason."""


def check_source_url(url: str, schemes: tuple[str, ...] = SOURCE_SCHEMES) -> str | None:
    """Why ``url`` cannot be a channel source, or None if it can."""
    if not url:
        return "empty URL"
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    if not rest or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        return f"not a URL: {url!r} (expected scheme://...)"
    if scheme == "exec" and "exec" not in schemes:
        return "exec: sources run commands on the server; refused from a playlist"
    if scheme not in schemes:
        return f"unsupported URL scheme {scheme!r} (allowed: {', '.join(schemes)})"
    if scheme == "exec":  # a command line: spaces are expected
        return None if rest.strip() else "exec: source has no command"
    if scheme == "transcode" and not _TRANSCODE.fullmatch(rest):
        return "expected transcode:CHANNEL_ID?profile=NAME"
    if any(c.isspace() for c in url):
        return "URL contains whitespace"
    if scheme in ("http", "https") and not urlsplit(url).hostname:
        return f"{scheme} URL has no host"
    if not rest.strip("/"):
        return f"{scheme} URL has no path"
    return None


def parse_m3u(data: bytes) -> Playlist:
    """Parse a whole playlist.  Never raises: bad lines become problems."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    parser = _Parser()
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            parser.line(number, raw.decode("utf-8").strip())
        except UnicodeDecodeError:
            parser.problems.append(Problem(number, "not valid UTF-8"))
    return parser.end()


@attrs.define
class _Parser:
    entries: list[Entry] = attrs.Factory(list)
    problems: list[Problem] = attrs.Factory(list)
    header: dict[str, str] = attrs.Factory(dict)
    # The #EXTINF waiting for its URL (url ""), or None; a #EXTINF that had a
    # problem still waits, so that its URL line does not become an entry.
    info: Entry | None = None
    info_ok: bool = True
    group: str = ""  # from #EXTGRP, for the next entry
    seen_urls: dict[str, int] = attrs.Factory(dict)  # url -> its entry's line

    def line(self, number: int, text: str) -> None:
        upper = text.upper()
        if upper.startswith("#EXTINF:"):
            self._close()
            try:
                self.info, self.info_ok = _parse_extinf(number, text[8:]), True
            except _BadLine as e:
                self.problems.append(Problem(number, str(e)))
                self.info, self.info_ok = Entry(number, "", ""), False
        elif upper.startswith("#EXTGRP:"):
            self.group = text[8:].strip()
        elif upper == "#EXTM3U" or upper.startswith(("#EXTM3U ", "#EXTM3U\t")):
            try:
                self.header.update(_parse_attributes(text[7:], 0)[0])
            except _BadLine as e:
                self.problems.append(Problem(number, str(e)))
        elif text and not text.startswith("#"):
            self._url(number, text)

    def end(self) -> Playlist:
        self._close()
        return Playlist(tuple(self.entries), tuple(self.problems), self.header)

    def _close(self) -> None:
        """An #EXTINF still waiting when the next one (or the end) comes."""
        if self.info is not None and self.info_ok:
            self.problems.append(
                Problem(self.info.line, "#EXTINF is not followed by a URL line")
            )
        self.info = None

    def _url(self, number: int, url: str) -> None:
        info, ok, group = self.info, self.info_ok, self.group
        self.info, self.info_ok, self.group = None, True, ""
        reason = check_source_url(url, _IMPORT_SCHEMES)
        if reason is None and url in self.seen_urls:
            reason = f"same URL as the entry on line {self.seen_urls[url]}"
        if reason is not None:
            self.problems.append(Problem(number, reason))
        elif ok:
            entry = info or Entry(number, url, url)
            entry = attrs.evolve(entry, url=url, group=entry.group or group)
            self.seen_urls[url] = entry.line
            self.entries.append(entry)


def _parse_extinf(line: int, rest: str) -> Entry:
    """``rest`` is what follows ``#EXTINF:``; the entry has no URL yet."""
    duration = _DURATION.match(rest)
    attributes, pos = _parse_attributes(rest, duration.end() if duration else 0)
    if pos >= len(rest):
        raise _BadLine("#EXTINF has no ',' before the channel name")
    name = rest[pos + 1 :].strip() or attributes.get("tvg-name", "").strip()
    if not name:
        raise _BadLine("empty channel name")
    chno_text = attributes.get("tvg-chno", "").strip()
    chno = int(chno_text) if chno_text.isascii() and chno_text.isdecimal() else 0
    if chno_text and not 1 <= chno <= _MAX_CHNO:
        raise _BadLine(
            f"tvg-chno must be a whole number from 1 to {_MAX_CHNO}, not {chno_text!r}"
        )
    return Entry(
        line=line,
        name=name,
        url="",
        group=attributes.get("group-title", "").strip(),
        tvg_id=attributes.get("tvg-id", "").strip(),
        logo=attributes.get("tvg-logo", "").strip(),
        chno=chno or None,
    )


def _parse_attributes(text: str, pos: int) -> tuple[dict[str, str], int]:
    """``key=value`` pairs from ``pos`` up to a ',' or the end of ``text``;
    returns them and the position where they stopped."""
    attributes: dict[str, str] = {}
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text) or text[pos] == ",":
            return attributes, pos
        key = _KEY.match(text, pos)
        if key is None or not text.startswith("=", key.end()):
            raise _BadLine(f"expected key=value at column {pos + 1}")
        pos = key.end() + 1
        quote = text[pos : pos + 1]
        if quote in ('"', "'"):
            end = text.find(quote, pos + 1)
            if end < 0:
                raise _BadLine(f"unterminated quote in attribute {key.group()}")
            value, pos = text[pos + 1 : end], end + 1
        else:
            end = pos
            while end < len(text) and not text[end].isspace() and text[end] != ",":
                end += 1
            value, pos = text[pos:end], end
        attributes[key.group().lower()] = value
