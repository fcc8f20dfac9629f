"""``CatalogCache``: keeps a ``CatalogView`` of the store fresh.

Reading and encoding a large catalog takes over a second, so it never
happens on the request path once the first view exists: a request that
finds the view older than ``ttl`` seconds starts a refresh in the
background and is served the current view.  ``stamp`` (optional) tells
cheaply whether the store may have changed since the last read; without
it every refresh re-reads.  With a stamp, the running service also looks
at it every ``ttl`` seconds by itself, so a change (a library scan, the
admin CLI) is in the view before the next player asks, not after.
``shown`` (optional) adjusts the catalog as read before the view is built
from it: the archive sets each channel's ``archive_days`` to what is
actually recorded (its stamp then changes too).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure

from xrelay.interfaces import IStore
from xrelay.models import Catalog
from xrelay.xtream._view import CatalogView, same_source

Stamp = Callable[[], Hashable]


class Runner(Protocol):
    """Runs a slow pure function somewhere (production: a thread)."""

    def __call__(
        self,
        function: Callable[[Catalog, CatalogView | None], CatalogView],
        catalog: Catalog,
        previous: CatalogView | None,
        /,
    ) -> Deferred[CatalogView]: ...


def run_inline(
    function: Callable[[Catalog, CatalogView | None], CatalogView],
    catalog: Catalog,
    previous: CatalogView | None,
    /,
) -> Deferred[CatalogView]:
    return maybeDeferred(function, catalog, previous)


def in_threads(reactor: Any) -> Runner:
    """A ``Runner`` using the reactor's thread pool: the view is pure and
    immutable once built, so building it in a thread is safe."""

    def run(
        function: Callable[[Catalog, CatalogView | None], CatalogView],
        catalog: Catalog,
        previous: CatalogView | None,
        /,
    ) -> Deferred[CatalogView]:
        pool = reactor.getThreadPool()
        return deferToThreadPool(reactor, pool, function, catalog, previous)

    return run


def file_stamp(*paths: str) -> Stamp:
    """A ``stamp`` for SQLite: every write changes the modification time
    (or size) of the database file or of its write-ahead log."""

    def stamp() -> Hashable:
        stamps: list[tuple[int, int, int] | None] = []
        for path in paths:
            try:
                info = os.stat(path)
            except OSError:
                stamps.append(None)
            else:
                stamps.append((info.st_ino, info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    return stamp


def rebuild(catalog: Catalog, previous: CatalogView | None) -> CatalogView:
    """A view of ``catalog``; ``previous`` itself when nothing it shows
    changed (say, only a user did)."""
    if previous is not None and same_source(previous, catalog):
        return previous
    return CatalogView(catalog)


class CatalogCache(Service):
    log = Logger()

    def __init__(
        self,
        store: IStore,
        clock: IReactorTime,
        run: Runner = run_inline,
        ttl: float = 3.0,
        stamp: Stamp | None = None,
        shown: Callable[[Catalog], Catalog] | None = None,
    ) -> None:
        self._store = store
        self._shown = shown
        self._clock = clock
        self._run = run
        self._ttl = ttl
        self._stamp = stamp
        self._view: CatalogView | None = None
        self._checked = float("-inf")  # when the store was last looked at
        self._read_stamp: Hashable = None  # the stamp the view was read at
        self._refreshing: Deferred[CatalogView] | None = None
        self._waiting: list[Deferred[CatalogView]] = []
        self._poll: LoopingCall | None = None

    def startService(self) -> None:
        super().startService()
        self._refresh()  # warm up: the first player should not wait
        if self._stamp is not None:  # two stat() calls: cheap to poll
            self._poll = LoopingCall(self._check)
            self._poll.clock = self._clock
            self._poll.start(self._ttl, now=False)

    def stopService(self) -> None:
        super().stopService()
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        self._poll = None
        if self._refreshing is not None:
            self._refreshing.cancel()

    async def view(self) -> CatalogView:
        """The current view (waiting for the first one if need be)."""
        if self._view is None:
            waiter: Deferred[CatalogView] = Deferred()
            self._waiting.append(waiter)
            self._refresh()
            return await waiter
        self._check()
        return self._view

    def _check(self) -> None:
        """Refresh if the view is older than ``ttl`` and the store may have
        changed since it was read."""
        now = self._clock.seconds()
        if now - self._checked >= self._ttl and self._refreshing is None:
            self._checked = now
            if self._stamp is None or self._stamp() != self._read_stamp:
                self._refresh()

    def _refresh(self) -> None:
        if self._refreshing is None:
            self._refreshing = Deferred.fromCoroutine(self._load())
            self._refreshing.addBoth(self._loaded)

    async def _load(self) -> CatalogView:
        stamp = self._stamp() if self._stamp is not None else None
        catalog = await self._store.read_catalog()
        if self._shown is not None:
            catalog = self._shown(catalog)
        view = await self._run(rebuild, catalog, self._view)
        self._read_stamp = stamp  # taken before reading: no change is missed
        return view

    def _loaded(self, result: CatalogView | Failure) -> None:
        self._refreshing = None
        self._checked = self._clock.seconds()
        waiting, self._waiting = self._waiting, []
        if isinstance(result, Failure):
            if not result.check(CancelledError):  # stopService: not a fault
                self.log.failure("reading the catalog for the Xtream API", result)
            for waiter in waiting:
                waiter.errback(result)
            return
        if result is not self._view:
            self.log.info("Xtream catalog view rebuilt")
        self._view = result
        for waiter in waiting:
            waiter.callback(result)
