"""``Guide``: the programme guide as players ask for it.

It holds the current channel assignments in memory (the loop recomputes
them when the catalog, a source's guide or an operator's choice changes)
and answers from the guide database in reader threads, where the rows are
also rendered, so the reactor only writes bytes.  Times from a source are
shifted by the channel's offset (source's plus channel's) on the way out,
so changing an offset needs no refresh.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Container, Iterable, Sequence

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from xrelay.epg import _render, _sql
from xrelay.epg._db import GuideDatabase
from xrelay.epg._refresh import DAY
from xrelay.interfaces import IGuide
from xrelay.sqlite import Cursor

ArchiveSpans = Callable[[int], "Sequence[tuple[float, float]]"]
"""The unbroken spans (epoch seconds) of a channel's catch-up recording,
in time order: the seam for catch-up recording, which sets ``has_archive``."""

XMLTV_BATCH = 8
"""Channels rendered per chunk of ``xmltv.php`` (about a megabyte)."""

EMPTY_LISTINGS = b'{"epg_listings":[]}'

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def no_archive(channel_id: int) -> Sequence[tuple[float, float]]:
    return ()


@attrs.frozen
class Assignment:
    """A catalog channel and the guide channel it shows."""

    channel_id: int
    number: int
    epg_channel_id: str  # the catalog's epg_id: the id players match on
    name: str
    logo: str
    source_id: int
    guide_id: str
    offset: int = 0  # seconds added to the guide's times


@implementer(IGuide)
class Guide:
    def __init__(
        self,
        db: GuideDatabase,
        clock: IReactorTime,
        past_days: float = 2.0,
        future_days: float = 14.0,
        archive_spans: ArchiveSpans = no_archive,
        wall: _render.Wall = _render.utc_wall,
    ) -> None:
        self._db = db
        self._clock = clock
        self._past = past_days
        self._future = future_days
        self._archive = archive_spans
        self._wall = wall
        self._assigned: dict[int, Assignment] = {}

    def assign(self, assignments: Iterable[Assignment]) -> None:
        ordered = sorted(assignments, key=lambda a: (a.number, a.channel_id))
        self._assigned = {a.channel_id: a for a in ordered}

    def assignment(self, channel_id: int) -> Assignment | None:
        return self._assigned.get(channel_id)

    def short_epg(self, channel_id: int, limit: int) -> Deferred[bytes]:
        now = self._clock.seconds()
        return self._listings(channel_id, now, now + self._future * DAY, limit)

    def data_table(self, channel_id: int) -> Deferred[bytes]:
        now = self._clock.seconds()
        low, high = now - self._past * DAY, now + self._future * DAY
        return self._listings(channel_id, low, high, -1)

    def _listings(
        self, channel_id: int, after: float, before: float, limit: int
    ) -> Deferred[bytes]:
        found = self._assigned.get(channel_id)
        if found is None:
            return succeed(EMPTY_LISTINGS)
        return self._db.read(
            _listings_json,
            found,
            int(after),
            int(before),
            limit,
            self._clock.seconds(),
            self._archive(channel_id),
            self._wall,
        )

    async def xmltv_chunks(
        self,
        visible: Container[int] | None,
        base_url: str,
        past_days: float | None = None,
        future_days: float | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """The XMLTV document for the channels in ``visible`` (None: all),
        in chunks: the head and every ``<channel>`` at once, then the
        programmes, a few channels at a time, each channel's by start.
        Only channels with an ``epg_channel_id`` are listed, under it."""
        past = self._past if past_days is None else min(past_days, self._past)
        future = self._future if future_days is None else min(future_days, self._future)
        now = self._clock.seconds()
        low, high = int(now - past * DAY), int(now + future * DAY)
        listed: dict[str, Assignment] = {}
        for a in list(self._assigned.values()):
            if a.epg_channel_id and (visible is None or a.channel_id in visible):
                listed.setdefault(a.epg_channel_id, a)  # one per id: the first
        chosen = list(listed.values())
        yield (
            _render.document_head(base_url)
            + "".join(
                _render.channel_xml(a.epg_channel_id, a.name, a.logo) for a in chosen
            ).encode()
        )
        for at in range(0, len(chosen), XMLTV_BATCH):
            batch = chosen[at : at + XMLTV_BATCH]
            chunk = await self._db.read(_programmes_xml, batch, low, high)
            if chunk:
                yield chunk
        yield _render.DOCUMENT_TAIL


def _listings_json(
    cur: Cursor,
    a: Assignment,
    after: int,
    before: int,
    limit: int,
    now: float,
    archive: Sequence[tuple[float, float]],
    wall: _render.Wall,
) -> bytes:
    rows = _sql.programmes(
        cur, a.source_id, a.guide_id, after - a.offset, before - a.offset, limit
    )
    listings = [
        _render.listing(
            p,
            a.offset,
            stream_id=a.channel_id,
            epg_channel_id=a.epg_channel_id,
            source_id=a.source_id,
            now=now,
            archive=archive,
            wall=wall,
        )
        for p in rows
    ]
    return _encode({"epg_listings": listings}).encode("utf-8")


def _programmes_xml(cur: Cursor, batch: list[Assignment], low: int, high: int) -> bytes:
    parts: list[str] = []
    for a in batch:
        channel = _render.xml_attribute(a.epg_channel_id)
        rows = _sql.programmes(
            cur, a.source_id, a.guide_id, low - a.offset, high - a.offset
        )
        parts.extend(_render.programme_xml(channel, p, a.offset) for p in rows)
    return "".join(parts).encode("utf-8")
