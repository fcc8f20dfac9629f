"""Where lines come from: the store, Redis, a file, or several in order.

A line source answers ``get_user(username)`` with the ``User`` or None when
it does not know the name.  The checker proves a password against the line
a source gives, and the realm builds the avatar from the same source, so
any source serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from xrelay.models import User


class LineSource(Protocol):
    """Anything with the store's ``get_user`` (IStore is one)."""

    def get_user(self, username: str) -> Deferred[User | None]: ...


class LinesUnavailable(Exception):
    """A source could not say whether it knows a line (its backend is
    away); logins it would decide are refused for now, not passed on."""


class FirstKnown:
    """Sources asked in order: the first that knows a username decides
    (a later one is asked only when every earlier one said None)."""

    def __init__(self, sources: Sequence[LineSource]) -> None:
        self._sources = tuple(sources)

    def get_user(self, username: str) -> Deferred[User | None]:
        return Deferred.fromCoroutine(self._first(username))

    async def _first(self, username: str) -> User | None:
        for source in self._sources:
            user = await source.get_user(username)
            if user is not None:
                return user
        return None


class CachedLines:
    """A source's answers kept for ``ttl`` seconds (a login looks its line
    up twice: checker and realm; players log in on every zap).  While the
    source is unavailable, its last answer of up to ``stale`` seconds ago
    is used, so viewers already known keep zapping through an outage."""

    def __init__(
        self,
        source: LineSource,
        clock: IReactorTime,
        ttl: float = 2.0,
        stale: float = 600.0,
        size: int = 100_000,
    ) -> None:
        self._source = source
        self._clock = clock
        self._ttl = ttl
        self._stale = stale
        self._size = size
        self._answers: dict[str, tuple[float, User | None]] = {}

    def get_user(self, username: str) -> Deferred[User | None]:
        now = self._clock.seconds()
        known = self._answers.get(username)
        if known is not None and known[0] + self._ttl > now:
            return succeed(known[1])

        def keep(user: User | None) -> User | None:
            if len(self._answers) >= self._size:
                self._answers.clear()  # crude but bounded, as CachingVerifier
            self._answers[username] = (now, user)
            return user

        def stale(failure: Failure) -> User | Failure | None:
            if known is not None and known[0] + self._stale > now:
                failure.trap(LinesUnavailable)
                return known[1]
            return failure

        return self._source.get_user(username).addCallbacks(keep, stale)
