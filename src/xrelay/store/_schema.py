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
from collections.abc import Sequence

from xrelay import sqlite
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
    # 2: VOD library (artwork, media facts, the scan's own records)
    """
    ALTER TABLE movies ADD COLUMN backdrop TEXT NOT NULL DEFAULT '';
    ALTER TABLE movies ADD COLUMN video_codec TEXT NOT NULL DEFAULT '';
    ALTER TABLE movies ADD COLUMN audio_codec TEXT NOT NULL DEFAULT '';
    ALTER TABLE movies ADD COLUMN width INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movies ADD COLUMN height INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movies ADD COLUMN bitrate INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movies ADD COLUMN file_size INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movies ADD COLUMN library_path TEXT NOT NULL DEFAULT '';
    ALTER TABLE series ADD COLUMN backdrop TEXT NOT NULL DEFAULT '';
    ALTER TABLE series ADD COLUMN library_path TEXT NOT NULL DEFAULT '';
    ALTER TABLE episodes ADD COLUMN video_codec TEXT NOT NULL DEFAULT '';
    ALTER TABLE episodes ADD COLUMN audio_codec TEXT NOT NULL DEFAULT '';
    ALTER TABLE episodes ADD COLUMN width INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE episodes ADD COLUMN height INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE episodes ADD COLUMN bitrate INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE episodes ADD COLUMN file_size INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE episodes ADD COLUMN library_path TEXT NOT NULL DEFAULT '';
    """,
    # 3: catch-up (xrelay.archive): days of a channel recorded
    """
    ALTER TABLE channels ADD COLUMN archive_days INTEGER NOT NULL DEFAULT 0;
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
    sqlite.migrate(conn, migrations, "database", StoreError)


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return True
