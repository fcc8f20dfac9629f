"""CachedStore: lookups served from memory, bounded staleness."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.models import Channel, User
from xrelay.store import CachedStore
from xrelay.testing import MemoryStore


class CachedStoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.backing = MemoryStore()
        self.store = CachedStore(self.backing, self.clock, ttl=2)
        self.successResultOf(self.backing.put_user(User(0, "bob", "h")))
        self.successResultOf(self.backing.put_channel(Channel(5, 5, "Five")))

    def test_changes_elsewhere_show_within_the_ttl(self) -> None:
        self.assertTrue(self.successResultOf(self.store.get_user("bob")).enabled)
        [bob] = self.successResultOf(self.backing.list_users())
        self.successResultOf(
            self.backing.put_user(User(bob.id, "bob", "h", enabled=False))
        )
        self.assertTrue(self.successResultOf(self.store.get_user("bob")).enabled)
        self.clock.advance(2.1)
        self.assertFalse(self.successResultOf(self.store.get_user("bob")).enabled)

    def test_writes_through_it_show_at_once(self) -> None:
        self.assertEqual(self.successResultOf(self.store.get_channel(5)).name, "Five")
        self.successResultOf(self.store.put_channel(Channel(5, 5, "Cinq")))
        self.assertEqual(self.successResultOf(self.store.get_channel(5)).name, "Cinq")

    def test_misses_are_cached_too(self) -> None:
        self.assertIsNone(self.successResultOf(self.store.get_channel(9)))
        self.successResultOf(self.backing.put_channel(Channel(9, 9, "Nine")))
        self.assertIsNone(self.successResultOf(self.store.get_channel(9)))
        self.clock.advance(2.1)
        self.assertIsNotNone(self.successResultOf(self.store.get_channel(9)))
