"""``EpgService``: the loop that keeps every guide source fresh and the
channel assignments current.

A ``LoopingCall`` on the injected clock looks every ``tick`` seconds:

- re-reads the catalog (channels, guide sources) when its file changed;
- re-reads the operator's choices and the sources' states from the guide
  database, and re-matches channels when any of it changed;
- starts a refresh of each enabled source that is due (never run, its
  time come, or its URL changed), at most ``parallel`` at a time.

A refresh runs on its own, outside the loop's tick; whatever happens to
it is logged and recorded on its source, so one bad source never stops
the loop or the others.  Nothing opens (database, timer) before
``startService``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    DeferredSemaphore,
)
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from xrelay.epg import _sql
from xrelay.epg._db import GuideDatabase
from xrelay.epg._guide import Assignment, Guide
from xrelay.epg._mapping import Match, match_channels
from xrelay.epg._refresh import EpgSettings, Refreshed, refresh_source
from xrelay.ingest import display_url
from xrelay.interfaces import IStore
from xrelay.models import Channel, EpgSource

Stamp = Callable[[], Hashable]


def assignments(
    channels: Sequence[Channel], matches: dict[int, Match]
) -> list[Assignment]:
    """The guide's view of the matches that found something."""
    found = []
    for channel in channels:
        match = matches.get(channel.id)
        if match is None or match.source_id is None or match.guide_id is None:
            continue
        found.append(
            Assignment(
                channel.id,
                channel.number,
                channel.epg_id.strip(),
                channel.name,
                channel.logo,
                match.source_id,
                match.guide_id,
                match.offset,
            )
        )
    return found


class EpgService(Service):
    log = Logger()

    def __init__(
        self,
        store: IStore,
        db: GuideDatabase,
        guide: Guide,
        http: Callable[[], Any],
        clock: IReactorTime,
        settings: EpgSettings,
        catalog_stamp: Stamp | None = None,
        tick: float = 10.0,
        parallel: int = 2,
    ) -> None:
        self._store = store
        self._db = db
        self._guide = guide
        self._make_http = http
        self._http: Any = None
        self._clock = clock
        self._settings = settings
        self._stamp = catalog_stamp
        self._tick_seconds = tick
        self._slots = DeferredSemaphore(parallel)
        self._loop: LoopingCall | None = None
        self._catalog_stamp: Hashable = object()  # never equal: read first time
        self._channels: tuple[Channel, ...] = ()
        self._sources: tuple[EpgSource, ...] = ()
        self._inputs: object = None  # what the current matches were made from
        self._running: dict[int, Deferred[None]] = {}
        self._looking: Deferred[None] | None = None
        self.matches: dict[int, Match] = {}

    def startService(self) -> None:
        super().startService()
        self._db.start()
        self._http = self._make_http()
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self._clock
        # _tick never fails, so neither does the loop
        self._loop.start(self._tick_seconds, now=True)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        running = list(self._running.values())
        if self._looking is not None:
            running.append(self._looking)
        for d in running:
            d.cancel()

        async def settle_and_close() -> None:
            await DeferredList(running, consumeErrors=True)
            await self._db.close()

        return Deferred.fromCoroutine(settle_and_close())

    def _tick(self) -> Deferred[None]:
        d = self._looking = Deferred.fromCoroutine(self.look())
        d.addErrback(self._look_failed)
        d.addBoth(self._looked)
        return d

    def _look_failed(self, failure: Failure) -> None:
        if not failure.check(CancelledError):  # stopService: not a fault
            self.log.failure("the guide loop's look", failure)

    def _looked(self, _: object) -> None:
        self._looking = None

    async def look(self) -> None:
        """One look: catalog, choices, matches, due sources."""
        stamp = self._stamp() if self._stamp is not None else object()
        if stamp != self._catalog_stamp:
            catalog = await self._store.read_catalog()
            self._catalog_stamp = stamp
            self._channels = catalog.channels
            if catalog.epg_sources != self._sources:
                self._sources = catalog.epg_sources
                keep = [s.id for s in self._sources]
                forgotten = await self._db.write(_sql.forget_sources, keep)
                if forgotten:
                    self.log.info("forgot {n} removed guide sources", n=forgotten)
        states = await self._db.read(_sql.get_states)
        await self._rematch(states)
        now = self._clock.seconds()
        for source in self._sources:
            state = states.get(source.id)
            if (
                source.enabled
                and source.id not in self._running
                and _due(source, state, now)
            ):
                self._start_refresh(source, state)

    async def _rematch(self, states: dict[int, _sql.SourceState]) -> None:
        settings = await self._db.read(_sql.get_settings)
        imported = {i: (s.imported_at, s.offset_seconds) for i, s in states.items()}
        inputs = (self._channels, self._sources, settings, imported)
        if inputs == self._inputs:
            return
        rows = await self._db.read(_sql.guide_channels)
        offsets = {i: s.offset_seconds for i, s in states.items()}
        self.matches = match_channels(
            self._channels, self._sources, rows, settings, offsets
        )
        self._guide.assign(assignments(self._channels, self.matches))
        self._inputs = inputs
        unmatched = sum(1 for m in self.matches.values() if not m.matched)
        self.log.info(
            "guide: {matched} of {total} channels matched, {unmatched} without",
            matched=len(self.matches) - unmatched,
            total=len(self.matches),
            unmatched=unmatched,
        )

    def _start_refresh(self, source: EpgSource, state: _sql.SourceState | None) -> None:
        d = self._slots.run(self._refresh, source, state)
        self._running[source.id] = d
        d.addErrback(self._refresh_failed, source)
        d.addBoth(self._refresh_done, source.id)

    def _refresh_done(self, _: object, source_id: int) -> None:
        del self._running[source_id]

    async def _refresh(self, source: EpgSource, state: _sql.SourceState | None) -> None:
        result = await refresh_source(
            source, state, self._db, self._http, self._clock, self._settings
        )
        self._report(source, result)
        if result.imported is not None:
            await self._rematch(await self._db.read(_sql.get_states))

    def _report(self, source: EpgSource, result: Refreshed) -> None:
        shown = f"{source.id} {source.name!r} ({display_url(source.url)})"
        state = result.state
        if result.failure is not None:
            self.log.failure("guide source {source}", result.failure, source=shown)
        if not result.ok:
            self.log.warn(
                "guide source {source}: {error}; keeping its last guide,"
                " next try in {delay} s",
                source=shown,
                error=state.error,
                delay=(state.next_at or 0) - (state.checked_at or 0),
            )
        elif result.imported is None:
            self.log.info("guide source {source}: unchanged", source=shown)
        else:
            self.log.info(
                "guide source {source}: {summary}",
                source=shown,
                summary=result.imported.describe(),
            )
            for note in result.imported.notes:
                self.log.warn("guide source {source}: {note}", source=shown, note=note)

    def _refresh_failed(self, failure: Failure, source: EpgSource) -> None:
        if not failure.check(CancelledError):
            self.log.failure("refreshing guide source {id}", failure, id=source.id)


def _due(source: EpgSource, state: _sql.SourceState | None, now: float) -> bool:
    if state is None or state.next_at is None or state.url != source.url:
        return True
    return state.next_at <= now
