"""The login throttle's counts shared by the cluster through Redis
(key layout: README.md, "Lines in Redis")."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from zope.interface import implementer

from xrelay.cred.throttle import (
    Failures,
    IFailureLog,
    MemoryFailures,
    Standing,
    ThrottleSettings,
)
from xrelay.redis import IRedis, Outage, Script

# KEYS: the address's failures, the username's, the pair's trust.
STANDING = Script(
    """
local address = redis.call('HMGET', KEYS[1], 'count', 'last')
local username = redis.call('HMGET', KEYS[2], 'count', 'last')
return {address[1], address[2], username[1], username[2],
        redis.call('EXISTS', KEYS[3])}
"""
)

# KEYS: the failures to count (address, maybe username), then the pair's
# trust.  ARGV: now, how long failures are remembered (ms).
FAILED = Script(
    """
for i = 1, #KEYS - 1 do
  redis.call('HINCRBY', KEYS[i], 'count', 1)
  redis.call('HSET', KEYS[i], 'last', ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
redis.call('DEL', KEYS[#KEYS])
return 1
"""
)


@implementer(IFailureLog)
class RedisFailures:
    """``IFailureLog`` in Redis, so a limit holds whichever node an attacker
    reaches.  Everything is also counted on this node, which answers alone
    while Redis is unavailable."""

    def __init__(
        self,
        redis: IRedis,
        clock: IReactorTime,
        settings: ThrottleSettings,
        prefix: str = "xrelay:",
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._prefix = prefix
        self._local = MemoryFailures(clock, settings)
        self._outage = Outage(
            "failed logins are counted on this node only",
            "failed logins are counted across the cluster again",
        )

    def standing(self, address: str, username: str) -> Deferred[Standing]:
        def read(reply: list[str | int | None]) -> Standing:
            self._outage.up()
            a_count, a_last, u_count, u_last, trusted = reply
            return Standing(
                Failures(int(a_count or 0), float(a_last or 0)),
                Failures(int(u_count or 0), float(u_last or 0)),
                bool(trusted),
            )

        def local(failure: Failure) -> Deferred[Standing]:
            self._outage.down(failure)
            return self._local.standing(address, username)

        d = self._redis.run(STANDING, self._keys(address, username), [])
        return d.addCallbacks(read, local)

    def failed(self, address: str, username: str, now: float) -> Deferred[None]:
        self._local.failed(address, username, now)
        keys = self._keys(address, username)
        if not username:
            del keys[1]
        forget_ms = int(self._settings.block_seconds * 1000)
        return self._write(self._redis.run(FAILED, keys, [now, forget_ms]))

    def succeeded(self, address: str, username: str, now: float) -> Deferred[None]:
        self._local.succeeded(address, username, now)
        trust_ms = int(self._settings.trust_seconds * 1000)
        key = self._keys(address, username)[2]
        return self._write(self._redis.execute("SET", key, "1", "PX", trust_ms))

    def _write(self, d: Deferred[object]) -> Deferred[None]:
        return d.addCallbacks(lambda _: self._outage.up(), self._outage.down)

    def _keys(self, address: str, username: str) -> list[str]:
        prefix = self._prefix
        return [
            f"{prefix}fail:address:{address}",
            f"{prefix}fail:username:{username}",
            f"{prefix}trust:{username}:{address}",
        ]
