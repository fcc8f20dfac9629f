"""The store for the daemon: SQLite through twisted.enterprise.adbapi."""

from __future__ import annotations

from pathlib import Path
from typing import ParamSpec, TypeVar

import attrs
from twisted.application.service import Service
from twisted.enterprise.adbapi import ConnectionPool
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger
from zope.interface import implementer

from xrelay.interfaces import IStore
from xrelay.models import Bouquet, Catalog, Category, Channel, User
from xrelay.store import _sql
from xrelay.store._errors import StoreError
from xrelay.store._schema import prepare

P = ParamSpec("P")
R = TypeVar("R")


@implementer(IStore)
@attrs.define
class SqliteStore:
    """``IStore`` on the SQLite file at ``path``.

    Nothing touches the file before ``start()``.  That creates the data
    directory and a pool of one connection (SQLite serialises writers
    anyway), whose single thread first opens the file and migrates it
    (``_schema.prepare``), then runs calls in the order they were made.
    So calls made before ``start()``'s Deferred fires simply wait behind it:
    ``StoreService`` need not, and twistd cannot, wait for the store.  If
    the file cannot be opened (say, it was written by a newer xrelay),
    ``start()`` fails and so does every call after it, with that error.
    """

    path: str
    reactor: IReactorCore | None = None
    _pool: ConnectionPool | None = attrs.field(default=None, init=False)

    def start(self) -> Deferred[None]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._pool = ConnectionPool(  # type: ignore[no-untyped-call]
            "sqlite3",
            self.path,
            check_same_thread=False,
            cp_min=1,
            cp_max=1,
            cp_openfun=prepare,
            cp_reactor=self.reactor,
        )
        # Getting the connection is what opens and migrates the file.
        opened: Deferred[None] = self._pool.runWithConnection(  # type: ignore[no-untyped-call]
            lambda connection: None
        )
        return opened

    def close(self) -> Deferred[None]:
        """Flush the write-ahead log into the file, then close the pool."""
        pool, self._pool = self._pool, None
        if pool is None:
            return succeed(None)

        async def flush_and_close() -> None:
            try:
                await _interact(pool, _sql.checkpoint)
            except StoreError:
                pass  # it never opened: start() has failed with this already
            finally:
                pool.close()  # type: ignore[no-untyped-call]

        return Deferred.fromCoroutine(flush_and_close())

    def _run(
        self,
        function: _sql.Interaction[P, R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Deferred[R]:
        if self._pool is None:
            return fail(StoreError(f"{self.path}: the store is not open"))
        return _interact(self._pool, function, *args, **kwargs)

    def get_user(self, username: str) -> Deferred[User | None]:
        return self._run(_sql.get_user, username)

    def list_users(self) -> Deferred[list[User]]:
        return self._run(_sql.list_users)

    def put_user(self, user: User) -> Deferred[User]:
        return self._run(_sql.put_user, user)

    def delete_user(self, username: str) -> Deferred[bool]:
        return self._run(_sql.delete_user, username)

    def get_channel(self, channel_id: int) -> Deferred[Channel | None]:
        return self._run(_sql.get_channel, channel_id)

    def list_channels(self) -> Deferred[list[Channel]]:
        return self._run(_sql.list_channels)

    def put_channel(self, channel: Channel) -> Deferred[Channel]:
        return self._run(_sql.put_channel, channel)

    def delete_channel(self, channel_id: int) -> Deferred[bool]:
        return self._run(_sql.delete_channel, channel_id)

    def list_categories(self, kind: str | None = None) -> Deferred[list[Category]]:
        return self._run(_sql.list_categories, kind)

    def put_category(self, category: Category) -> Deferred[Category]:
        return self._run(_sql.put_category, category)

    def delete_category(self, category_id: int) -> Deferred[bool]:
        return self._run(_sql.delete_category, category_id)

    def list_bouquets(self) -> Deferred[list[Bouquet]]:
        return self._run(_sql.list_bouquets)

    def put_bouquet(self, bouquet: Bouquet) -> Deferred[Bouquet]:
        return self._run(_sql.put_bouquet, bouquet)

    def delete_bouquet(self, bouquet_id: int) -> Deferred[bool]:
        return self._run(_sql.delete_bouquet, bouquet_id)

    def read_catalog(self) -> Deferred[Catalog]:
        return self._run(_sql.read_catalog)

    def replace_catalog(
        self, catalog: Catalog, expected: Catalog | None = None
    ) -> Deferred[None]:
        return self._run(_sql.replace_catalog, catalog, expected)


def _interact(
    pool: ConnectionPool,
    function: _sql.Interaction[P, R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Deferred[R]:
    """``pool.runInteraction``, typed."""
    d: Deferred[R] = pool.runInteraction(function, *args, **kwargs)  # type: ignore[no-untyped-call]
    return d


class StoreService(Service):
    """Starts a store with the service tree and closes it on the way down.

    ``startService`` does not wait for ``store.start()`` (twistd could not
    wait anyway): the store queues calls made meanwhile behind it.  A store
    that fails to open is logged here, and each call fails with the reason.
    """

    log = Logger()

    def __init__(self, store: IStore) -> None:
        self.store = store

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.store.start().addErrback(
            lambda failure: self.log.failure("could not open the store", failure)
        )

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return self.store.close()
