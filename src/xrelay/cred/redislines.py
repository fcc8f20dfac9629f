"""Lines kept in Redis hashes, so a billing system or panel can provision
them (key layout: README.md, "Lines in Redis")."""

from __future__ import annotations

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from xrelay.cred.lines import LinesUnavailable
from xrelay.cred.records import decode_redis_hash, user_from_record
from xrelay.models import User
from xrelay.redis import IRedis, Outage


class MalformedLine(UnauthorizedLogin):
    """The source knows the line but cannot read it: refused, not passed
    on to the next source (the operator sees why in the log)."""


class RedisLines:
    """``{prefix}line:{username}`` hashes as lines."""

    log = Logger()

    def __init__(self, redis: IRedis, prefix: str = "xrelay:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._outage = Outage(
            "lines in Redis are checked against their last known state "
            "(up to 10 minutes old); other logins they decide get 503",
            "lines in Redis are read afresh again",
        )

    def get_user(self, username: str) -> Deferred[User | None]:
        return Deferred.fromCoroutine(self._get(username))

    async def _get(self, username: str) -> User | None:
        try:
            flat = await self._redis.execute(
                "HGETALL", f"{self._prefix}line:{username}"
            )
        except Exception as e:
            if str(e).startswith("WRONGTYPE"):  # the key is not a hash
                self._unusable(username, str(e))
                raise MalformedLine("unreadable line") from e
            # Away, or an error reply (LOADING, READONLY, ...): unknown now.
            self._outage.down(Failure())
            raise LinesUnavailable(str(e)) from e
        self._outage.up()
        if not flat:
            return None
        try:
            return user_from_record(username, decode_redis_hash(flat))
        except ValueError as e:
            self._unusable(username, str(e))
            raise MalformedLine("unreadable line") from e

    def _unusable(self, username: str, reason: str) -> None:
        self.log.warn(
            "line {username} in Redis cannot be used: {reason}",
            username=username,
            reason=reason,
        )
