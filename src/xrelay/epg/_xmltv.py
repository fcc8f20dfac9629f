"""XMLTV parsing: bytes in, guide channels and programmes out.

Pure and incremental: ``XmltvParser.feed`` takes the document in chunks of
any size and returns what they completed, so memory stays bounded by the
longest element, whatever the size of the guide.  The guards are the ones
defusedxml puts on expat: no entity declarations (billion laughs, quadratic
blow-up) and no external entities or DTDs (nothing is ever fetched or
read); on top of that a single token (a tag, a comment) larger than
``MAX_TOKEN`` bytes, or nesting deeper than ``MAX_DEPTH``, stops the parse.

Real guides are often sloppy, so a bad programme is rejected alone
(counted by reason in ``rejects``, the first few described in ``notes``)
instead of failing the document: unparseable or zone-less times, a missing
title or channel, a stop before the start.  A programme without a stop
ends where the next one on its channel starts.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections import Counter
from typing import Any
from xml.parsers import expat

import attrs

MAX_TOKEN = 2 * 1024 * 1024
"""Bytes fed with no element or text seen: a single tag, attribute or
comment that large is an attack, not a guide."""
MAX_DEPTH = 32
MAX_TEXT = 32 * 1024
"""Characters kept of one text field (a description); the rest is cut."""
MAX_CATEGORIES = 8
_PIECE = 1024 * 1024  # fed to expat at a time, so the token guard stays exact
MAX_NOTES = 10


class XmltvError(ValueError):
    """The document is not XMLTV we can read (the message says where);
    nothing of it should be used."""


@attrs.frozen
class GuideChannel:
    id: str
    names: tuple[str, ...]
    icon: str = ""


@attrs.frozen
class Programme:
    """One programme; times are Unix epoch seconds."""

    channel: str
    start: int
    stop: int
    title: str
    lang: str = ""
    sub_title: str = ""
    desc: str = ""
    categories: tuple[str, ...] = ()
    icon: str = ""
    episode_system: str = ""
    episode: str = ""


Event = GuideChannel | Programme

_TIME = re.compile(
    r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?"
    r"\s*(?:([+-])(\d\d):?(\d\d)|(Z|UTC|GMT|UT))?\s*",
    re.ASCII | re.IGNORECASE,
)


@functools.lru_cache(maxsize=4096)
def _day(year: int, month: int, day: int) -> int | None:
    """Days since 1970-01-01, None for an impossible date."""
    try:
        return datetime.date(year, month, day).toordinal() - 719163
    except ValueError:
        return None


def parse_time(text: str) -> tuple[int, bool] | None:
    """An XMLTV time (``YYYYMMDDhhmm[ss] [±hhmm]``) as (epoch seconds,
    whether it named its zone); None if it is not one.  Without a zone the
    time is read as UTC, which is what the XMLTV DTD says."""
    m = _TIME.fullmatch(text)
    if m is None:
        return None
    hour, minute, second = int(m[4]), int(m[5]), int(m[6] or 0)
    day = _day(int(m[1]), int(m[2]), int(m[3]))
    if day is None or hour > 23 or minute > 59 or second > 60:
        return None
    epoch = day * 86400 + hour * 3600 + minute * 60 + min(second, 59)
    if m[7]:
        offset = int(m[8]) * 3600 + int(m[9]) * 60
        if offset > 14 * 3600:
            return None
        return epoch - offset if m[7] == "+" else epoch + offset, True
    return epoch, m[10] is not None


def _clean(parts: list[str]) -> str:
    """Element text with whitespace runs made one space (as the DTD reads
    descriptions), cut to ``MAX_TEXT``."""
    return " ".join("".join(parts).split())[:MAX_TEXT]


# Elements whose text is kept, by parent.
_CHANNEL_TEXT = frozenset({"display-name"})
_PROGRAMME_TEXT = frozenset({"title", "sub-title", "desc", "category", "episode-num"})


class XmltvParser:
    def __init__(self) -> None:
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.buffer_size = 65536
        parser.ordered_attributes = False
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.EntityDeclHandler = self._entity_declared
        parser.UnparsedEntityDeclHandler = self._entity_declared
        parser.ExternalEntityRefHandler = self._external_entity
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        self._parser = parser
        self.rejects: Counter[str] = Counter()
        self.notes: list[str] = []
        self.zoneless = 0  # times without a zone, read as UTC
        self._events: list[Event] = []
        self._depth = 0
        self._quiet = 0  # bytes fed since the parser last reported anything
        self._item: dict[str, Any] | None = None  # the channel/programme open
        self._kind = ""
        self._field = ""  # the text element being collected, if any
        self._field_lang = ""
        self._field_system = ""
        self._parts: list[str] = []
        self._kept = 0  # characters in _parts
        self._waiting: dict[str, dict[str, Any]] = {}  # channel -> stop-less one

    def feed(self, data: bytes) -> list[Event]:
        """Parse the next chunk; the channels and programmes it completed."""
        for at in range(0, len(data), _PIECE):
            self._quiet += min(_PIECE, len(data) - at)
            if self._quiet > MAX_TOKEN:
                raise self._error(f"a single XML token is over {MAX_TOKEN} bytes")
            self._parse(data[at : at + _PIECE], False)
        events, self._events = self._events, []
        return events

    def close(self) -> list[Event]:
        """The end of the document: fails if it is incomplete."""
        self._parse(b"", True)
        for item in self._waiting.values():
            self._reject("no stop time (last programme of its channel)", item)
        self._waiting.clear()
        events, self._events = self._events, []
        return events

    def _parse(self, data: bytes, final: bool) -> None:
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as e:
            raise self._error(expat.errors.messages[e.code]) from None

    def _error(self, reason: str) -> XmltvError:
        p = self._parser
        return XmltvError(
            f"line {p.CurrentLineNumber}, column {p.CurrentColumnNumber}: {reason}"
        )

    # -- the defusedxml guards

    def _entity_declared(self, name: str | None, *_: object) -> None:
        raise self._error(
            f"entity declaration {name!r} refused (XML entity expansion attack?)"
        )

    def _external_entity(self, *_: object) -> int:
        raise self._error("external entity refused")

    # -- expat callbacks

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        self._quiet = 0
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._error(f"elements nested deeper than {MAX_DEPTH}")
        if self._depth == 2:
            if name == "programme" or name == "channel":
                self._kind = name
                self._item = {"@": attributes, "line": self._parser.CurrentLineNumber}
            return
        item = self._item
        if item is None or self._depth != 3:
            return
        if name == "icon":
            item.setdefault("icon", attributes.get("src", ""))
        elif name in (_CHANNEL_TEXT if self._kind == "channel" else _PROGRAMME_TEXT):
            self._field = name
            self._field_lang = attributes.get("lang", "")
            self._field_system = attributes.get("system", "")
            self._parts = []
            self._kept = 0

    def _text(self, data: str) -> None:
        self._quiet = 0
        if self._field and self._kept < MAX_TEXT:
            self._parts.append(data)
            self._kept += len(data)

    def _end(self, name: str) -> None:
        self._quiet = 0
        self._depth -= 1
        item = self._item
        if item is None:
            return
        if self._depth == 2 and self._field:
            self._field = ""
            self._keep_field(item, name, _clean(self._parts))
        elif self._depth == 1:
            self._item = None
            if self._kind == "channel":
                self._channel(item)
            else:
                self._programme(item)

    def _keep_field(self, item: dict[str, Any], name: str, text: str) -> None:
        if not text:
            return
        if name == "display-name":
            item.setdefault("names", []).append(text)
        elif name == "category":
            categories = item.setdefault("categories", [])
            if len(categories) < MAX_CATEGORIES:
                categories.append(text)
        elif name == "episode-num":
            if "episode" not in item:
                item["episode"] = (self._field_system or "onscreen", text)
        elif name not in item:  # the first title, sub-title, desc
            item[name] = text
            if name == "title":
                item["lang"] = self._field_lang

    # -- records

    def _channel(self, item: dict[str, Any]) -> None:
        channel_id = item["@"].get("id", "").strip()
        if not channel_id:
            self.rejects["channel without an id"] += 1
            return
        names = tuple(dict.fromkeys(item.get("names", ())))  # unique, in order
        self._events.append(GuideChannel(channel_id, names, item.get("icon", "")))

    def _programme(self, item: dict[str, Any]) -> None:
        attributes = item["@"]
        channel = attributes.get("channel", "").strip()
        if not channel:
            return self._reject("no channel", item)
        if "title" not in item:
            return self._reject("no title", item)
        start = self._time(attributes.get("start", ""), "start", item)
        if start is None:
            return
        item["channel"], item["start"] = channel, start
        waiting = self._waiting.pop(channel, None)
        if waiting is not None:  # a stop-less programme ends where this starts
            if start > waiting["start"]:
                self._emit(waiting, start)
            else:
                self._reject("no stop time, and the next one starts no later", item)
        if not attributes.get("stop", "").strip():
            self._waiting[channel] = item
            return
        stop = self._time(attributes["stop"], "stop", item)
        if stop is None:
            return
        if stop <= start:
            return self._reject("stop is not after start", item)
        self._emit(item, stop)

    def _time(self, text: str, what: str, item: dict[str, Any]) -> int | None:
        parsed = parse_time(text.strip())
        if parsed is None:
            self._reject(f"bad {what} time", item, repr(text[:40]))
            return None
        if not parsed[1]:
            self.zoneless += 1
        return parsed[0]

    def _emit(self, item: dict[str, Any], stop: int) -> None:
        system, number = item.get("episode", ("", ""))
        self._events.append(
            Programme(
                channel=item["channel"],
                start=item["start"],
                stop=stop,
                title=item["title"],
                lang=item.get("lang", ""),
                sub_title=item.get("sub-title", ""),
                desc=item.get("desc", ""),
                categories=tuple(item.get("categories", ())),
                icon=item.get("icon", ""),
                episode_system=system,
                episode=number,
            )
        )

    def _reject(self, reason: str, item: dict[str, Any], detail: str = "") -> None:
        self.rejects[reason] += 1
        if len(self.notes) < MAX_NOTES:
            channel = item["@"].get("channel", "")
            shown = f"{reason} {detail}".rstrip()
            self.notes.append(f"line {item['line']}: programme on {channel!r}: {shown}")
