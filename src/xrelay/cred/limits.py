"""Per-line connection accounting: the slots a line's streams hold, and what
a new stream gets when its line is full.

Every stream kind (live, movie, series, timeshift, HLS session) takes one
slot of its line's ``max_connections`` through ``IConnectionTracker``.
``ConnectionTracker`` counts on this node; ``RedisConnectionTracker``
(``xrelay.cred.redislimits``) across a cluster, with the same policy.

The policy, for a new stream of ``client`` (its address and User-Agent):

1. A slot the same client released less than ``zap_grace`` seconds ago is
   still reserved for it: the new stream takes it.  A player zapping
   (close one channel, open the next) never counts twice, and another
   device of the line cannot grab the slot in between.
2. Otherwise, below the limit: a free slot.
3. At the limit, a stream the same client still has open is replaced (it
   reconnected, or zapped before closing the old stream): the old stream
   is disconnected.
4. At the limit otherwise: ``refuse`` the new stream, or with
   ``replace-oldest`` take the line's oldest slot (a reservation first,
   else the oldest stream, which is disconnected).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import Interface, implementer

REFUSE = "refuse"
REPLACE_OLDEST = "replace-oldest"
POLICIES = (REFUSE, REPLACE_OLDEST)


class IConnectionTracker(Interface):
    def acquire(
        username: str,
        limit: int,
        kind: str,
        key: str,
        client: str,
        kick: Callable[[], None],
    ) -> Deferred[Slot | None]:
        """A slot for a new stream of ``username``'s line (``limit`` at
        most at once), or None when it is refused.

        ``kind`` ("live", "movie", "series", "timeshift", "hls") and ``key``
        (channel, item or session id) say what the stream is; ``client``
        who plays it (address and User-Agent).  ``kick`` is called when
        another stream takes this slot over: stop the stream then.
        """

    def active(username: str) -> Deferred[int]:
        """Streams ``username``'s line has open now."""

    def open_slots() -> list[Slot]:
        """The slots of the streams open on this node now."""


@attrs.define(eq=False)
class Slot:
    """One stream's hold on its line.  Call ``release()`` when the stream
    ends (repeating it is harmless)."""

    number: int
    username: str
    kind: str
    key: str
    client: str
    started: float
    _kick: Callable[[], None] = attrs.field(repr=False)
    _released: Callable[[Slot], None] = attrs.field(repr=False)
    ended: float | None = None  # set on release: reserved for the zap grace
    evicted: bool = False  # another stream took the slot over

    def release(self) -> None:
        self._released(self)

    def stop(self) -> None:
        """Stop the stream holding this slot (it releases the slot as it
        ends, like any stream that ends)."""
        if self.ended is None and not self.evicted:
            self._kick()


@attrs.frozen
class Admission:
    """A new stream may start; it takes ``victim``'s place (None: a free one)."""

    victim: Slot | None = None


def admit(
    held: Sequence[Slot], limit: int, client: str, policy: str
) -> Admission | None:
    """The policy above; None refuses.  ``held`` are the line's slots
    (open, or released and still reserved).  The Redis tracker runs the
    same steps in Lua."""

    def oldest(slots: Iterable[Slot]) -> Slot | None:
        return min(slots, key=lambda s: s.started, default=None)

    victim = oldest(s for s in held if s.client == client and s.ended is not None)
    if victim is None and len(held) >= limit:
        victim = oldest(s for s in held if s.client == client)
        if victim is None and policy == REPLACE_OLDEST:
            victim = oldest(s for s in held if s.ended is not None) or oldest(held)
        if victim is None:
            return None
    return Admission(victim)


@implementer(IConnectionTracker)
class ConnectionTracker:
    """Slots on this node, in memory.

    ``released`` is told of every slot released by its stream (not of
    slots taken over); the Redis tracker mirrors them with it.
    """

    def __init__(
        self,
        clock: IReactorTime,
        policy: str = REFUSE,
        zap_grace: float = 3.0,
        released: Callable[[Slot], None] = lambda slot: None,
    ) -> None:
        self._clock = clock
        self._policy = policy
        self._zap_grace = zap_grace
        self._released = released
        self._numbers = itertools.count(1)
        self._lines: dict[str, list[Slot]] = {}
        self._slots: dict[int, Slot] = {}

    def acquire(
        self,
        username: str,
        limit: int,
        kind: str,
        key: str,
        client: str,
        kick: Callable[[], None],
    ) -> Deferred[Slot | None]:
        return succeed(self.take(username, limit, kind, key, client, kick))

    def active(self, username: str) -> Deferred[int]:
        return succeed(self.open_count(username))

    def open_count(self, username: str) -> int:
        return sum(s.ended is None for s in self._lines.get(username, ()))

    def take(
        self,
        username: str,
        limit: int,
        kind: str,
        key: str,
        client: str,
        kick: Callable[[], None],
    ) -> Slot | None:
        """``acquire``, synchronously."""
        admission = admit(self._lines.get(username, ()), limit, client, self._policy)
        if admission is None:
            return None
        if admission.victim is not None:
            self.evict(admission.victim)
        return self.add(self.new_number(), username, kind, key, client, kick)

    def new_number(self) -> int:
        return next(self._numbers)

    def add(
        self,
        number: int,
        username: str,
        kind: str,
        key: str,
        client: str,
        kick: Callable[[], None],
    ) -> Slot:
        """A slot admitted elsewhere (by Redis), recorded here."""
        slot = Slot(
            number,
            username,
            kind,
            key,
            client,
            self._clock.seconds(),
            kick,
            self._release,
        )
        self._lines.setdefault(username, []).append(slot)
        self._slots[number] = slot
        return slot

    def find(self, number: int) -> Slot | None:
        return self._slots.get(number)

    def slots(self) -> list[Slot]:
        """Every slot held now (open or reserved)."""
        return list(self._slots.values())

    def open_slots(self) -> list[Slot]:
        return [slot for slot in self._slots.values() if slot.ended is None]

    def evict(self, slot: Slot) -> None:
        """Take ``slot`` away; its stream, if still open, is kicked."""
        if slot.evicted:
            return
        slot.evicted = True
        self._forget(slot)
        if slot.ended is None:
            slot._kick()

    def _release(self, slot: Slot) -> None:
        if slot.evicted or slot.ended is not None:
            return
        slot.ended = self._clock.seconds()
        self._released(slot)
        self._clock.callLater(self._zap_grace, self._expire, slot)

    def _expire(self, slot: Slot) -> None:
        if not slot.evicted:  # not taken over by its client meanwhile
            self._forget(slot)

    def _forget(self, slot: Slot) -> None:
        if self._slots.pop(slot.number, None) is None:
            return
        line = self._lines[slot.username]
        line.remove(slot)
        if not line:
            del self._lines[slot.username]
