"""Opening a database: pragmas, the tables' shape and migrations."""

from __future__ import annotations

import os
import sqlite3

import attrs
from twisted.trial.unittest import SynchronousTestCase

from xrelay.store import StoreError, open_sync
from xrelay.store._schema import MIGRATIONS, migrate, prepare
from xrelay.store._sql import TABLES


class SchemaTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = os.path.join(self.mktemp(), "sub", "xrelay.sqlite3")

    def raw(self) -> sqlite3.Connection:
        """A plain connection: no pragmas, no migrations."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(conn.close)
        return conn

    def version(self) -> int:
        version: int = self.raw().execute("PRAGMA user_version").fetchone()[0]
        return version

    def test_open_creates_the_directory_and_the_current_schema(self) -> None:
        open_sync(self.path).close()
        self.assertEqual(self.version(), len(MIGRATIONS))

    def test_connections_use_wal_foreign_keys_and_a_busy_timeout(self) -> None:
        conn = self.raw()
        prepare(conn)
        pragmas = [
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        ]
        self.assertEqual(pragmas, ["wal", 1, 5000])
        self.assertIsNone(conn.isolation_level)

    def test_every_model_field_has_its_column(self) -> None:
        conn = self.raw()
        prepare(conn)
        for table in TABLES:
            columns = {
                row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")
            }
            fields = {f.name for f in attrs.fields(table.model)}
            self.assertEqual(columns, fields, table.name)

    def test_only_missing_migrations_run(self) -> None:
        conn = self.raw()
        migrate(conn, MIGRATIONS)
        conn.execute("INSERT INTO categories VALUES (1, 'live', 'News', 0)")
        later = (
            *MIGRATIONS,
            "ALTER TABLE categories ADD COLUMN parent INTEGER;\n"
            "UPDATE categories SET parent = 0;\n",
        )
        migrate(conn, later)
        self.assertEqual(self.version(), len(MIGRATIONS) + 1)
        self.assertEqual(
            conn.execute("SELECT * FROM categories").fetchall(),
            [(1, "live", "News", 0, 0)],
        )

    def test_a_failed_migration_changes_nothing(self) -> None:
        conn = self.raw()
        broken = ("CREATE TABLE a (x);\nCREATE TABLE a (x);\n",)
        with self.assertRaises(sqlite3.OperationalError):
            migrate(conn, broken)
        self.assertEqual(self.version(), 0)
        self.assertEqual(conn.execute("SELECT name FROM sqlite_schema").fetchall(), [])
        self.assertFalse(conn.in_transaction)

    def test_an_unterminated_statement_is_an_error(self) -> None:
        with self.assertRaises(ValueError):
            migrate(self.raw(), ("CREATE TABLE a (x)",))

    def test_a_database_from_a_newer_xrelay_is_refused(self) -> None:
        self.raw().execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        with self.assertRaises(StoreError) as caught:
            open_sync(self.path)
        self.assertEqual(
            str(caught.exception),
            f"database: schema version {len(MIGRATIONS) + 1} is newer than this"
            f" xrelay knows ({len(MIGRATIONS)}); upgrade xrelay",
        )
        self.assertEqual(self.version(), len(MIGRATIONS) + 1)
