"""``CatalogCache``: when the view is rebuilt, and who waits for it."""

from __future__ import annotations

import os

import attrs
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.models import Catalog, Category, Channel
from xrelay.store import open_sync
from xrelay.testing import MemoryStore
from xrelay.xtream import CatalogCache, CatalogView, file_stamp
from xrelay.xtream._cache import rebuild


class CountingStore(MemoryStore):
    reads: int = 0

    def read_catalog(self) -> Deferred[Catalog]:
        self.reads += 1
        return super().read_catalog()


class CacheTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.store = CountingStore()
        self.add_channel(1)

    def add_channel(self, number: int) -> None:
        self.successResultOf(
            self.store.put_channel(Channel(0, number, f"C{number}", None, ("x://",)))
        )

    def channels(self, cache: CatalogCache) -> int:
        view = self.successResultOf(Deferred.fromCoroutine(cache.view()))
        return len(view.items("live", None))

    def test_starting_builds_the_first_view(self) -> None:
        cache = CatalogCache(self.store, self.clock)
        cache.startService()
        self.assertEqual(self.store.reads, 1)
        self.assertEqual(self.channels(cache), 1)
        self.assertEqual(self.store.reads, 1)

    def test_rereads_after_the_ttl_only(self) -> None:
        cache = CatalogCache(self.store, self.clock, ttl=3)
        self.assertEqual(self.channels(cache), 1)
        self.add_channel(2)
        self.clock.advance(2.9)
        self.assertEqual(self.channels(cache), 1)
        self.clock.advance(0.1)
        self.assertEqual(self.channels(cache), 2)
        self.assertEqual(self.store.reads, 2)

    def test_an_unchanged_stamp_saves_the_read(self) -> None:
        stamp = [1]
        cache = CatalogCache(self.store, self.clock, ttl=3, stamp=lambda: stamp[0])
        self.assertEqual(self.channels(cache), 1)
        self.add_channel(2)
        self.clock.advance(10)
        self.assertEqual(self.channels(cache), 1)
        self.assertEqual(self.store.reads, 1)
        stamp[0] = 2
        self.clock.advance(3)
        self.assertEqual(self.channels(cache), 2)

    def test_with_a_stamp_the_service_refreshes_without_a_request(self) -> None:
        stamp = [1]
        cache = CatalogCache(self.store, self.clock, ttl=3, stamp=lambda: stamp[0])
        cache.startService()
        self.addCleanup(cache.stopService)
        self.assertEqual(self.store.reads, 1)
        self.clock.advance(30)
        self.assertEqual(self.store.reads, 1, "an unchanged stamp: no read")
        self.add_channel(2)
        stamp[0] = 2
        self.clock.advance(3)
        self.assertEqual(self.store.reads, 2, "read in the background")
        self.assertEqual(self.channels(cache), 2)
        self.assertEqual(self.store.reads, 2)
        cache.stopService()
        stamp[0] = 3
        self.clock.advance(30)
        self.assertEqual(self.store.reads, 2, "stopped: no more looks")

    def test_requests_get_the_old_view_while_a_new_one_builds(self) -> None:
        pending: list[Deferred[CatalogView]] = []

        def run(function, catalog, previous):  # type: ignore[no-untyped-def]
            if previous is None:
                return succeed(function(catalog, previous))
            pending.append(Deferred())
            pending[-1].addCallback(lambda _: function(catalog, previous))
            return pending[-1]

        cache = CatalogCache(self.store, self.clock, run=run, ttl=3)
        self.assertEqual(self.channels(cache), 1)
        self.add_channel(2)
        self.clock.advance(3)
        self.assertEqual(self.channels(cache), 1)
        self.assertEqual(self.channels(cache), 1)
        self.assertEqual(len(pending), 1, "one refresh at a time")
        pending[0].callback(None)
        self.assertEqual(self.channels(cache), 2)

    def test_first_requests_wait_for_the_first_view(self) -> None:
        gate: Deferred[None] = Deferred()

        def run(function, catalog, previous):  # type: ignore[no-untyped-def]
            return gate.addCallback(lambda _: function(catalog, previous))

        cache = CatalogCache(self.store, self.clock, run=run)
        first = Deferred.fromCoroutine(cache.view())
        second = Deferred.fromCoroutine(cache.view())
        self.assertNoResult(first)
        gate.callback(None)
        self.assertIs(self.successResultOf(first), self.successResultOf(second))

    def test_a_failed_refresh_keeps_the_old_view(self) -> None:
        cache = CatalogCache(self.store, self.clock, ttl=3)
        self.assertEqual(self.channels(cache), 1)
        self.patch(self.store, "read_catalog", lambda: fail(OSError("disk")))
        self.clock.advance(3)
        self.assertEqual(self.channels(cache), 1)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_a_failed_first_read_fails_the_waiters(self) -> None:
        self.patch(self.store, "read_catalog", lambda: fail(OSError("disk")))
        cache = CatalogCache(self.store, self.clock)
        self.failureResultOf(Deferred.fromCoroutine(cache.view()), OSError)
        self.flushLoggedErrors(OSError)

    def test_stopping_cancels_a_refresh_quietly(self) -> None:
        never: Deferred[CatalogView] = Deferred()
        cache = CatalogCache(self.store, self.clock, run=lambda *_: never)
        cache.startService()
        waiter = Deferred.fromCoroutine(cache.view())
        cache.stopService()
        self.failureResultOf(waiter, CancelledError)
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_unchanged_catalog_keeps_the_view(self) -> None:
        catalog = self.successResultOf(self.store.read_catalog())
        view = rebuild(catalog, None)
        self.assertIs(rebuild(attrs.evolve(catalog, users=()), view), view)
        changed = attrs.evolve(catalog, categories=(Category(9, "live", "New"),))
        self.assertIsNot(rebuild(changed, view), view)


class FileStampTests(SynchronousTestCase):
    def test_every_write_changes_it(self) -> None:
        path = os.path.abspath(self.mktemp())
        db = open_sync(path)
        self.addCleanup(db.close)
        stamp = file_stamp(path, path + "-wal")
        before = stamp()
        self.assertEqual(stamp(), before)
        db.put_category(Category(0, "live", "News"))
        after = stamp()
        self.assertNotEqual(after, before)
        db.list_categories()
        self.assertEqual(stamp(), after, "reads leave it alone")

    def test_missing_files(self) -> None:
        self.assertEqual(file_stamp("/nonexistent/x")(), (None,))
