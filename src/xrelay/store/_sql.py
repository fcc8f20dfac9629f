"""All of the store's SQL, as functions of a DB-API cursor.

Each public function takes a cursor first, so the same code runs on a plain
``sqlite3`` cursor (``CatalogDB``) and on an adbapi ``Transaction``
(``SqliteStore``, through ``runInteraction``).  The caller commits when the
function returns and rolls back when it raises, as ``runInteraction`` does.

Functions that change data are wrapped in ``writes(...)``: they begin with
``BEGIN IMMEDIATE`` and end by checking the integrity ``RULES`` of the
tables they touched, so a broken rule raises ``StoreError`` and the
caller's rollback undoes the whole write.
"""

from __future__ import annotations

import functools
import json
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

import attrs
from attrs import AttrsInstance

from xrelay.cred.passwords import CREDENTIAL_RULE
from xrelay.models import (
    CATEGORY_KINDS,
    OUTPUT_FORMATS,
    Bouquet,
    Catalog,
    Category,
    Channel,
    EpgSource,
    Episode,
    Movie,
    Season,
    Series,
    User,
)
from xrelay.sqlite import Cursor
from xrelay.store._errors import StoreError

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=AttrsInstance)  # a model record


class _Identified(AttrsInstance, Protocol):
    @property
    def id(self) -> int: ...


MI = TypeVar("MI", bound=_Identified)  # a model record with an id


@attrs.frozen
class _Table(Generic[M]):
    """How one model maps to its table: a column per attrs field, same name."""

    name: str
    model: type[M]
    key: tuple[str, ...]
    columns: tuple[str, ...]
    decoders: tuple[Callable[[Any], Any], ...]

    def select(self, where: str = "") -> str:
        columns, order = ", ".join(self.columns), ", ".join(self.key)
        return f"SELECT {columns} FROM {self.name} {where} ORDER BY {order}"

    def insert(self) -> str:
        marks = ", ".join("?" * len(self.columns))
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({marks})"

    def upsert(self) -> str:
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c != "id")
        return f"{self.insert()} ON CONFLICT (id) DO UPDATE SET {updates}"

    def encode(self, record: M) -> tuple[Any, ...]:
        """The row for ``record``; id 0 becomes NULL, so SQLite assigns one."""
        values = attrs.astuple(record, recurse=False)
        return tuple(
            None
            if column == "id" and value == 0
            else _json(value)
            if isinstance(value, tuple)
            else value
            for column, value in zip(self.columns, values, strict=True)
        )

    def decode(self, row: Sequence[Any]) -> M:
        make = typing.cast(Callable[..., M], self.model)
        return make(*(f(v) for f, v in zip(self.decoders, row, strict=True)))


def _table(name: str, model: type[M], key: tuple[str, ...] = ("id",)) -> _Table[M]:
    fields = attrs.fields(attrs.resolve_types(model))
    return _Table(
        name,
        model,
        key,
        tuple(f.name for f in fields),
        tuple(_decoder(f.type) for f in fields),
    )


def _decoder(kind: Any) -> Callable[[Any], Any]:
    if kind is bool:
        return bool
    if typing.get_origin(kind) is tuple:
        return lambda text: tuple(json.loads(text))
    return lambda value: value


def _json(values: tuple[Any, ...]) -> str:
    return json.dumps(values, separators=(",", ":"))


CATEGORIES = _table("categories", Category)
CHANNELS = _table("channels", Channel)
MOVIES = _table("movies", Movie)
SERIES = _table("series", Series)
SEASONS = _table("seasons", Season, key=("series_id", "number"))
EPISODES = _table("episodes", Episode)
BOUQUETS = _table("bouquets", Bouquet)
USERS = _table("users", User)
EPG_SOURCES = _table("epg_sources", EpgSource)

# Referenced tables come before the tables that refer to them.  Each name
# is also the Catalog attribute holding that table's records.
TABLES: tuple[_Table[Any], ...] = (
    CATEGORIES,
    CHANNELS,
    MOVIES,
    SERIES,
    SEASONS,
    EPISODES,
    BOUQUETS,
    USERS,
    EPG_SOURCES,
)


@attrs.frozen
class _Rule:
    """An integrity rule: ``query`` selects the rows breaking it, and the
    first one is reported as ``message.format(*row)``."""

    tables: frozenset[str]  # a write to any of these may break the rule
    query: str
    message: str


def _sql_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


