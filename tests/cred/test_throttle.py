"""The login throttle in memory, with a Clock: backoff, blocks, per address
and per username, trusted pairs, racing tries."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.cred.throttle import (
    Attempt,
    Failures,
    MemoryFailures,
    Throttle,
    ThrottleSettings,
    address_key,
    wait,
)

SETTINGS = ThrottleSettings(
    free_failures=3,
    max_backoff=8.0,
    block_after=10,
    block_seconds=100.0,
    trust_seconds=1000.0,
)
ATTACKER, OWNER, NEIGHBOUR = "192.0.2.66", "198.51.100.7", "192.0.2.66"


class ThrottleTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.failures = MemoryFailures(self.clock, SETTINGS)
        self.throttle = Throttle(self.failures, self.clock, SETTINGS)

    def start(
        self, address: str, username: str, password: str = "guess"
    ) -> Attempt | float:
        d = Deferred.fromCoroutine(self.throttle.attempt(address, username, password))
        return self.successResultOf(d)

    def fail(self, address: str, username: str, password: str = "guess") -> float:
        """Try a wrong password: 0 if it was checked, else the wait."""
        attempt = self.start(address, username, password)
        if not isinstance(attempt, Attempt):
            return attempt
        self.successResultOf(Deferred.fromCoroutine(attempt.failed()))
        return 0.0

    def succeed(self, address: str, username: str) -> bool:
        attempt = self.start(address, username, "right")
        if not isinstance(attempt, Attempt):
            return False
        self.successResultOf(attempt.succeeded())
        return True

    def test_free_failures_then_doubling_waits_up_to_the_cap(self) -> None:
        for _ in range(3):
            self.assertEqual(self.fail(ATTACKER, "alice"), 0)
        waits = []
        for _ in range(6):
            waited = self.fail(ATTACKER, "alice")
            waits.append(waited)
            self.clock.advance(waited)
            self.assertEqual(self.fail(ATTACKER, "alice"), 0)
        self.assertEqual(waits, [1, 2, 4, 8, 8, 8])

    def test_a_refused_try_does_not_count(self) -> None:
        for _ in range(3):
            self.fail(ATTACKER, "alice")
        self.fail(ATTACKER, "alice")  # the 4th: waits 1 s before the next
        for _ in range(100):
            self.assertEqual(self.fail(ATTACKER, "alice"), 1.0)
        self.clock.advance(1)
        self.assertEqual(self.fail(ATTACKER, "alice"), 0)

    def test_blocked_for_the_window_after_block_after_failures(self) -> None:
        for _ in range(SETTINGS.block_after):
            self.clock.advance(SETTINGS.max_backoff)
            self.assertEqual(self.fail(ATTACKER, "alice"), 0)
        self.clock.advance(SETTINGS.max_backoff)
        self.assertAlmostEqual(
            self.fail(ATTACKER, "alice"),
            SETTINGS.block_seconds - SETTINGS.max_backoff,
        )
        self.clock.advance(SETTINGS.block_seconds - SETTINGS.max_backoff - 1)
        self.assertEqual(self.fail(ATTACKER, "bob"), 1.0, "the address is blocked")
        self.clock.advance(1)
        self.assertEqual(self.fail(ATTACKER, "alice"), 0, "failures forgotten")

    def test_an_address_is_counted_over_every_username(self) -> None:
        for n in range(3):
            self.fail(ATTACKER, f"user{n}")
        self.assertEqual(self.fail(ATTACKER, "someone-else"), 1.0)
        self.assertEqual(self.fail(OWNER, "someone-else"), 0, "others are not")

    def test_a_username_under_attack_stops_addresses_that_failed_only(
        self,
    ) -> None:
        for n in range(3):  # a distributed attack: one address per try
            self.fail(f"203.0.113.{n}", "alice")
        self.fail("203.0.113.9", "bob")  # this address failed once, elsewhere
        self.assertEqual(self.fail("203.0.113.9", "alice"), 1.0)
        # the owner, from an address with no failures, gets through
        self.assertTrue(self.succeed(OWNER, "alice"))

    def test_the_owner_gets_in_while_the_attacker_is_blocked(self) -> None:
        for _ in range(SETTINGS.block_after):
            self.clock.advance(SETTINGS.max_backoff)
            self.fail(ATTACKER, "alice")
        self.assertGreater(self.fail(ATTACKER, "alice"), 0)
        self.assertTrue(self.succeed(OWNER, "alice"))

    def test_a_good_user_behind_a_throttled_address_is_not_locked_out(
        self,
    ) -> None:
        self.assertTrue(self.succeed(NEIGHBOUR, "carol"))  # earlier, same NAT
        for _ in range(SETTINGS.block_after):
            self.clock.advance(SETTINGS.max_backoff)
            self.fail(ATTACKER, "alice")
        self.assertGreater(self.fail(ATTACKER, "dave"), 0, "the address is blocked")
        self.assertTrue(self.succeed(NEIGHBOUR, "carol"), "a trusted pair passes")
        # until it fails itself: a stolen session address is no bypass
        self.fail(NEIGHBOUR, "carol")
        self.assertFalse(self.succeed(NEIGHBOUR, "carol"))

    def test_trust_expires(self) -> None:
        self.succeed(NEIGHBOUR, "carol")
        self.clock.advance(SETTINGS.trust_seconds)
        for _ in range(4):
            self.fail(ATTACKER, "alice")
        self.assertFalse(self.succeed(NEIGHBOUR, "carol"))

    def test_racing_tries_count_before_they_fail(self) -> None:
        pending = [self.start(ATTACKER, "alice", f"guess{n}") for n in range(10)]
        checked = [a for a in pending if isinstance(a, Attempt)]
        self.assertEqual(len(checked), 3, "as many as the free failures")
        for attempt in checked:
            attempt.abandon()
        self.assertIsInstance(self.start(ATTACKER, "alice", "again"), Attempt)

    def test_racing_tries_of_other_usernames_count_for_the_address(self) -> None:
        pending = [self.start(ATTACKER, f"user{n}") for n in range(10)]
        self.assertEqual(sum(isinstance(a, Attempt) for a in pending), 3)

    def test_a_players_identical_parallel_requests_do_not_race(self) -> None:
        pending = [self.start(OWNER, "alice", "right") for _ in range(20)]
        self.assertTrue(all(isinstance(a, Attempt) for a in pending))

    def test_trusted_logins_in_flight_do_not_hold_back_their_neighbours(
        self,
    ) -> None:
        for n in range(10):
            self.succeed(NEIGHBOUR, f"guest{n}")
        busy = [self.start(NEIGHBOUR, f"guest{n}", "right") for n in range(10)]
        self.assertTrue(all(isinstance(a, Attempt) for a in busy))
        self.assertIsInstance(self.start(NEIGHBOUR, "newcomer", "right"), Attempt)

    def test_an_invalid_username_counts_against_the_address_only(self) -> None:
        for _ in range(3):
            self.fail(ATTACKER, "")
        self.assertEqual(self.fail(ATTACKER, "alice"), 1.0)
        standing = self.successResultOf(self.failures.standing(ATTACKER, ""))
        self.assertEqual(standing.username, Failures(), "no username count kept")

    def test_ipv6_clients_are_counted_per_64(self) -> None:
        for n in range(3):
            self.fail(f"2001:db8:1:2::{n + 1}", "alice")
        self.assertEqual(self.fail("2001:db8:1:2:ffff::9", "bob"), 1.0)
        self.assertEqual(self.fail("2001:db8:1:3::1", "bob"), 0)

    def test_keys_are_bounded(self) -> None:
        failures = MemoryFailures(self.clock, SETTINGS, size=10)
        for n in range(100):
            failures.failed(f"10.0.0.{n}", f"user{n}", self.clock.seconds())
        standing = self.successResultOf(failures.standing("10.0.0.99", "user99"))
        self.assertEqual(standing.address.count, 1)
        standing = self.successResultOf(failures.standing("10.0.0.1", "user1"))
        self.assertEqual(standing.address.count, 0, "pushed out")


class PolicyTests(SynchronousTestCase):
    def test_address_keys(self) -> None:
        self.assertEqual(address_key("10.1.2.3"), "10.1.2.3")
        self.assertEqual(address_key("::ffff:10.1.2.3"), "10.1.2.3")
        self.assertEqual(address_key("2001:db8::1"), "2001:db8::/64")
        self.assertEqual(address_key("not an address"), "not an address")

    def test_wait(self) -> None:
        def waited(count: int, since: float) -> float:
            return wait(Failures(count, 100.0), 100.0 + since, SETTINGS)

        self.assertEqual(waited(2, 0), 0)
        self.assertEqual(waited(3, 0), 1)
        self.assertEqual(waited(3, 0.25), 0.75)
        self.assertEqual(waited(5, 0), 4)
        self.assertEqual(waited(9, 0), 8, "capped")
        self.assertEqual(waited(10, 0), 100, "blocked")
        self.assertEqual(waited(10, 150), 0)


class SlowFailureLogTests(SynchronousTestCase):
    def test_a_failure_still_being_recorded_keeps_counting(self) -> None:
        """With Redis, recording a failure takes a round trip: meanwhile
        the try must still count as racing, or a parallel guess slips by."""
        clock = Clock()
        memory = MemoryFailures(clock, SETTINGS)
        recording: list[Deferred[None]] = []

        class Slow:
            def standing(self, address: str, username: str) -> Any:
                return memory.standing(address, username)

            def failed(self, address: str, username: str, now: float) -> Any:
                d: Deferred[None] = Deferred()
                d.addCallback(lambda _: memory.failed(address, username, now))
                recording.append(d)
                return d

            def succeeded(self, address: str, username: str, now: float) -> Any:
                return memory.succeeded(address, username, now)

        throttle = Throttle(Slow(), clock, SETTINGS)

        def start(password: str) -> Attempt | float:
            d = Deferred.fromCoroutine(throttle.attempt(ATTACKER, "alice", password))
            return self.successResultOf(d)

        first = [start(f"guess{n}") for n in range(3)]
        for attempt in first:
            assert isinstance(attempt, Attempt)
            Deferred.fromCoroutine(attempt.failed())  # recording, not yet done
        self.assertEqual(start("another"), 1.0)
        for d in recording:
            d.callback(None)
        self.assertEqual(start("another"), 1.0)
