"""Opening a connection: pragmas, SQL helper functions and migrations.

``MIGRATIONS[i]`` is the SQL script that takes the schema from version ``i``
to ``i + 1``; ``PRAGMA user_version`` records the version a file is at.
Append new scripts; never edit one that has shipped.  Table and column names
follow ``xrelay.models`` exactly (``_sql`` maps records by field name).
Tuples are JSON arrays in TEXT columns (order kept), booleans are 0/1.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Iterator, Sequence

from xrelay.cred.passwords import check_credential_charset
from xrelay.store._errors import StoreError

# Foreign keys are DEFERRABLE INITIALLY DEFERRED so that _sql's integrity
# rules, which run before COMMIT, report problems by name first; the keys
# stay as a backstop and carry the ON DELETE actions.  Uniqueness of
# usernames and channel numbers is one of those rules too (the indexes are
# plain), for the same reason.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE categories (
        id          INTEGER PRIMARY KEY,
        kind        TEXT    NOT NULL,
        name        TEXT    NOT NULL,
        sort_order  INTEGER NOT NULL
    );
    CREATE TABLE channels (
        id          INTEGER PRIMARY KEY,
        number      INTEGER NOT NULL,
        name        TEXT    NOT NULL,
        category_id INTEGER REFERENCES categories ON DELETE SET NULL
                            DEFERRABLE INITIALLY DEFERRED,
        sources     TEXT    NOT NULL,
        logo        TEXT    NOT NULL,
        epg_id      TEXT    NOT NULL,
        on_demand   INTEGER NOT NULL,
        added       INTEGER NOT NULL
    );
    CREATE INDEX channels_number ON channels (number);
    CREATE INDEX channels_category ON channels (category_id);
    CREATE TABLE movies (
        id            INTEGER PRIMARY KEY,
        name          TEXT    NOT NULL,
        source        TEXT    NOT NULL,
        category_id   INTEGER REFERENCES categories ON DELETE SET NULL
                              DEFERRABLE INITIALLY DEFERRED,
        container_extension TEXT NOT NULL,
        year          INTEGER,
        plot          TEXT    NOT NULL,
        poster        TEXT    NOT NULL,
        rating        TEXT    NOT NULL,
        duration_secs INTEGER NOT NULL,
        added         INTEGER NOT NULL
    );
    CREATE INDEX movies_category ON movies (category_id);
    CREATE TABLE series (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL,
        category_id INTEGER REFERENCES categories ON DELETE SET NULL
                            DEFERRABLE INITIALLY DEFERRED,
        plot        TEXT    NOT NULL,
        cover       TEXT    NOT NULL,
        year        INTEGER,
        rating      TEXT    NOT NULL,
        added       INTEGER NOT NULL
    );
    CREATE INDEX series_category ON series (category_id);
    CREATE TABLE seasons (
        series_id   INTEGER NOT NULL REFERENCES series ON DELETE CASCADE
                            DEFERRABLE INITIALLY DEFERRED,
        number      INTEGER NOT NULL,
        name        TEXT    NOT NULL,
        cover       TEXT    NOT NULL,
        plot        TEXT    NOT NULL,
        PRIMARY KEY (series_id, number)
    );
    CREATE TABLE episodes (
        id             INTEGER PRIMARY KEY,
        series_id      INTEGER NOT NULL REFERENCES series ON DELETE CASCADE
                               DEFERRABLE INITIALLY DEFERRED,
        season_number  INTEGER NOT NULL,
        episode_number INTEGER NOT NULL,
        title          TEXT    NOT NULL,
        source         TEXT    NOT NULL,
        container_extension TEXT NOT NULL,
        plot           TEXT    NOT NULL,
        duration_secs  INTEGER NOT NULL,
        added          INTEGER NOT NULL
    );
    CREATE INDEX episodes_series ON episodes (series_id, season_number);
    CREATE TABLE bouquets (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL,
        channel_ids TEXT    NOT NULL,
        movie_ids   TEXT    NOT NULL,
        series_ids  TEXT    NOT NULL
    );
    CREATE TABLE users (
        id              INTEGER PRIMARY KEY,
        username        TEXT    NOT NULL,
        password_hash   TEXT    NOT NULL,
        enabled         INTEGER NOT NULL,
        expires_at      INTEGER,
        max_connections INTEGER NOT NULL,
        allowed_output_formats TEXT NOT NULL,
        allowed_networks       TEXT NOT NULL,
        allowed_user_agents    TEXT NOT NULL,
        bouquet_ids     TEXT    NOT NULL,
        is_trial        INTEGER NOT NULL,
        notes           TEXT    NOT NULL,
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX users_username ON users (username);
    CREATE TABLE epg_sources (
        id              INTEGER PRIMARY KEY,
        name            TEXT    NOT NULL,
        url             TEXT    NOT NULL,
        enabled         INTEGER NOT NULL,
        priority        INTEGER NOT NULL,
        refresh_seconds INTEGER NOT NULL
    );
    """,
)


def prepare(conn: sqlite3.Connection) -> None:
    """Make a freshly opened connection ready for ``_sql`` (closing it if
    that fails): it is the adbapi pool's ``cp_openfun`` and ``open_sync``'s
    first step.

    The connection is put in autocommit mode: ``_sql`` begins its own
    transactions (``BEGIN IMMEDIATE`` for writes) and the caller commits.
    """
    try:
        conn.isolation_level = None
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.create_function(
            "xrelay_credential", 1, check_credential_charset, deterministic=True
        )
        conn.create_function("xrelay_network", 1, _is_network, deterministic=True)
        migrate(conn)
    except BaseException:
        conn.close()
        raise


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> None:
    """Apply the scripts the file has not had yet, in one transaction.

    Refuses (StoreError) a file whose version is newer than ``migrations``
    knows: it was written by a later xrelay.
    """
    if _version(conn) == len(migrations):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn)  # again: another process may have migrated
        if version > len(migrations):
            raise StoreError(
                f"database: schema version {version} is newer than this "
                f"xrelay knows ({len(migrations)}); upgrade xrelay"
            )
        for number, script in enumerate(migrations[version:], start=version + 1):
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` (one per ``;``-terminated line group):
    ``executescript`` would commit our transaction before running it."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"unterminated SQL statement: {pending.strip()!r}")


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return True