RULES: tuple[_Rule, ...] = (
    _Rule(
        frozenset({"categories"}),
        f"SELECT kind FROM categories WHERE kind NOT IN {_sql_list(CATEGORY_KINDS)}",
        f"categories.kind: {{0!r}} is not one of {', '.join(CATEGORY_KINDS)}",
    ),
    *(
        _Rule(
            frozenset({table, "categories"}),
            f"SELECT category_id FROM {table} WHERE category_id NOT IN"
            f" (SELECT id FROM categories WHERE kind = '{kind}')"
            # x NOT IN (empty set) is true even for a NULL x
            " AND category_id IS NOT NULL",
            f"{table}.category_id: no {kind} category {{0}}",
        )
        for table, kind in (
            ("channels", "live"),
            ("movies", "vod"),
            ("series", "series"),
        )
    ),
    _Rule(
        frozenset({"channels"}),
        "SELECT number FROM channels GROUP BY number HAVING count(*) > 1",
        "channels.number: {0} already exists",
    ),
    _Rule(
        frozenset({"channels"}),
        "SELECT archive_days, id FROM channels WHERE archive_days < 0",
        "channels.archive_days: {0} is negative (channel {1})",
    ),
    *(
        _Rule(
            frozenset({"bouquets", table}),
            f"SELECT j.value, b.id FROM bouquets b, json_each(b.{column}) j"
            f" WHERE j.value NOT IN (SELECT id FROM {table})",
            f"bouquets.{column}: no {what} {{0}} (listed by bouquet {{1}})",
        )
        for column, table, what in (
            ("channel_ids", "channels", "channel"),
            ("movie_ids", "movies", "movie"),
            ("series_ids", "series", "series"),
        )
    ),
    _Rule(
        frozenset({"users"}),
        "SELECT username FROM users GROUP BY username HAVING count(*) > 1",
        "users.username: {0!r} already exists",
    ),
    _Rule(
        frozenset({"users"}),
        "SELECT username FROM users WHERE NOT xrelay_credential(username)",
        f"users.username: {{0!r}} is not allowed: use {CREDENTIAL_RULE}",
    ),
    _Rule(
        frozenset({"users"}),
        "SELECT j.value FROM users u, json_each(u.allowed_output_formats) j"
        f" WHERE j.value NOT IN {_sql_list(OUTPUT_FORMATS)}",
        "users.allowed_output_formats: {0!r} is not one of "
        + ", ".join(OUTPUT_FORMATS),
    ),
    _Rule(
        frozenset({"users"}),
        "SELECT j.value FROM users u, json_each(u.allowed_networks) j"
        " WHERE NOT xrelay_network(j.value)",
        "users.allowed_networks: {0!r} is not an IP network",
    ),
    _Rule(
        frozenset({"users", "bouquets"}),
        "SELECT j.value, u.username FROM users u, json_each(u.bouquet_ids) j"
        " WHERE j.value NOT IN (SELECT id FROM bouquets)",
        "users.bouquet_ids: no bouquet {0} (listed by {1!r})",
    ),
    *(
        _Rule(
            frozenset({table, "series"}),
            f"SELECT series_id FROM {table}"
            " WHERE series_id NOT IN (SELECT id FROM series)",
            f"{table}.series_id: no series {{0}}",
        )
        for table in ("seasons", "episodes")
    ),
)


Interaction = Callable[Concatenate[Cursor, P], R]
"""A function of this module: a cursor, then its own arguments."""


def writes(*tables: str) -> Callable[[Interaction[P, R]], Interaction[P, R]]:
    """Run the decorated function as a write to ``tables``: take the write
    lock first, check the rules for those tables last."""
    touched = frozenset(tables)

    def decorate(function: Interaction[P, R]) -> Interaction[P, R]:
        @functools.wraps(function)
        def write(cur: Cursor, /, *args: P.args, **kwargs: P.kwargs) -> R:
            cur.execute("BEGIN IMMEDIATE")
            result = function(cur, *args, **kwargs)
            for rule in RULES:
                if rule.tables & touched:
                    cur.execute(f"{rule.query} LIMIT 1")
                    broken = cur.fetchone()
                    if broken is not None:
                        raise StoreError(rule.message.format(*broken))
            return result

        return write

    return decorate


def get_user(cur: Cursor, username: str) -> User | None:
    return _first(cur, USERS, "WHERE username = ?", username)


def list_users(cur: Cursor) -> list[User]:
    return _all(cur, USERS)


@writes("users")
def put_user(cur: Cursor, user: User) -> User:
    return _put(cur, USERS, user)


@writes("users")
def delete_user(cur: Cursor, username: str) -> bool:
    return _delete(cur, "DELETE FROM users WHERE username = ?", username)


def get_channel(cur: Cursor, channel_id: int) -> Channel | None:
    return _first(cur, CHANNELS, "WHERE id = ?", channel_id)


def list_channels(cur: Cursor) -> list[Channel]:
    return _all(cur, CHANNELS)


@writes("channels")
def put_channel(cur: Cursor, channel: Channel) -> Channel:
    return _put(cur, CHANNELS, channel)


