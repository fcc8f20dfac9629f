"""In-memory implementations of xrelay's interfaces, for tests.

Each passes the same contract tests as the real implementation.
"""

from __future__ import annotations

import attrs
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from zope.interface import implementer

from xrelay.interfaces import IChannelSource, IPacketSink, IStore
from xrelay.models import Bouquet, Catalog, Category, Channel, User
from xrelay.store import CatalogDB, open_sync


def _memory_db() -> CatalogDB:
    return open_sync(":memory:")


@implementer(IStore)
@attrs.define
class MemoryStore:
    """``IStore`` whose Deferreds have already fired.

    It runs the real store's SQL on an in-memory SQLite database, so its
    validation and error messages are the real ones, with no file and no
    threads.
    """

    _db: CatalogDB = attrs.field(factory=_memory_db, init=False)

    def start(self) -> Deferred[None]:
        return succeed(None)

    def close(self) -> Deferred[None]:
        return maybeDeferred(self._db.close)

    def get_user(self, username: str) -> Deferred[User | None]:
        return maybeDeferred(self._db.get_user, username)

    def list_users(self) -> Deferred[list[User]]:
        return maybeDeferred(self._db.list_users)

    def put_user(self, user: User) -> Deferred[User]:
        return maybeDeferred(self._db.put_user, user)

    def delete_user(self, username: str) -> Deferred[bool]:
        return maybeDeferred(self._db.delete_user, username)

    def get_channel(self, channel_id: int) -> Deferred[Channel | None]:
        return maybeDeferred(self._db.get_channel, channel_id)

    def list_channels(self) -> Deferred[list[Channel]]:
        return maybeDeferred(self._db.list_channels)

    def put_channel(self, channel: Channel) -> Deferred[Channel]:
        return maybeDeferred(self._db.put_channel, channel)

    def delete_channel(self, channel_id: int) -> Deferred[bool]:
        return maybeDeferred(self._db.delete_channel, channel_id)

    def list_categories(self, kind: str | None = None) -> Deferred[list[Category]]:
        return maybeDeferred(self._db.list_categories, kind)

    def put_category(self, category: Category) -> Deferred[Category]:
        return maybeDeferred(self._db.put_category, category)

    def delete_category(self, category_id: int) -> Deferred[bool]:
        return maybeDeferred(self._db.delete_category, category_id)

    def list_bouquets(self) -> Deferred[list[Bouquet]]:
        return maybeDeferred(self._db.list_bouquets)

    def put_bouquet(self, bouquet: Bouquet) -> Deferred[Bouquet]:
        return maybeDeferred(self._db.put_bouquet, bouquet)

    def delete_bouquet(self, bouquet_id: int) -> Deferred[bool]:
        return maybeDeferred(self._db.delete_bouquet, bouquet_id)

    def read_catalog(self) -> Deferred[Catalog]:
        return maybeDeferred(self._db.read_catalog)

    def replace_catalog(
        self, catalog: Catalog, expected: Catalog | None = None
    ) -> Deferred[None]:
        return maybeDeferred(self._db.replace_catalog, catalog, expected)


@implementer(IChannelSource)
@attrs.define
class FakeSource:
    """An ``IChannelSource`` driven by hand: a test writes to ``sink``."""

    url: str
    sink: IPacketSink | None = None
    stopped: bool = False

    def start(self, sink: IPacketSink) -> None:
        self.sink = sink

    def stop(self) -> Deferred[None]:
        self.stopped = True
        return succeed(None)


@implementer(IPacketSink)
@attrs.define
class PacketRecorder:
    """An ``IPacketSink`` that keeps everything it is given."""

    chunks: list[bytes] = attrs.Factory(list)
    ended: list[str] = attrs.Factory(list)  # the reasons, in order
    switched_at: list[int] = attrs.Factory(list)  # data offsets of switches

    def write_packets(self, data: bytes) -> None:
        self.chunks.append(data)

    def source_switched(self) -> None:
        self.switched_at.append(sum(map(len, self.chunks)))

    def source_ended(self, reason: str) -> None:
        self.ended.append(reason)

    def data(self) -> bytes:
        return b"".join(self.chunks)
