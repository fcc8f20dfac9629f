"""The guide database (``epg.sqlite3``): its schema and all of its SQL.

A separate file from the catalog, so that replacing a source's
programmes (hundreds of thousands of rows) never churns the catalog's
pages or its write-ahead log.  Each function takes a DB-API cursor
first, like ``xrelay.store._sql``: the daemon runs them in adbapi threads,
the admin command directly.  Writers begin with ``BEGIN IMMEDIATE`` and
the caller commits, so each is one transaction.

Tables:

- ``sources``: per guide source (by its catalog id), what the fetch loop
  knows: validators for conditional GETs, last outcome, schedule, counts,
  and the operator's time offset.
- ``guide_channels`` and ``programmes``: the last good guide of each
  source, replaced as a whole in one transaction.
- ``channel_settings``: the operator's choices per catalog channel: a
  pinned guide channel (or none) and a time offset.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from xrelay import sqlite
from xrelay.epg._xmltv import Event, GuideChannel, Programme
from xrelay.sqlite import Cursor

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sources (
        id              INTEGER PRIMARY KEY,
        url             TEXT    NOT NULL DEFAULT '',
        etag            TEXT    NOT NULL DEFAULT '',
        last_modified   TEXT    NOT NULL DEFAULT '',
        checked_at      INTEGER,
        ok_at           INTEGER,
        imported_at     INTEGER,
        next_at         INTEGER,
        failures        INTEGER NOT NULL DEFAULT 0,
        error           TEXT    NOT NULL DEFAULT '',
        channels        INTEGER NOT NULL DEFAULT 0,
        programmes      INTEGER NOT NULL DEFAULT 0,
        rejects         TEXT    NOT NULL DEFAULT '{}',
        offset_seconds  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE guide_channels (
        source_id   INTEGER NOT NULL,
        id          TEXT    NOT NULL,
        names       TEXT    NOT NULL,
        icon        TEXT    NOT NULL,
        programmes  INTEGER NOT NULL,
        PRIMARY KEY (source_id, id)
    ) WITHOUT ROWID;
    CREATE TABLE programmes (
        id          INTEGER PRIMARY KEY,
        source_id   INTEGER NOT NULL,
        channel     TEXT    NOT NULL,
        start       INTEGER NOT NULL,
        stop        INTEGER NOT NULL,
        title       TEXT    NOT NULL,
        lang        TEXT    NOT NULL,
        sub_title   TEXT    NOT NULL,
        descr       TEXT    NOT NULL,
        categories  TEXT    NOT NULL,
        icon        TEXT    NOT NULL,
        episode_system TEXT NOT NULL,
        episode     TEXT    NOT NULL
    );
    CREATE UNIQUE INDEX programmes_slot ON programmes (source_id, channel, start);
    CREATE TABLE channel_settings (
        channel_id      INTEGER PRIMARY KEY,
        guide_id        TEXT,
        source_id       INTEGER,
        offset_seconds  INTEGER NOT NULL DEFAULT 0
    );
    """,
)

BATCH = 2000
"""Programmes written per ``executemany``."""