@writes("channels", "bouquets")
def delete_channel(cur: Cursor, channel_id: int) -> bool:
    """Deletes the channel and takes it out of every bouquet."""
    cur.execute(
        "SELECT id, channel_ids FROM bouquets WHERE EXISTS"
        " (SELECT 1 FROM json_each(channel_ids) WHERE value = ?)",
        (channel_id,),
    )
    cur.executemany(
        "UPDATE bouquets SET channel_ids = ? WHERE id = ?",
        [
            (_json(tuple(i for i in json.loads(ids) if i != channel_id)), bouquet)
            for bouquet, ids in cur.fetchall()
        ],
    )
    return _delete(cur, "DELETE FROM channels WHERE id = ?", channel_id)


def list_categories(cur: Cursor, kind: str | None = None) -> list[Category]:
    if kind is None:
        return _all(cur, CATEGORIES)
    return _all(cur, CATEGORIES, "WHERE kind = ?", kind)


@writes("categories")
def put_category(cur: Cursor, category: Category) -> Category:
    return _put(cur, CATEGORIES, category)


@writes("categories")
def delete_category(cur: Cursor, category_id: int) -> bool:
    """Deletes the category; what was in it is left without a category."""
    return _delete(cur, "DELETE FROM categories WHERE id = ?", category_id)


def list_bouquets(cur: Cursor) -> list[Bouquet]:
    return _all(cur, BOUQUETS)


@writes("bouquets")
def put_bouquet(cur: Cursor, bouquet: Bouquet) -> Bouquet:
    return _put(cur, BOUQUETS, bouquet)


@writes("bouquets")
def delete_bouquet(cur: Cursor, bouquet_id: int) -> bool:
    """Refused (by the users.bouquet_ids rule) while a user lists the
    bouquet: a user left with no bouquets would see the whole catalog."""
    return _delete(cur, "DELETE FROM bouquets WHERE id = ?", bouquet_id)


def list_epg_sources(cur: Cursor) -> list[EpgSource]:
    return _all(cur, EPG_SOURCES)


@writes("epg_sources")
def put_epg_source(cur: Cursor, source: EpgSource) -> EpgSource:
    return _put(cur, EPG_SOURCES, source)


@writes("epg_sources")
def delete_epg_source(cur: Cursor, source_id: int) -> bool:
    return _delete(cur, "DELETE FROM epg_sources WHERE id = ?", source_id)


def read_catalog(cur: Cursor) -> Catalog:
    cur.execute("BEGIN")  # one snapshot for all the tables
    return _read_all(cur)


def _read_all(cur: Cursor) -> Catalog:
    return Catalog(**{table.name: tuple(_all(cur, table)) for table in TABLES})


@writes(*(table.name for table in TABLES))
def replace_catalog(
    cur: Cursor, catalog: Catalog, expected: Catalog | None = None
) -> None:
    """Replace everything; with ``expected``, only if the store still holds
    exactly that (checked under the write lock), so a read-change-write by
    the CLI cannot silently undo a concurrent change."""
    if expected is not None and _read_all(cur) != expected:
        raise StoreError(
            "catalog: changed by someone else since it was read; run the command again"
        )
    contents = [(table, getattr(catalog, table.name)) for table in TABLES]
    for table, records in contents:
        _refuse_duplicate_keys(table, records)
    for table in reversed(TABLES):
        cur.execute(f"DELETE FROM {table.name}")
    for table, records in contents:
        cur.executemany(table.insert(), [table.encode(r) for r in records])


def checkpoint(cur: Cursor) -> None:
    """Copy the write-ahead log into the database file and empty it."""
    cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _first(cur: Cursor, table: _Table[M], where: str, *params: Any) -> M | None:
    cur.execute(table.select(where), params)
    row = cur.fetchone()
    return None if row is None else table.decode(row)


def _all(cur: Cursor, table: _Table[M], where: str = "", *params: Any) -> list[M]:
    cur.execute(table.select(where), params)
    return [table.decode(row) for row in cur.fetchall()]


def _put(cur: Cursor, table: _Table[MI], record: MI) -> MI:
    """Insert or replace ``record``; returns it as stored (with its id)."""
    cur.execute(table.upsert(), table.encode(record))
    stored = _first(cur, table, "WHERE id = ?", record.id or cur.lastrowid)
    assert stored is not None, "just written"
    return stored


def _delete(cur: Cursor, sql: str, key: object) -> bool:
    cur.execute(sql, (key,))
    return cur.rowcount > 0


def _refuse_duplicate_keys(table: _Table[Any], records: Iterable[Any]) -> None:
    keys = Counter(tuple(getattr(r, c) for c in table.key) for r in records)
    keys.pop((0,), None)  # id 0: assign the next id
    for key, count in keys.items():
        if count > 1:
            shown = key[0] if len(key) == 1 else key
            raise StoreError(
                f"{table.name}.{'/'.join(table.key)}: {shown} appears {count} times"
            )
