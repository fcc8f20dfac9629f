"""A short-lived read cache in front of an IStore for the per-request hot path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from xrelay.interfaces import IStore
from xrelay.models import Bouquet, Catalog, Category, Channel, User

T = TypeVar("T")


@implementer(IStore)
class CachedStore:
    """Serves ``get_user``, ``get_channel`` and ``list_bouquets`` from memory
    for up to ``ttl`` seconds; everything else goes straight to ``store``.

    Every stream request looks up its line, its channel and the bouquets;
    a thousand viewers joining at once would otherwise queue a thousand
    database round trips.  Writes made through this object drop the cache;
    changes made by another process (the admin CLI) show within ``ttl``.
    """

    def __init__(self, store: IStore, clock: IReactorTime, ttl: float = 2.0) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[tuple[str, object], tuple[float, Any]] = {}

    def _cached(
        self, key: tuple[str, object], load: Callable[[], Deferred[T]]
    ) -> Deferred[T]:
        now = self._clock.seconds()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return succeed(hit[1])

        def keep(value: T) -> T:
            self._entries[key] = (now + self._ttl, value)
            return value

        return load().addCallback(keep)

    def _written(self, result: T) -> T:
        self._entries.clear()
        return result

    def get_user(self, username: str) -> Deferred[User | None]:
        return self._cached(("user", username), lambda: self._store.get_user(username))

    def get_channel(self, channel_id: int) -> Deferred[Channel | None]:
        return self._cached(
            ("channel", channel_id), lambda: self._store.get_channel(channel_id)
        )

    def list_bouquets(self) -> Deferred[list[Bouquet]]:
        return self._cached(("bouquets", None), self._store.list_bouquets)

    # Writes go through and drop the cache.
    def put_user(self, user: User) -> Deferred[User]:
        return self._store.put_user(user).addCallback(self._written)

    def delete_user(self, username: str) -> Deferred[bool]:
        return self._store.delete_user(username).addCallback(self._written)

    def put_channel(self, channel: Channel) -> Deferred[Channel]:
        return self._store.put_channel(channel).addCallback(self._written)

    def delete_channel(self, channel_id: int) -> Deferred[bool]:
        return self._store.delete_channel(channel_id).addCallback(self._written)

    def put_category(self, category: Category) -> Deferred[Category]:
        return self._store.put_category(category).addCallback(self._written)

    def delete_category(self, category_id: int) -> Deferred[bool]:
        return self._store.delete_category(category_id).addCallback(self._written)

    def put_bouquet(self, bouquet: Bouquet) -> Deferred[Bouquet]:
        return self._store.put_bouquet(bouquet).addCallback(self._written)

    def delete_bouquet(self, bouquet_id: int) -> Deferred[bool]:
        return self._store.delete_bouquet(bouquet_id).addCallback(self._written)

    def replace_catalog(
        self, catalog: Catalog, expected: Catalog | None = None
    ) -> Deferred[None]:
        d = self._store.replace_catalog(catalog, expected)
        return d.addCallback(self._written)

    # Everything else goes straight through.
    def start(self) -> Deferred[None]:
        return self._store.start()

    def close(self) -> Deferred[None]:
        return self._store.close()

    def list_users(self) -> Deferred[list[User]]:
        return self._store.list_users()

    def list_channels(self) -> Deferred[list[Channel]]:
        return self._store.list_channels()

    def list_categories(self, kind: str | None = None) -> Deferred[list[Category]]:
        return self._store.list_categories(kind)

    def read_catalog(self) -> Deferred[Catalog]:
        return self._store.read_catalog()
