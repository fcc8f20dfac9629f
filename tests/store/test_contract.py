"""One contract for every IStore: MemoryStore, SqliteStore and CatalogDB.

The tests are coroutines, so they run under trial's TestCase (which the
SqliteStore's threads need anyway); CatalogDB is seen through a thin
adapter wrapping its results in Deferreds.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from tests.store.fixtures import rich_catalog
from xrelay.interfaces import IStore
from xrelay.models import Bouquet, Catalog, Category, Channel, User
from xrelay.store import CachedStore, CatalogDB, SqliteStore, StoreError, open_sync
from xrelay.testing import MemoryStore


def user(username: str, id: int = 0, **fields: Any) -> User:
    return User(id, username, "scrypt$hash", **fields)


# The contract is a mixin, so that it is not collected by itself; mypy
# checks it as the TestCase it is mixed into.
if TYPE_CHECKING:
    _Base = TestCase
else:
    _Base = object


class StoreContract(_Base):
    """Mixed into a TestCase; ``open_store`` gives a store not yet started."""

    store: IStore

    def open_store(self) -> IStore:
        raise NotImplementedError

    async def setUp(self) -> None:  # type: ignore[override]
        self.store = self.open_store()
        await self.store.start()
        self.addCleanup(self.store.close)

    async def refusal(self, call: Awaitable[object]) -> str:
        """The message of the StoreError ``call`` fails with."""
        with self.assertRaises(StoreError) as caught:
            await call
        return str(caught.exception)

    # -- users

    async def test_put_user_assigns_ids_in_order(self) -> None:
        alice = await self.store.put_user(user("alice"))
        bob = await self.store.put_user(user("bob"))
        self.assertEqual((alice.id, bob.id), (1, 2))
        self.assertEqual(alice, attrs.evolve(user("alice"), id=1))
        self.assertEqual(await self.store.get_user("bob"), bob)

    async def test_put_user_with_an_id_inserts_or_replaces_it(self) -> None:
        alice = await self.store.put_user(user("alice", id=40))
        self.assertEqual(alice.id, 40)
        changed = attrs.evolve(alice, notes="paid", bouquet_ids=())
        self.assertEqual(await self.store.put_user(changed), changed)
        self.assertEqual(await self.store.list_users(), [changed])

    async def test_unknown_user_is_none(self) -> None:
        self.assertIsNone(await self.store.get_user("nobody"))

    async def test_users_are_listed_by_id(self) -> None:
        for name, id in (("c", 9), ("a", 3), ("b", 5)):
            await self.store.put_user(user(name, id=id))
        users = await self.store.list_users()
        self.assertEqual([u.username for u in users], ["a", "b", "c"])

    async def test_usernames_are_unique(self) -> None:
        await self.store.put_user(user("bob"))
        message = await self.refusal(self.store.put_user(user("bob", notes="2nd")))
        self.assertEqual(message, "users.username: 'bob' already exists")
        [only] = await self.store.list_users()
        self.assertEqual(only.notes, "")

    async def test_usernames_must_fit_in_a_url(self) -> None:
        message = await self.refusal(self.store.put_user(user("bob smith")))
        self.assertTrue(
            message.startswith("users.username: 'bob smith' is not allowed"), message
        )
        self.assertEqual(await self.store.list_users(), [])

    async def test_output_formats_are_checked(self) -> None:
        bad = user("bob", allowed_output_formats=("ts", "mkv"))
        message = await self.refusal(self.store.put_user(bad))
        self.assertEqual(
            message,
            "users.allowed_output_formats: 'mkv' is not one of ts, m3u8, rtmp",
        )

    async def test_networks_are_checked(self) -> None:
        bad = user("bob", allowed_networks=("10.0.0.0/8", "10.0.0.0/33"))
        message = await self.refusal(self.store.put_user(bad))
        self.assertEqual(
            message, "users.allowed_networks: '10.0.0.0/33' is not an IP network"
        )

    async def test_user_bouquets_must_exist(self) -> None:
        message = await self.refusal(self.store.put_user(user("bob", bouquet_ids=(9,))))
        self.assertEqual(message, "users.bouquet_ids: no bouquet 9 (listed by 'bob')")

    async def test_delete_user(self) -> None:
        await self.store.put_user(user("bob"))
        self.assertTrue(await self.store.delete_user("bob"))
        self.assertFalse(await self.store.delete_user("bob"))
        self.assertIsNone(await self.store.get_user("bob"))

    # -- channels and categories

    async def test_channel_round_trip_keeps_the_source_order(self) -> None:
        channel = Channel(0, 5, "Five", sources=("udp://b", "http://a", "file:///c"))
        stored = await self.store.put_channel(channel)
        self.assertEqual(stored, attrs.evolve(channel, id=1))
        self.assertEqual(await self.store.get_channel(1), stored)
        self.assertIsNone(await self.store.get_channel(2))

    async def test_channel_numbers_are_unique(self) -> None:
        await self.store.put_channel(Channel(0, 7, "Seven"))
        message = await self.refusal(self.store.put_channel(Channel(0, 7, "Other")))
        self.assertEqual(message, "channels.number: 7 already exists")

    async def test_channel_category_must_be_a_live_one(self) -> None:
        films = await self.store.put_category(Category(0, "vod", "Films"))
        message = await self.refusal(
            self.store.put_channel(Channel(0, 1, "One", category_id=films.id))
        )
        self.assertEqual(message, f"channels.category_id: no live category {films.id}")
        message = await self.refusal(
            self.store.put_channel(Channel(0, 1, "One", category_id=99))
        )
        self.assertEqual(message, "channels.category_id: no live category 99")
        self.assertEqual(await self.store.list_channels(), [])

    async def test_category_kind_is_checked(self) -> None:
        message = await self.refusal(self.store.put_category(Category(0, "radio", "R")))
        self.assertEqual(
            message, "categories.kind: 'radio' is not one of live, vod, series"
        )

    async def test_categories_are_listed_by_kind(self) -> None:
        news = await self.store.put_category(Category(0, "live", "News"))
        films = await self.store.put_category(Category(0, "vod", "Films"))
        sport = await self.store.put_category(Category(0, "live", "Sport"))
        self.assertEqual(await self.store.list_categories(), [news, films, sport])
        self.assertEqual(await self.store.list_categories("live"), [news, sport])
        self.assertEqual(await self.store.list_categories("series"), [])

    async def test_a_used_category_cannot_change_kind(self) -> None:
        news = await self.store.put_category(Category(0, "live", "News"))
        await self.store.put_channel(Channel(0, 1, "One", category_id=news.id))
        message = await self.refusal(
            self.store.put_category(attrs.evolve(news, kind="vod"))
        )
        self.assertEqual(message, f"channels.category_id: no live category {news.id}")

    async def test_deleting_a_category_uncategorises_its_channels(self) -> None:
        news = await self.store.put_category(Category(0, "live", "News"))
        one = await self.store.put_channel(Channel(0, 1, "One", category_id=news.id))
        self.assertTrue(await self.store.delete_category(news.id))
        self.assertFalse(await self.store.delete_category(news.id))
        self.assertEqual(
            await self.store.get_channel(one.id), attrs.evolve(one, category_id=None)
        )

    async def test_deleting_a_channel_takes_it_out_of_bouquets(self) -> None:
        ids = [
            (await self.store.put_channel(Channel(0, n, f"C{n}"))).id for n in (1, 2)
        ]
        bouquet = await self.store.put_bouquet(
            Bouquet(0, "B", channel_ids=(ids[1], ids[0], ids[1]))
        )
        self.assertTrue(await self.store.delete_channel(ids[1]))
        self.assertFalse(await self.store.delete_channel(ids[1]))
        self.assertEqual(
            await self.store.list_bouquets(),
            [attrs.evolve(bouquet, channel_ids=(ids[0],))],
        )

    # -- bouquets

    async def test_bouquet_members_must_exist(self) -> None:
        message = await self.refusal(
            self.store.put_bouquet(Bouquet(0, "B", channel_ids=(5,)))
        )
        self.assertEqual(
            message, "bouquets.channel_ids: no channel 5 (listed by bouquet 1)"
        )
        message = await self.refusal(
            self.store.put_bouquet(Bouquet(3, "B", movie_ids=(8,)))
        )
        self.assertEqual(
            message, "bouquets.movie_ids: no movie 8 (listed by bouquet 3)"
        )
        message = await self.refusal(
            self.store.put_bouquet(Bouquet(3, "B", series_ids=(2,)))
        )
        self.assertEqual(
            message, "bouquets.series_ids: no series 2 (listed by bouquet 3)"
        )
        self.assertEqual(await self.store.list_bouquets(), [])

    async def test_a_bouquet_in_use_cannot_be_deleted(self) -> None:
        bouquet = await self.store.put_bouquet(Bouquet(0, "B"))
        await self.store.put_user(user("bob", bouquet_ids=(bouquet.id,)))
        message = await self.refusal(self.store.delete_bouquet(bouquet.id))
        self.assertEqual(message, "users.bouquet_ids: no bouquet 1 (listed by 'bob')")
        self.assertEqual(await self.store.list_bouquets(), [bouquet])
        await self.store.delete_user("bob")
        self.assertTrue(await self.store.delete_bouquet(bouquet.id))
        self.assertFalse(await self.store.delete_bouquet(bouquet.id))

    # -- the whole catalog

    async def test_an_empty_store_reads_as_an_empty_catalog(self) -> None:
        self.assertEqual(await self.store.read_catalog(), Catalog())

    async def test_replace_then_read_gives_the_catalog_back(self) -> None:
        await self.store.put_user(user("old"))
        catalog = rich_catalog()
        await self.store.replace_catalog(catalog)
        self.assertEqual(await self.store.read_catalog(), catalog)
        self.assertEqual(await self.store.get_user("alice"), catalog.users[0])

    async def test_replace_replaces_everything(self) -> None:
        await self.store.replace_catalog(rich_catalog())
        smaller = Catalog(categories=(Category(4, "vod", "Only"),))
        await self.store.replace_catalog(smaller)
        self.assertEqual(await self.store.read_catalog(), smaller)

    async def test_replace_is_all_or_nothing(self) -> None:
        await self.store.replace_catalog(rich_catalog())
        broken = attrs.evolve(
            rich_catalog(),
            channels=(Channel(1, 1, "x"), Channel(2, 2, "y", category_id=10)),
        )
        message = await self.refusal(self.store.replace_catalog(broken))
        self.assertEqual(message, "channels.category_id: no live category 10")
        self.assertEqual(await self.store.read_catalog(), rich_catalog())

    async def test_replace_with_expected_is_a_compare_and_swap(self) -> None:
        read = await self.store.read_catalog()
        await self.store.put_user(user("meanwhile"))  # a concurrent change
        message = await self.refusal(
            self.store.replace_catalog(rich_catalog(), expected=read)
        )
        self.assertIn("changed by someone else", message)
        self.assertIsNotNone(await self.store.get_user("meanwhile"))
        current = await self.store.read_catalog()
        await self.store.replace_catalog(rich_catalog(), expected=current)
        self.assertEqual(await self.store.read_catalog(), rich_catalog())

    async def test_replace_refuses_duplicate_keys(self) -> None:
        twice = Catalog(channels=(Channel(1, 1, "x"), Channel(1, 2, "y")))
        message = await self.refusal(self.store.replace_catalog(twice))
        self.assertEqual(message, "channels.id: 1 appears 2 times")
        seasons = attrs.evolve(
            rich_catalog(),
            seasons=(*rich_catalog().seasons, rich_catalog().seasons[0]),
        )
        message = await self.refusal(self.store.replace_catalog(seasons))
        self.assertEqual(message, "seasons.series_id/number: (6, 1) appears 2 times")

    async def test_replace_assigns_ids_to_new_records(self) -> None:
        await self.store.replace_catalog(
            Catalog(categories=(Category(0, "live", "a"), Category(0, "vod", "b")))
        )
        catalog = await self.store.read_catalog()
        self.assertEqual([c.id for c in catalog.categories], [1, 2])


class MemoryStoreTests(StoreContract, TestCase):
    def open_store(self) -> IStore:
        return MemoryStore()


class SqliteStoreTests(StoreContract, TestCase):
    def open_store(self) -> IStore:
        return SqliteStore(os.path.join(self.mktemp(), "xrelay.sqlite3"))


@attrs.define
class _Deferring:
    """A CatalogDB seen as an IStore: each result wrapped in a Deferred."""

    db: CatalogDB

    def start(self) -> Deferred[None]:
        return maybeDeferred(lambda: None)

    def __getattr__(self, name: str) -> Callable[..., Deferred[Any]]:
        method = getattr(self.db, name)
        return lambda *args, **kwargs: maybeDeferred(method, *args, **kwargs)


class CatalogDBTests(StoreContract, TestCase):
    def open_store(self) -> IStore:
        db = open_sync(os.path.join(self.mktemp(), "xrelay.sqlite3"))
        return _Deferring(db)  # type: ignore[return-value]


class CachedStoreTests(StoreContract, TestCase):
    """The cache must not change what the store means (with a frozen clock
    every read after a write through it is still fresh)."""

    def open_store(self) -> IStore:
        return CachedStore(MemoryStore(), Clock(), ttl=60)
