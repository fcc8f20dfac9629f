"""SqliteStore's lifecycle, StoreService, and sharing the file with the CLI."""

from __future__ import annotations

import os
import sqlite3

from twisted.trial.unittest import TestCase

from xrelay.models import Channel, User
from xrelay.store import SqliteStore, StoreError, StoreService, open_sync
from xrelay.store._schema import MIGRATIONS


def user(username: str) -> User:
    return User(0, username, "scrypt$hash")


class SqliteStoreTests(TestCase):
    def setUp(self) -> None:
        self.directory = os.path.join(self.mktemp(), "data")
        self.path = os.path.join(self.directory, "xrelay.sqlite3")
        self.store = SqliteStore(self.path)
        self.addCleanup(self.store.close)

    async def test_nothing_touches_the_disk_before_start(self) -> None:
        self.assertFalse(os.path.exists(self.directory))
        await self.store.start()
        self.assertTrue(os.path.exists(self.path))

    async def test_calls_made_while_starting_wait_for_the_start(self) -> None:
        started = self.store.start()
        put = self.store.put_user(user("early"))
        await started
        self.assertEqual((await put).id, 1)

    async def test_calls_fail_when_the_store_is_not_open(self) -> None:
        with self.assertRaises(StoreError):
            await self.store.list_users()
        await self.store.start()
        await self.store.close()
        with self.assertRaises(StoreError):
            await self.store.list_users()

    async def test_close_flushes_the_write_ahead_log(self) -> None:
        await self.store.start()
        await self.store.put_user(user("alice"))
        await self.store.close()
        wal = self.path + "-wal"
        self.assertEqual(os.path.getsize(wal) if os.path.exists(wal) else 0, 0)
        conn = sqlite3.connect(self.path)
        self.addCleanup(conn.close)
        self.assertEqual(
            conn.execute("SELECT username FROM users").fetchall(), [("alice",)]
        )

    async def test_a_database_from_a_newer_xrelay_is_refused(self) -> None:
        os.makedirs(self.directory)
        conn = sqlite3.connect(self.path)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        conn.close()
        with self.assertRaises(StoreError) as caught:
            await self.store.start()
        self.assertIn("newer than this xrelay", str(caught.exception))
        with self.assertRaises(StoreError):
            await self.store.get_user("alice")

    async def test_the_daemon_and_the_cli_share_the_file(self) -> None:
        await self.store.start()
        db = open_sync(self.path)
        self.addCleanup(db.close)
        db.put_user(user("from-cli"))
        self.assertIsNotNone(await self.store.get_user("from-cli"))
        channel = await self.store.put_channel(Channel(0, 1, "from daemon"))
        self.assertEqual(db.get_channel(channel.id), channel)
        with self.assertRaises(StoreError):
            db.put_user(user("from-cli"))
        self.assertEqual(len(await self.store.list_users()), 1)


class StoreServiceTests(TestCase):
    def setUp(self) -> None:
        self.path = os.path.join(self.mktemp(), "xrelay.sqlite3")
        self.store = SqliteStore(self.path)
        self.service = StoreService(self.store)

    async def test_starts_and_closes_the_store(self) -> None:
        self.service.startService()
        self.assertEqual(await self.store.list_users(), [])
        await self.service.stopService()
        self.assertFalse(self.service.running)
        with self.assertRaises(StoreError):
            await self.store.list_users()

    async def test_a_store_that_cannot_open_is_logged(self) -> None:
        os.makedirs(os.path.dirname(self.path))
        conn = sqlite3.connect(self.path)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        conn.close()
        self.service.startService()
        with self.assertRaises(StoreError):
            await self.store.list_users()  # runs after start has failed
        self.assertEqual(len(self.flushLoggedErrors(StoreError)), 1)
        await self.service.stopService()
