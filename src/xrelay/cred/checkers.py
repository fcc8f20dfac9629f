"""twisted.cred pieces for player logins: the checker, its verified-password
cache, and the realm.  Both work on a line source (``xrelay.cred.lines``):
the store, Redis, a file, or several of them in order."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from typing import Any

import attrs
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

from xrelay.cred.lines import LineSource
from xrelay.cred.passwords import hash_password
from xrelay.interfaces import ILine
from xrelay.models import User

# (password, stored hash) -> Deferred[bool]; scrypt is slow on purpose, so
# production runs it in the reactor's thread pool (see tap.py).
Verifier = Callable[[str, str], "Deferred[bool]"]

# Unknown users are checked against this so they cost what a known one does.
_DECOY_HASH = hash_password("xrelay-decoy-password")


class CachingVerifier:
    """Wraps a slow ``Verifier`` so a stream request does not pay a full
    scrypt each time (players reconnect and zap constantly).

    A success is remembered for ``ttl`` seconds, keyed by the stored hash it
    was proven against (a changed password misses at once; a disabled line
    is refused later by the realm's fresh lookup).  Identical checks arriving
    together share one computation, so a thousand viewers joining at once
    cost one hash, not a thousand.  Only a keyed digest of a password is kept.
    """

    def __init__(
        self,
        verify: Verifier,
        clock: IReactorTime,
        ttl: float = 60.0,
        size: int = 100_000,
    ) -> None:
        self._verify = verify
        self._clock = clock
        self._ttl = ttl
        self._size = size
        self._key = os.urandom(32)
        self._proven: dict[tuple[bytes, str], float] = {}
        self._waiting: dict[tuple[bytes, str], list[Deferred[bool]]] = {}

    def __call__(self, password: str, stored: str) -> Deferred[bool]:
        key = (hmac.digest(self._key, password.encode("utf-8"), "sha256"), stored)
        if self._proven.get(key, 0.0) > self._clock.seconds():
            return succeed(True)
        waiter: Deferred[bool] = Deferred()
        if key in self._waiting:
            self._waiting[key].append(waiter)
            return waiter
        self._waiting[key] = [waiter]
        self._verify(password, stored).addBoth(self._settle, key)
        return waiter

    def _settle(self, result: bool | Failure, key: tuple[bytes, str]) -> None:
        if result is True:
            if len(self._proven) >= self._size:
                self._proven.clear()  # crude but bounded; refills as users return
            self._proven[key] = self._clock.seconds() + self._ttl
        for waiter in self._waiting.pop(key):
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)


@implementer(ICredentialsChecker)
class StoreChecker:
    """Checks usernames and passwords against the lines of ``lines``.

    With several sources chained (``FirstKnown``), the first that knows the
    username decides: a wrong password there is refused, never tried on the
    next source.  An unknown username costs one hash like a known one.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, lines: LineSource, verify: Verifier) -> None:
        self._lines = lines
        self._verify = verify

    def requestAvatarId(self, credentials: Any) -> Deferred[bytes | tuple[()]]:
        return Deferred.fromCoroutine(self._check(credentials))

    async def _check(self, credentials: Any) -> bytes | tuple[()]:
        username = _text(credentials.username)
        password = _text(credentials.password)
        user = await self._lines.get_user(username)
        stored = user.password_hash if user is not None else _DECOY_HASH
        if not await self._verify(password, stored) or user is None:
            raise UnauthorizedLogin("invalid credentials")
        return username.encode("utf-8")


@implementer(ILine)
@attrs.frozen
class Line:
    user: User


@implementer(IRealm)
class LineRealm:
    """Turns a proven username into its ``ILine`` avatar, read afresh from
    the checker's source (so a line disabled a moment ago is seen)."""

    def __init__(self, lines: LineSource) -> None:
        self._lines = lines

    def requestAvatar(
        self, avatarId: bytes | tuple[()], mind: object, *interfaces: Any
    ) -> Deferred[tuple[type[Interface], object, Callable[[], None]]]:
        if ILine not in interfaces:
            raise NotImplementedError("xrelay only offers ILine avatars")
        if not isinstance(avatarId, bytes):
            raise UnauthorizedLogin("anonymous logins are not offered")
        return Deferred.fromCoroutine(self._avatar(avatarId))

    async def _avatar(
        self, avatarId: bytes
    ) -> tuple[type[Interface], object, Callable[[], None]]:
        user = await self._lines.get_user(avatarId.decode("utf-8"))
        if user is None:  # deleted between check and lookup
            raise UnauthorizedLogin("invalid credentials")
        return ILine, Line(user), lambda: None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
