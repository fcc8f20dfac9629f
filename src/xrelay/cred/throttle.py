"""Brute-force defence for player logins.

Failed logins are counted per client address and per username.  A key's
first ``free_failures`` failures cost nothing; each further one makes the
key wait before its next try (1 s, 2 s, 4 s, ... up to ``max_backoff``),
and ``block_after`` failures block it for ``block_seconds``.  A key's count
is forgotten ``block_seconds`` after its last failure.  A refused try is
answered before any password hash runs, and does not count.

So that an attacker cannot lock real users out:

- the username count only stops addresses that have failed recently
  themselves: the owner, logging in from an address with no failures,
  gets through while the attack goes on;
- an (address, username) pair that logged in successfully in the last
  ``trust_seconds`` bypasses both counts, so the neighbours of an
  attacker behind one NAT address keep working; a failure of that pair
  ends its trust.

Tries racing each other (an attacker's parallel connections) would all
pass before the first of them fails; so each other untrusted login being
checked at the moment from the same address (another username or password)
counts as one more failure of the address, and each other password being
checked for the same username as one more of the username.  Identical
logins, a player's parallel requests, do not count.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections import Counter, OrderedDict
from typing import TypeVar

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from zope.interface import Interface, implementer

K = TypeVar("K")
V = TypeVar("V")


@attrs.frozen
class ThrottleSettings:
    free_failures: int = 5
    max_backoff: float = 60.0
    block_after: int = 20
    block_seconds: float = 900.0
    trust_seconds: float = 7 * 86400.0


@attrs.frozen
class Failures:
    """A key's recent failed logins: how many, and the time of the last."""

    count: int = 0
    last: float = 0.0


@attrs.frozen
class Standing:
    """What the log knows of a login before it is tried."""

    address: Failures
    username: Failures
    trusted: bool  # this pair logged in recently and has not failed since


class IFailureLog(Interface):
    """Where failures and trusted pairs are kept (this node, or Redis).
    ``address`` is an ``address_key``; ``username`` "" counts nothing."""

    def standing(address: str, username: str) -> Deferred[Standing]: ...

    def failed(address: str, username: str, now: float) -> Deferred[None]: ...

    def succeeded(address: str, username: str, now: float) -> Deferred[None]: ...


