"""LineWatch: open streams stop when their line changes, on a Clock."""

from __future__ import annotations

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.cred.limits import ConnectionTracker, Slot
from xrelay.cred.lines import LinesUnavailable
from xrelay.cred.linewatch import LineWatch
from xrelay.models import User


class Lines:
    """A line source whose lines the test changes."""

    def __init__(self, *users: User) -> None:
        self.users = {user.username: user for user in users}
        self.unavailable = False
        self.asked: list[str] = []

    def get_user(self, username: str) -> Deferred[User | None]:
        self.asked.append(username)
        if self.unavailable:
            return fail(LinesUnavailable("redis away"))
        return succeed(self.users.get(username))

    def change(self, username: str, **fields: object) -> None:
        self.users[username] = attrs.evolve(self.users[username], **fields)


class LineWatchTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.tracker = ConnectionTracker(self.clock, zap_grace=3.0)
        self.lines = Lines(
            User(1, "alice", "h", max_connections=3),
            User(2, "bob", "h", max_connections=3),
        )
        self.watch = LineWatch(self.tracker, self.lines, self.clock, interval=5.0)
        self.stopped: list[str] = []

    def open(self, username: str, client: str, key: str = "1") -> Slot:
        def kick() -> None:  # as a stream does: it ends, releasing its slot
            self.stopped.append(f"{username}/{key}")
            slot.release()

        slot = self.tracker.take(username, 3, "live", key, client, kick)
        assert slot is not None
        return slot

    def check(self) -> int:
        return self.successResultOf(Deferred.fromCoroutine(self.watch.check()))

    def test_valid_lines_keep_their_streams(self) -> None:
        self.open("alice", "10.0.0.1 TV")
        self.open("bob", "10.0.0.2 Phone")
        self.assertEqual(self.check(), 0)
        self.assertEqual(self.stopped, [])
        self.assertEqual(sorted(self.lines.asked), ["alice", "bob"])

    def test_a_disabled_line_loses_every_stream_and_only_its_own(self) -> None:
        self.open("alice", "10.0.0.1 TV", "1")
        self.open("alice", "10.0.0.3 Laptop", "2")
        self.open("bob", "10.0.0.2 Phone")
        self.lines.change("alice", enabled=False)
        self.assertEqual(self.check(), 2)
        self.assertEqual(sorted(self.stopped), ["alice/1", "alice/2"])
        self.assertEqual(self.tracker.open_count("alice"), 0)
        self.assertEqual(self.tracker.open_count("bob"), 1)

    def test_a_line_that_expires_mid_stream(self) -> None:
        self.lines.change("alice", expires_at=int(self.clock.seconds()) + 60)
        self.open("alice", "10.0.0.1 TV")
        self.assertEqual(self.check(), 0)
        self.clock.advance(61)
        self.assertEqual(self.check(), 1)
        self.assertEqual(self.stopped, ["alice/1"])

    def test_a_deleted_line(self) -> None:
        self.open("alice", "10.0.0.1 TV")
        del self.lines.users["alice"]
        self.assertEqual(self.check(), 1)

    def test_an_address_or_player_no_longer_allowed(self) -> None:
        self.open("alice", "10.0.0.1 TiviMate/4.7", "1")
        self.open("alice", "192.168.5.5 TiviMate/4.7", "2")
        self.open("bob", "10.0.0.2 VLC/3.0", "3")
        self.lines.change("alice", allowed_networks=("10.0.0.0/8",))
        self.lines.change("bob", allowed_user_agents=("*tivimate*",))
        self.assertEqual(self.check(), 2)
        self.assertEqual(sorted(self.stopped), ["alice/2", "bob/3"])

    def test_lines_that_cannot_be_read_keep_their_streams(self) -> None:
        self.open("alice", "10.0.0.1 TV")
        self.lines.change("alice", enabled=False)
        self.lines.unavailable = True
        self.assertEqual(self.check(), 0)
        self.lines.unavailable = False
        self.assertEqual(self.check(), 1)

    def test_ended_streams_are_left_alone(self) -> None:
        slot = self.open("alice", "10.0.0.1 TV")
        slot.release()  # reserved for the zap grace, not open
        self.lines.change("alice", enabled=False)
        self.assertEqual(self.check(), 0)
        self.assertEqual(self.stopped, [])

    def test_the_service_checks_every_interval(self) -> None:
        self.open("alice", "10.0.0.1 TV")
        self.watch.startService()
        self.addCleanup(self.watch.stopService)
        self.lines.change("alice", enabled=False)
        self.clock.advance(4.9)
        self.assertEqual(self.stopped, [])
        self.clock.advance(0.1)
        self.assertEqual(self.stopped, ["alice/1"])
        self.watch.stopService()
        self.open("alice", "10.0.0.1 TV", "2")
        self.clock.advance(60)
        self.assertEqual(self.stopped, ["alice/1"])  # stopped: no more passes