def prepare(conn: sqlite3.Connection) -> None:
    """Make a fresh connection ready: autocommit mode (functions here begin
    their own transactions), WAL, and the schema up to date."""
    try:
        conn.isolation_level = None
        # A refresh holds the write lock for seconds; the admin command and
        # the daemon may both write.
        conn.execute("PRAGMA busy_timeout = 120000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        sqlite.migrate(conn, MIGRATIONS, "guide database", sqlite3.DatabaseError)
    except BaseException:
        conn.close()
        raise


# -- records


@attrs.frozen
class SourceState:
    """What the guide database knows of one source."""

    id: int
    url: str = ""
    etag: str = ""
    last_modified: str = ""
    checked_at: int | None = None  # last attempt
    ok_at: int | None = None  # last successful check (imported or unchanged)
    imported_at: int | None = None  # last time its guide was replaced
    next_at: int | None = None  # when the loop tries it next; None: at once
    failures: int = 0  # consecutive
    error: str = ""  # the last attempt's, "" when it went well
    channels: int = 0
    programmes: int = 0
    rejects: dict[str, int] = attrs.field(factory=dict)
    offset_seconds: int = 0


@attrs.frozen
class ChannelSetting:
    """An operator's choice for a catalog channel.  ``guide_id``: None for
    automatic matching, "" for no guide, else the pinned guide channel
    (from ``source_id``, or from any source when that is None)."""

    channel_id: int
    guide_id: str | None = None
    source_id: int | None = None
    offset_seconds: int = 0


@attrs.frozen
class GuideChannelRow:
    source_id: int
    id: str
    names: tuple[str, ...]
    icon: str
    programmes: int


@attrs.frozen
class StoredSummary:
    channels: int
    programmes: int
    duplicates: int
    outside_window: int


_STATE_COLUMNS = [f.name for f in attrs.fields(SourceState)]


# -- sources


def get_states(cur: Cursor) -> dict[int, SourceState]:
    cur.execute(f"SELECT {', '.join(_STATE_COLUMNS)} FROM sources")
    states = {}
    for row in cur.fetchall():
        values = dict(zip(_STATE_COLUMNS, row, strict=True))
        values["rejects"] = json.loads(values["rejects"])
        states[values["id"]] = SourceState(**values)
    return states


def put_state(cur: Cursor, state: SourceState) -> None:
    cur.execute("BEGIN IMMEDIATE")
    write_state(cur, state)


def write_state(cur: Cursor, state: SourceState) -> None:
    """``put_state`` inside a transaction the caller began."""
    values = attrs.asdict(state)
    values["rejects"] = json.dumps(state.rejects, sort_keys=True)
    marks = ", ".join("?" * len(_STATE_COLUMNS))
    updates = ", ".join(f"{c} = excluded.{c}" for c in _STATE_COLUMNS[1:])
    cur.execute(
        f"INSERT INTO sources ({', '.join(_STATE_COLUMNS)}) VALUES ({marks})"
        f" ON CONFLICT (id) DO UPDATE SET {updates}",
        [values[c] for c in _STATE_COLUMNS],
    )


def set_source_offset(cur: Cursor, source_id: int, offset_seconds: int) -> None:
    cur.execute("BEGIN IMMEDIATE")
    cur.execute(
        "INSERT INTO sources (id, offset_seconds) VALUES (?, ?)"
        " ON CONFLICT (id) DO UPDATE SET offset_seconds = excluded.offset_seconds",
        (source_id, offset_seconds),
    )


def due_now(cur: Cursor, source_id: int) -> None:
    """Ask the running daemon to fetch the source at its next look."""
    cur.execute("BEGIN IMMEDIATE")
    cur.execute(
        "INSERT INTO sources (id) VALUES (?)"
        " ON CONFLICT (id) DO UPDATE SET next_at = NULL",
        (source_id,),
    )


def forget_sources(cur: Cursor, keep: Sequence[int]) -> int:
    """Delete everything of the sources not in ``keep`` (removed from the
    catalog); the number of sources forgotten."""
    kept = set(keep)
    cur.execute("SELECT id FROM sources")
    gone = [row[0] for row in cur.fetchall() if row[0] not in kept]
    if not gone:
        return 0
    cur.execute("BEGIN IMMEDIATE")
    for source_id in gone:
        for table, column in (
            ("programmes", "source_id"),
            ("guide_channels", "source_id"),
            ("sources", "id"),
        ):
            cur.execute(f"DELETE FROM {table} WHERE {column} = ?", (source_id,))
    return len(gone)


# -- a source's guide


def replace_guide(
    cur: Cursor,
    source_id: int,
    events: Iterator[list[Event]],
    window: tuple[int, int],
) -> StoredSummary:
    """Make ``events`` (batches, as the parser produces them) the source's
    whole guide, keeping programmes that overlap ``window`` (epoch
    seconds).  It begins a transaction and leaves it open: the caller
    stores the source's state in it too, then commits, so readers see the
    old guide until then, and keep it if anything fails (rollback)."""
    cur.execute("BEGIN IMMEDIATE")
    cur.execute("DELETE FROM programmes WHERE source_id = ?", (source_id,))
    cur.execute("DELETE FROM guide_channels WHERE source_id = ?", (source_id,))
    channels: dict[str, GuideChannel] = {}
    counts: Counter[str] = Counter()
    offered = outside = 0
    pending: list[tuple[Any, ...]] = []
    low, high = window

    def flush() -> int:
        cur.executemany(_INSERT_PROGRAMME, pending)
        written = cur.rowcount
        pending.clear()
        return written

    written = 0
    for batch in events:
        for event in batch:
            if isinstance(event, GuideChannel):
                channels.setdefault(event.id, event)
                continue
            if event.stop <= low or event.start >= high:
                outside += 1
                continue
            offered += 1
            counts[event.channel] += 1
            pending.append(_programme_row(source_id, event))
        if len(pending) >= BATCH:
            written += flush()
    written += flush()
    # Duplicates (same channel and start) were ignored by the unique index;
    # recount per channel from what was written.
    cur.execute(
        "SELECT channel, count(*) FROM programmes WHERE source_id = ? GROUP BY channel",
        (source_id,),
    )
    stored = dict(cur.fetchall())
    for channel_id in counts.keys() - channels.keys():  # listed only by programmes
        channels[channel_id] = GuideChannel(channel_id, ())
    cur.executemany(
        "INSERT INTO guide_channels (source_id, id, names, icon, programmes)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (source_id, c.id, json.dumps(c.names), c.icon, stored.get(c.id, 0))
            for c in channels.values()
        ],
    )
    return StoredSummary(len(channels), written, offered - written, outside)