def address_key(address: str) -> str:
    """The unit an address is counted in: itself for IPv4, its /64 for
    IPv6 (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def wait(failures: Failures, now: float, settings: ThrottleSettings) -> float:
    """Seconds before a key with ``failures`` may try again (0: now)."""
    beyond = failures.count - settings.free_failures
    if beyond < 0:
        return 0.0
    if failures.count >= settings.block_after:
        delay = settings.block_seconds
    else:
        delay = min(2.0**beyond, settings.max_backoff)
    return max(0.0, failures.last + delay - now)


class Throttle:
    """Decides whether a login may be tried now, and learns its outcome."""

    log = Logger()

    def __init__(
        self,
        failures: IFailureLog,
        clock: IReactorTime,
        settings: ThrottleSettings = ThrottleSettings(),
    ) -> None:
        self._failures = failures
        self._clock = clock
        self._settings = settings
        self._key = os.urandom(32)
        # "address:A" -> (username, password digest) of the untrusted logins
        # from A being checked now; "username:U" -> their password digests.
        self._checking: dict[str, Counter[object]] = {}

    async def attempt(
        self, address: str, username: str, password: str
    ) -> Attempt | float:
        """An ``Attempt`` to finish with its outcome, or the seconds to wait
        (the login is refused now, before its password is checked).
        ``username`` "" (not a valid name) counts against the address only."""
        address = address_key(address)
        standing = await self._failures.standing(address, username)
        digest = hmac.digest(self._key, password.encode("utf-8"), "sha256")
        if standing.trusted:
            return Attempt(self, address, username, standing, ())
        by_address_key = ("address:" + address, (username, digest))
        by_username_key = ("username:" + username, digest)
        checks = (by_address_key, by_username_key) if username else (by_address_key,)
        now = self._clock.seconds()
        by_address = self._raced(standing.address, self._racing(*by_address_key), now)
        by_username = self._raced(
            standing.username, self._racing(*by_username_key), now
        )
        if by_address.count == 0:
            by_username = Failures()  # a clean address is not stopped
        delay = max(
            wait(by_address, now, self._settings),
            wait(by_username, now, self._settings),
        )
        if delay > 0:
            return delay
        for key, check in checks:
            self._checking.setdefault(key, Counter())[check] += 1
        return Attempt(self, address, username, standing, checks)

    def _racing(self, key: str, check: object) -> int:
        """Other logins than ``check`` being checked now under ``key``."""
        checking = self._checking.get(key)
        return 0 if checking is None else len(checking) - (check in checking)

    def _raced(self, failures: Failures, racing: int, now: float) -> Failures:
        if not racing:
            return failures
        return Failures(failures.count + racing, now)

    async def _failed(self, attempt: Attempt) -> None:
        blocked_after = self._settings.block_after
        for what, failures in (
            ("address", attempt.standing.address),
            ("username", attempt.standing.username),
        ):
            if failures.count + 1 == blocked_after:
                self.log.warn(
                    "{what} {name} blocked for {seconds} s after {count} failed logins",
                    what=what,
                    name=attempt.address if what == "address" else attempt.username,
                    seconds=self._settings.block_seconds,
                    count=blocked_after,
                )
        now = self._clock.seconds()
        await self._failures.failed(attempt.address, attempt.username, now)

    def _succeeded(self, attempt: Attempt) -> Deferred[None]:
        return self._failures.succeeded(
            attempt.address, attempt.username, self._clock.seconds()
        )

    def _done(self, attempt: Attempt) -> None:
        for key, check in attempt.checks:
            checking = self._checking[key]
            checking[check] -= 1
            if checking[check] <= 0:
                del checking[check]
            if not checking:
                del self._checking[key]


@attrs.define(eq=False)
class Attempt:
    """A login being tried: tell it ``failed`` or ``succeeded``;
    ``abandon`` (outcome unknown: nothing counted) is a no-op after them."""

    _throttle: Throttle
    address: str
    username: str
    standing: Standing
    checks: tuple[tuple[str, object], ...]  # where it is counted as racing
    _open: bool = attrs.field(default=True, init=False)

    async def failed(self) -> None:
        if not self._open:
            return
        self._open = False
        try:  # still racing until the failure is counted (Redis: a round trip)
            await self._throttle._failed(self)
        finally:
            self._throttle._done(self)

    def succeeded(self) -> Deferred[None]:
        return self._throttle._succeeded(self) if self._end() else succeed(None)

    def abandon(self) -> None:
        self._end()

    def _end(self) -> bool:
        if not self._open:
            return False
        self._open = False
        self._throttle._done(self)
        return True


@implementer(IFailureLog)
class MemoryFailures:
    """``IFailureLog`` of this node.  At most ``size`` keys of each kind:
    the least recently touched go first (an attacker cycling usernames
    pushes out idle keys, never its own address's)."""

    def __init__(
        self,
        clock: IReactorTime,
        settings: ThrottleSettings = ThrottleSettings(),
        size: int = 100_000,
    ) -> None:
        self._clock = clock
        self._settings = settings
        self._size = size
        self._failures: OrderedDict[str, Failures] = OrderedDict()
        self._trusted: OrderedDict[tuple[str, str], float] = OrderedDict()

    def standing(self, address: str, username: str) -> Deferred[Standing]:
        now = self._clock.seconds()
        trusted = self._trusted.get((address, username), 0.0) > now
        return succeed(
            Standing(
                self._current("address:" + address, now),
                self._current("username:" + username, now),
                trusted,
            )
        )

    def failed(self, address: str, username: str, now: float) -> Deferred[None]:
        keys = ["address:" + address] + (["username:" + username] if username else [])
        for key in keys:
            count = self._current(key, now).count
            self._failures[key] = Failures(count + 1, now)
            _touch(self._failures, key, self._size)
        self._trusted.pop((address, username), None)
        return succeed(None)

    def succeeded(self, address: str, username: str, now: float) -> Deferred[None]:
        self._trusted[(address, username)] = now + self._settings.trust_seconds
        _touch(self._trusted, (address, username), self._size)
        return succeed(None)

    def _current(self, key: str, now: float) -> Failures:
        failures = self._failures.get(key)
        if failures is None:
            return Failures()
        if failures.last + self._settings.block_seconds <= now:
            del self._failures[key]
            return Failures()
        return failures


def _touch(entries: OrderedDict[K, V], key: K, size: int) -> None:
    entries.move_to_end(key)
    while len(entries) > size:
        entries.popitem(last=False)
