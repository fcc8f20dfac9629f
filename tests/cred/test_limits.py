"""ConnectionTracker: a line's slots on one node, with a Clock."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.cred.limits import (
    REFUSE,
    REPLACE_OLDEST,
    Admission,
    ConnectionTracker,
    Slot,
    admit,
)

TV, PHONE, LAPTOP = "10.0.0.1 TV", "10.0.0.2 Phone", "10.0.0.3 Laptop"


class Viewers:
    """Streams of one line through a tracker, and which were kicked."""

    def __init__(self, tracker: ConnectionTracker, limit: int) -> None:
        self.tracker = tracker
        self.limit = limit
        self.kicked: list[str] = []

    def open(self, client: str, channel: str = "1") -> Slot | None:
        name = f"{client}/{channel}"
        return self.tracker.take(
            "alice",
            self.limit,
            "live",
            channel,
            client,
            lambda: self.kicked.append(name),
        )

    def active(self) -> int:
        return self.tracker.open_count("alice")


class TrackerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.released: list[Slot] = []

    def viewers(self, limit: int, policy: str = REFUSE, grace: float = 3.0) -> Viewers:
        tracker = ConnectionTracker(self.clock, policy, grace, self.released.append)
        return Viewers(tracker, limit)

    def test_refuse_at_the_limit(self) -> None:
        line = self.viewers(2)
        self.assertIsNotNone(line.open(TV))
        self.assertIsNotNone(line.open(PHONE))
        self.assertIsNone(line.open(LAPTOP))
        self.assertEqual((line.active(), line.kicked), (2, []))

    def test_lines_are_counted_apart(self) -> None:
        line = self.viewers(1)
        self.assertIsNotNone(line.open(TV))
        other = line.tracker.take("bob", 1, "live", "1", TV, lambda: None)
        self.assertIsNotNone(other)
        self.assertEqual(line.tracker.open_count("bob"), 1)
        self.assertEqual(self.successResultOf(line.tracker.active("alice")), 1)

    def test_a_released_slot_is_reserved_for_its_client_through_the_grace(
        self,
    ) -> None:
        line = self.viewers(1)
        slot = line.open(TV)
        assert slot is not None
        slot.release()
        self.assertEqual(self.released, [slot])
        self.assertEqual(line.active(), 0)
        self.clock.advance(2.9)
        self.assertIsNone(line.open(PHONE), "another device waits out the grace")
        self.clock.advance(0.2)
        self.assertIsNotNone(line.open(PHONE))

    def test_zapping_takes_back_the_reservation_and_never_counts_twice(
        self,
    ) -> None:
        line = self.viewers(2)
        first = line.open(TV, "1")
        assert first is not None
        first.release()  # close channel 1 ...
        self.clock.advance(1)
        second = line.open(TV, "2")  # ... open channel 2
        self.assertIsNotNone(second)
        self.assertEqual(line.active(), 1)
        self.assertEqual(len(line.tracker.slots()), 1, "the reservation was taken")
        self.assertIsNotNone(line.open(PHONE), "the line's second slot is free")
        self.clock.advance(10)  # the old reservation's timer is harmless
        self.assertEqual(line.active(), 2)

    def test_the_same_client_reconnecting_at_the_limit_replaces_its_stream(
        self,
    ) -> None:
        line = self.viewers(2)
        line.open(TV, "1")
        line.open(PHONE, "1")
        again = line.open(TV, "2")  # opened before the player closed channel 1
        self.assertIsNotNone(again)
        self.assertEqual(line.kicked, [f"{TV}/1"])
        self.assertEqual(line.active(), 2)

    def test_below_the_limit_the_same_client_may_hold_two_streams(self) -> None:
        line = self.viewers(2)
        line.open(TV, "1")
        self.assertIsNotNone(line.open(TV, "2"))
        self.assertEqual((line.active(), line.kicked), (2, []))

    def test_replace_oldest_takes_the_oldest_stream(self) -> None:
        line = self.viewers(2, REPLACE_OLDEST)
        line.open(TV)
        self.clock.advance(1)
        line.open(PHONE)
        self.clock.advance(1)
        self.assertIsNotNone(line.open(LAPTOP))
        self.assertEqual(line.kicked, [f"{TV}/1"])
        self.assertEqual(line.active(), 2)

    def test_replace_oldest_takes_a_reservation_before_a_stream(self) -> None:
        line = self.viewers(2, REPLACE_OLDEST)
        line.open(TV)
        self.clock.advance(1)
        phone = line.open(PHONE)
        assert phone is not None
        phone.release()  # newer than the TV's stream, but only a reservation
        self.assertIsNotNone(line.open(LAPTOP))
        self.assertEqual(line.kicked, [])
        self.assertEqual(line.active(), 2)

    def test_a_kicked_stream_releasing_later_changes_nothing(self) -> None:
        line = self.viewers(1, REPLACE_OLDEST)
        old = line.open(TV)
        assert old is not None
        line.open(PHONE)
        old.release()  # its connection closes after the kick
        old.release()
        self.assertEqual(self.released, [])
        self.assertEqual(line.active(), 1)
        self.assertIsNone(line.tracker.find(old.number))

    def test_release_is_idempotent(self) -> None:
        line = self.viewers(1)
        slot = line.open(TV)
        assert slot is not None
        slot.release()
        slot.release()
        self.assertEqual(self.released, [slot])
        self.clock.advance(3)
        self.assertEqual(line.tracker.slots(), [])

    def test_no_grace_frees_the_slot_on_the_next_turn(self) -> None:
        line = self.viewers(1, grace=0)
        slot = line.open(TV)
        assert slot is not None
        slot.release()
        self.clock.advance(0)
        self.assertIsNotNone(line.open(PHONE))


class AdmitTests(SynchronousTestCase):
    """The policy alone (the Redis tracker's Lua mirrors it)."""

    def slot(self, client: str, started: float, ended: float | None = None) -> Slot:
        return Slot(
            0,
            "alice",
            "live",
            "1",
            client,
            started,
            lambda: None,
            lambda s: None,
            ended,
        )

    def test_steps(self) -> None:
        tv, phone = self.slot(TV, 1), self.slot(PHONE, 2)
        reserved = self.slot(TV, 0, ended=5)
        self.assertEqual(admit([], 1, TV, REFUSE), Admission(None))
        self.assertIsNone(admit([tv, phone], 2, LAPTOP, REFUSE))
        decision = admit([tv, phone], 2, LAPTOP, REPLACE_OLDEST)
        self.assertIs(decision and decision.victim, tv)
        decision = admit([tv, phone], 2, PHONE, REFUSE)
        self.assertIs(decision and decision.victim, phone)
        decision = admit([reserved, phone], 5, TV, REFUSE)
        self.assertIs(decision and decision.victim, reserved)