_INSERT_PROGRAMME = (
    "INSERT OR IGNORE INTO programmes (source_id, channel, start, stop, title,"
    " lang, sub_title, descr, categories, icon, episode_system, episode)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _programme_row(source_id: int, p: Programme) -> tuple[Any, ...]:
    return (
        source_id,
        p.channel,
        p.start,
        p.stop,
        p.title,
        p.lang,
        p.sub_title,
        p.desc,
        "\x1f".join(p.categories),
        p.icon,
        p.episode_system,
        p.episode,
    )


def guide_channels(cur: Cursor) -> list[GuideChannelRow]:
    cur.execute(
        "SELECT source_id, id, names, icon, programmes FROM guide_channels"
        " ORDER BY source_id, id"
    )
    return [
        GuideChannelRow(s, i, tuple(json.loads(n)), icon, count)
        for s, i, n, icon, count in cur.fetchall()
    ]


# -- programmes, for the players


@attrs.frozen
class StoredProgramme:
    id: int
    start: int
    stop: int
    title: str
    lang: str
    sub_title: str
    desc: str
    categories: tuple[str, ...]
    icon: str
    episode_system: str
    episode: str


_PROGRAMME_COLUMNS = (
    "id, start, stop, title, lang, sub_title, descr, categories, icon,"
    " episode_system, episode"
)


def _stored(row: Sequence[Any]) -> StoredProgramme:
    (id_, start, stop, title, lang, sub_title, desc, categories, *rest) = row
    icon, episode_system, episode = rest
    return StoredProgramme(
        id_,
        start,
        stop,
        title,
        lang,
        sub_title,
        desc,
        tuple(categories.split("\x1f")) if categories else (),
        icon,
        episode_system,
        episode,
    )


def programmes(
    cur: Cursor,
    source_id: int,
    channel: str,
    after: int,
    before: int,
    limit: int = -1,
) -> list[StoredProgramme]:
    """The channel's programmes ending after ``after`` and starting before
    ``before`` (guide times), by start; at most ``limit`` (-1: all)."""
    cur.execute(
        f"SELECT {_PROGRAMME_COLUMNS} FROM programmes"
        " WHERE source_id = ? AND channel = ? AND stop > ? AND start < ?"
        " ORDER BY start LIMIT ?",
        (source_id, channel, after, before, limit),
    )
    return [_stored(row) for row in cur.fetchall()]


# -- channel settings


def get_settings(cur: Cursor) -> dict[int, ChannelSetting]:
    cur.execute(
        "SELECT channel_id, guide_id, source_id, offset_seconds FROM channel_settings"
    )
    return {row[0]: ChannelSetting(*row) for row in cur.fetchall()}


def put_setting(cur: Cursor, setting: ChannelSetting) -> None:
    """Store ``setting``; one back at the defaults is deleted."""
    cur.execute("BEGIN IMMEDIATE")
    if setting == ChannelSetting(setting.channel_id):
        cur.execute(
            "DELETE FROM channel_settings WHERE channel_id = ?",
            (setting.channel_id,),
        )
        return
    cur.execute(
        "INSERT OR REPLACE INTO channel_settings"
        " (channel_id, guide_id, source_id, offset_seconds) VALUES (?, ?, ?, ?)",
        attrs.astuple(setting),
    )


def checkpoint(cur: Cursor) -> None:
    cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
