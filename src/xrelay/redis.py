"""The daemon's Redis connection: one connection, kept open with backoff.

txredisapi speaks the protocol; ``RedisService`` owns the connection's
lifecycle (nothing connects before ``startService``).  While Redis is away a
command fails at once with ``RedisUnavailable`` instead of queueing, and a
reply that does not come within the timeout fails the same way (and drops
the connection, which is then re-made), so callers can fall back to local
state and the daemon keeps serving.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    TimeoutError,
    fail,
    maybeDeferred,
    succeed,
)
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from zope.interface import Interface, implementer


class RedisUnavailable(Exception):
    """Redis is not connected, or did not answer in time."""


@attrs.frozen
class Script:
    """A Lua script; Redis runs it atomically (EVALSHA, EVAL the first time)."""

    source: str


class IRedis(Interface):
    """The few Redis operations xrelay uses, as Deferreds."""

    def execute(*command: str | int | float) -> Deferred[Any]:
        """Run one command; fails with RedisUnavailable while Redis is away."""

    def run(
        script: Script, keys: Sequence[str], args: Sequence[str | int | float]
    ) -> Deferred[Any]:
        """Run a Lua script; fails like ``execute``."""


@attrs.frozen
class RedisAddress:
    """Where Redis is: TCP ``host``/``port`` or a Unix socket ``path``."""

    host: str = ""
    port: int = 6379
    path: str = ""
    db: int = 0
    username: str = ""
    password: str = ""

    def endpoint(self, reactor: Any, timeout: float) -> IStreamClientEndpoint:
        if self.path:
            return UNIXClientEndpoint(reactor, self.path, timeout=timeout)
        return HostnameEndpoint(reactor, self.host, self.port, timeout=timeout)

    def __str__(self) -> str:  # for logs: never the password
        where = self.path or f"{self.host}:{self.port}"
        return f"{where} db {self.db}"


def parse_redis_url(url: str) -> RedisAddress:
    """``redis://[[user]:password@]host[:port][/db]`` or
    ``unix://[[user]:password@]/path/to/redis.sock[?db=N]``; ValueError
    saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "redis":
        if not parts.hostname:
            raise ValueError("a redis:// URL needs a host")
        db = parts.path.strip("/") or "0"
        port = parts.port or 6379  # .port raises ValueError for a bad one
        address = RedisAddress(host=parts.hostname, port=port)
    elif parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs a socket path")
        db = parse_qs(parts.query).get("db", ["0"])[0]
        address = RedisAddress(path=parts.path)
    else:
        raise ValueError("must start with redis:// or unix://")
    if not db.isdigit():
        raise ValueError(f"the database must be a number, not {db!r}")
    return attrs.evolve(
        address,
        db=int(db),
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


@implementer(IRedis)
class RedisService(Service):
    """An ``IRedis`` on one connection, re-made with backoff when lost or
    refused (AUTH, SELECT).

    (Not ClientService: it leaves a connection its ``prepareConnection``
    rejected open, and fails when that connection closes later.)
    """

    log = Logger()

    def __init__(self, url: str, reactor: Any, timeout: float = 1.0) -> None:
        self.address = parse_redis_url(url)
        self._reactor = reactor
        self._timeout = timeout
        self._retry_delay = backoffPolicy(initialDelay=0.5, maxDelay=10.0)
        self._connecting: Deferred[None] | None = None
        self._protocol: Any = None  # a txredisapi protocol, once usable

    def startService(self) -> None:
        super().startService()
        self._connecting = Deferred.fromCoroutine(self._stay_connected())
        self._connecting.addErrback(lambda f: f.trap(CancelledError))

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._connecting is not None:
            self._connecting.cancel()
        protocol, self._protocol = self._protocol, None
        if protocol is None:
            return succeed(None)
        closed = _disconnected(protocol)
        protocol.transport.loseConnection()
        return closed

    async def _stay_connected(self) -> None:
        # txredisapi imports the global reactor: import it only now, after
        # twistd has installed the reactor it was asked for.
        from txredisapi import RedisProtocol

        # Raw strings back: line records must not turn "0123" into 123.
        factory = Factory.forProtocol(
            functools.partial(RedisProtocol, convertNumbers=False)
        )
        endpoint = self.address.endpoint(self._reactor, self._timeout)
        failures = 0
        while True:
            try:
                protocol = await endpoint.connect(factory)
                await self._handshake(protocol)
            except CancelledError:
                raise
            except Exception as e:
                failures += 1
                if failures == 1:
                    self.log.warn(
                        "cannot use Redis at {where}: {error}; retrying",
                        where=str(self.address),
                        error=str(e) or type(e).__name__,
                    )
            else:
                failures = 0
                self._protocol = protocol
                self.log.info("connected to Redis at {where}", where=str(self.address))
                await _disconnected(protocol)
                self._protocol = None
                self.log.warn(
                    "lost the connection to Redis at {where}; reconnecting",
                    where=str(self.address),
                )
            await deferLater(self._reactor, self._retry_delay(failures))

    async def _handshake(self, protocol: Any) -> None:
        """AUTH, SELECT and a PING, each answered within the timeout, before
        the connection is handed out (a stalled server accepts connections
        but answers nothing); on failure the connection is dropped."""
        try:
            if self.address.password:
                await self._answer(
                    protocol.auth(self.address.password, self.address.username)
                )
            if self.address.db:
                await self._answer(protocol.select(self.address.db))
            await self._answer(protocol.ping())
        except BaseException:
            protocol.transport.abortConnection()
            raise

    def _answer(self, d: Deferred[Any]) -> Deferred[Any]:
        return d.addTimeout(self._timeout, self._reactor)

    def execute(self, *command: str | int | float) -> Deferred[Any]:
        return self._call(lambda protocol: protocol.execute_command(*command))

    def run(
        self, script: Script, keys: Sequence[str], args: Sequence[str | int | float]
    ) -> Deferred[Any]:
        return self._call(
            lambda protocol: protocol.eval(script.source, list(keys), list(args))
        )

    def _call(self, send: Callable[[Any], Deferred[Any]]) -> Deferred[Any]:
        protocol = self._protocol
        if protocol is None:
            return fail(RedisUnavailable(f"not connected to Redis at {self.address}"))
        d = maybeDeferred(send, protocol)
        d.addTimeout(self._timeout, self._reactor)
        return d.addErrback(self._failed, protocol)

    def _failed(self, failure: Failure, protocol: Any) -> Failure:
        from txredisapi import ConnectionError

        if failure.check(TimeoutError):
            # A server that stopped answering: drop it and connect again
            # (the replies still owed fail at once).
            protocol.transport.abortConnection()
            raise RedisUnavailable(
                f"no reply from Redis at {self.address} within {self._timeout} s"
            )
        if failure.check(ConnectionError):
            raise RedisUnavailable(f"lost the connection to Redis at {self.address}")
        return failure


def _disconnected(protocol: Any) -> Deferred[None]:
    """Fires when ``protocol`` loses its connection; cancelling it leaves
    txredisapi's own Deferred alone (it would fail if fired twice)."""
    lost: Deferred[None] = Deferred()
    protocol.whenDisconnected().addCallback(
        lambda _: None if lost.called else lost.callback(None)
    )
    return lost


class Outage:
    """Logs when a fallback from Redis starts and ends, not every call in
    between (a dead Redis would otherwise flood the log)."""

    log = Logger()

    def __init__(self, fallback: str, restored: str) -> None:
        self._fallback = fallback
        self._restored = restored
        self.active = False

    def down(self, failure: Failure) -> None:
        if not self.active:
            self.active = True
            self.log.failure(
                "Redis unavailable: {fallback}",
                failure,
                LogLevel.error,
                fallback=self._fallback,
            )

    def up(self) -> None:
        if self.active:
            self.active = False
            self.log.info("Redis is back: {restored}", restored=self._restored)
