"""LineAuthenticator: the one login path of every player URL (throttle,
portal, line rules), with a Clock and DummyRequests."""

from __future__ import annotations

from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from xrelay.cred.checkers import Line, LineRealm, StoreChecker
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.lines import LinesUnavailable
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.cred.throttle import MemoryFailures, Throttle, ThrottleSettings
from xrelay.models import User
from xrelay.testing import MemoryStore
from xrelay.web._auth import LineAuthenticator, Refusal, client_id

NOW = 1_700_000_000
HASH = hash_password("pw")


class AuthTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = MemoryStore()
        self.unavailable = False
        self.hashed: list[str] = []
        for user in (
            User(0, "alice", HASH, max_connections=2),
            User(0, "off", HASH, enabled=False),
            User(0, "old", HASH, expires_at=NOW - 1),
            User(0, "office", HASH, allowed_networks=("10.1.0.0/16",)),
            User(0, "tivi", HASH, allowed_user_agents=("TiviMate/*",)),
            User(0, "hls", HASH, allowed_output_formats=("m3u8",)),
        ):
            self.successResultOf(self.store.put_user(user))

        def verify(password: str, stored: str) -> Deferred[bool]:
            self.hashed.append(password)
            return succeed(verify_password(password, stored))

        portal = Portal(LineRealm(self), [StoreChecker(self, verify)])
        self.tracker = ConnectionTracker(self.clock)
        settings = ThrottleSettings(free_failures=2, block_after=5)
        throttle = Throttle(MemoryFailures(self.clock, settings), self.clock, settings)
        self.auth = LineAuthenticator(portal, self.tracker, self.clock, throttle)

    def get_user(self, username: str) -> Deferred[User | None]:
        """The line source: the store, or away."""
        if self.unavailable:
            return fail(LinesUnavailable("away"))
        return self.store.get_user(username)

    def login(
        self,
        username: str,
        password: str = "pw",
        address: str = "10.1.2.3",
        agent: str = "TiviMate/4.7",
        output: str | None = None,
    ) -> Line | Refusal:
        request = DummyRequest([b""])
        request.client = IPv4Address("TCP", address, 40000)  # __init__ drops it
        request.requestHeaders.setRawHeaders(b"user-agent", [agent.encode()])
        d = Deferred.fromCoroutine(self.auth.login(request, username, password, output))
        return self.successResultOf(d)

    def refusal(self, *args: str, **kwargs: str) -> Refusal:
        outcome = self.login(*args, **kwargs)
        assert isinstance(outcome, Refusal), outcome
        return outcome

    def test_right_credentials_give_the_line(self) -> None:
        line = self.login("alice")
        self.assertIsInstance(line, Line)
        assert isinstance(line, Line)
        self.assertEqual(line.user.username, "alice")

    def test_wrong_unknown_and_malformed_credentials_are_401(self) -> None:
        for username, password in (
            ("alice", "nope"),
            ("mallory", "pw"),
            ("al ice", "pw"),
            ("alice", "p/w"),
        ):
            refusal = self.refusal(
                username, password, address=f"192.0.2.{len(password)}"
            )
            self.assertEqual(
                (refusal.status, refusal.reason, refusal.user),
                (401, "invalid credentials", None),
            )
        self.assertEqual(self.hashed, ["nope", "pw"], "no hash for malformed ones")

    def test_lines_that_may_not_be_used_are_403_with_their_status(self) -> None:
        for kwargs, status, reason in (
            ({"username": "off"}, "Disabled", "line disabled"),
            ({"username": "old"}, "Expired", "line expired"),
            ({"username": "office", "address": "10.2.0.1"}, "Banned", "address"),
            ({"username": "tivi", "agent": "VLC/3"}, "Banned", "player"),
            ({"username": "hls", "output": "ts"}, "Active", "format"),
        ):
            refusal = self.refusal(**kwargs)
            self.assertEqual(refusal.status, 403, kwargs)
            self.assertEqual(refusal.account_status, status, kwargs)
            self.assertIn(reason, refusal.reason)
            self.assertEqual(refusal.user and refusal.user.username, kwargs["username"])
        self.assertIsInstance(self.login("office", address="10.1.200.9"), Line)
        self.assertIsInstance(self.login("hls", output="m3u8"), Line)

    def test_failed_logins_are_throttled_with_429_before_any_hash(self) -> None:
        codes = [self.refusal("alice", f"guess{n}").status for n in range(10)]
        self.assertEqual(codes, [401, 401] + [429] * 8)
        self.assertEqual(len(self.hashed), 2)
        self.assertEqual(self.refusal("alice", address="10.1.2.3").status, 429)
        self.assertIsInstance(self.login("alice", address="10.9.9.9"), Line)

    def test_unavailable_lines_are_503_and_count_no_failure(self) -> None:
        self.unavailable = True
        for _ in range(10):
            refusal = self.refusal("alice")
            self.assertEqual(refusal.status, 503)
        self.unavailable = False
        self.assertIsInstance(self.login("alice"), Line)

    def test_active_connections_come_from_the_tracker(self) -> None:
        self.tracker.take("alice", 2, "live", "1", "x", lambda: None)
        self.assertEqual(self.successResultOf(self.auth.active_connections("alice")), 1)

    def test_a_client_is_its_address_and_player(self) -> None:
        request = DummyRequest([b""])
        request.client = IPv4Address("TCP", "10.0.0.7", 1)
        request.requestHeaders.setRawHeaders(b"user-agent", [b"Kodi/20"])
        self.assertEqual(client_id(request), "10.0.0.7 Kodi/20")
