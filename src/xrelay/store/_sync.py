"""The store, synchronously: what the admin CLI uses."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ParamSpec, TypeVar

import attrs

from xrelay.models import Bouquet, Catalog, Category, Channel, EpgSource, User
from xrelay.sqlite import run_transaction
from xrelay.store import _sql
from xrelay.store._schema import prepare

P = ParamSpec("P")
R = TypeVar("R")


def open_sync(path: str) -> CatalogDB:
    """Open the database at ``path`` (creating it, and its directory, if
    missing) and bring its schema up to date; ``":memory:"`` works too."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    prepare(conn)
    return CatalogDB(conn)


@attrs.define
class CatalogDB:
    """``IStore``'s methods, returning values instead of Deferreds.

    Each call is one transaction (writes begin with ``BEGIN IMMEDIATE``), so
    the CLI and a running daemon can share the file.
    """

    _conn: sqlite3.Connection

    def _run(
        self,
        function: _sql.Interaction[P, R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        return run_transaction(self._conn, function, *args, **kwargs)

    def get_user(self, username: str) -> User | None:
        return self._run(_sql.get_user, username)

    def list_users(self) -> list[User]:
        return self._run(_sql.list_users)

    def put_user(self, user: User) -> User:
        return self._run(_sql.put_user, user)

    def delete_user(self, username: str) -> bool:
        return self._run(_sql.delete_user, username)

    def get_channel(self, channel_id: int) -> Channel | None:
        return self._run(_sql.get_channel, channel_id)

    def list_channels(self) -> list[Channel]:
        return self._run(_sql.list_channels)

    def put_channel(self, channel: Channel) -> Channel:
        return self._run(_sql.put_channel, channel)

    def delete_channel(self, channel_id: int) -> bool:
        return self._run(_sql.delete_channel, channel_id)

    def list_categories(self, kind: str | None = None) -> list[Category]:
        return self._run(_sql.list_categories, kind)

    def put_category(self, category: Category) -> Category:
        return self._run(_sql.put_category, category)

    def delete_category(self, category_id: int) -> bool:
        return self._run(_sql.delete_category, category_id)

    def list_bouquets(self) -> list[Bouquet]:
        return self._run(_sql.list_bouquets)

    def put_bouquet(self, bouquet: Bouquet) -> Bouquet:
        return self._run(_sql.put_bouquet, bouquet)

    def delete_bouquet(self, bouquet_id: int) -> bool:
        return self._run(_sql.delete_bouquet, bouquet_id)

    def list_epg_sources(self) -> list[EpgSource]:
        return self._run(_sql.list_epg_sources)

    def put_epg_source(self, source: EpgSource) -> EpgSource:
        return self._run(_sql.put_epg_source, source)

    def delete_epg_source(self, source_id: int) -> bool:
        return self._run(_sql.delete_epg_source, source_id)

    def read_catalog(self) -> Catalog:
        return self._run(_sql.read_catalog)

    def replace_catalog(
        self, catalog: Catalog, expected: Catalog | None = None
    ) -> None:
        self._run(_sql.replace_catalog, catalog, expected)

    def close(self) -> None:
        """Flush the write-ahead log into the file and close."""
        self._run(_sql.checkpoint)
        self._conn.close()
