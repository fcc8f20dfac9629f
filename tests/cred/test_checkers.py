"""The store checker, its verified-credentials cache, and the realm."""

from __future__ import annotations

import attrs
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.cred.checkers import CachingVerifier, Line, LineRealm, StoreChecker
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.interfaces import ILine
from xrelay.models import User
from xrelay.testing import MemoryStore


class CheckerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.store = MemoryStore()
        self.user = self.successResultOf(
            self.store.put_user(User(0, "alice", hash_password("right")))
        )
        self.verified: list[str] = []
        self.pending: list[Deferred[bool]] = []
        self.checker = StoreChecker(
            self.store, CachingVerifier(self.verify, self.clock, ttl=60)
        )

    def verify(self, password: str, stored: str) -> Deferred[bool]:
        self.verified.append(password)
        return succeed(verify_password(password, stored))

    def login(self, username: str, password: str) -> Deferred[bytes | tuple[()]]:
        return self.checker.requestAvatarId(
            UsernamePassword(username.encode(), password.encode())
        )

    def test_a_repeated_login_skips_the_slow_hash(self) -> None:
        self.assertEqual(self.successResultOf(self.login("alice", "right")), b"alice")
        self.assertEqual(self.successResultOf(self.login("alice", "right")), b"alice")
        self.assertEqual(self.verified, ["right"])

    def test_a_wrong_password_is_never_served_from_the_cache(self) -> None:
        self.successResultOf(self.login("alice", "right"))
        self.failureResultOf(self.login("alice", "wrong"), UnauthorizedLogin)
        self.assertEqual(self.verified, ["right", "wrong"])

    def test_a_changed_password_takes_effect_at_once(self) -> None:
        self.successResultOf(self.login("alice", "right"))
        changed = attrs.evolve(self.user, password_hash=hash_password("new"))
        self.successResultOf(self.store.put_user(changed))
        self.failureResultOf(self.login("alice", "right"), UnauthorizedLogin)
        self.assertEqual(self.successResultOf(self.login("alice", "new")), b"alice")

    def test_entries_expire(self) -> None:
        self.successResultOf(self.login("alice", "right"))
        self.clock.advance(61)
        self.successResultOf(self.login("alice", "right"))
        self.assertEqual(self.verified, ["right", "right"])

    def test_unknown_users_pay_a_hash_too(self) -> None:
        self.failureResultOf(self.login("mallory", "right"), UnauthorizedLogin)
        self.assertEqual(self.verified, ["right"])

    def test_concurrent_identical_logins_share_one_hash(self) -> None:
        slow: list[Deferred[bool]] = []

        def verify_later(password: str, stored: str) -> Deferred[bool]:
            self.verified.append(password)
            slow.append(Deferred())
            return slow[-1]

        checker = StoreChecker(self.store, CachingVerifier(verify_later, self.clock))
        logins = [
            checker.requestAvatarId(UsernamePassword(b"alice", b"right"))
            for _ in range(100)
        ]
        self.assertEqual(self.verified, ["right"])
        slow[0].callback(True)
        self.assertEqual({self.successResultOf(d) for d in logins}, {b"alice"})

    def test_realm_gives_the_current_line(self) -> None:
        realm = LineRealm(self.store)
        interface, avatar, _ = self.successResultOf(
            realm.requestAvatar(b"alice", None, ILine)
        )
        self.assertIs(interface, ILine)
        self.assertEqual(avatar, Line(self.user))
        self.failureResultOf(
            realm.requestAvatar(b"gone", None, ILine), UnauthorizedLogin
        )
