"""Lines in Redis hashes, against a real redis-server."""

from __future__ import annotations

from pathlib import Path

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.cred._redis_server import (
    RedisServer,
    connected,
    fresh_prefix,
    shared_redis_url,
)
from xrelay.cred.checkers import LineRealm, StoreChecker
from xrelay.cred.lines import CachedLines, LinesUnavailable
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.cred.redislines import MalformedLine, RedisLines
from xrelay.interfaces import ILine
from xrelay.models import User
from xrelay.redis import RedisService

RIGHT = hash_password("right")


def verify_now(password: str, stored: str) -> Deferred[bool]:
    return succeed(verify_password(password, stored))


class RedisLinesTests(TestCase):
    async def redis(self, url: str | None = None) -> RedisService:
        redis = RedisService(url or shared_redis_url(), reactor)
        redis.startService()
        self.addCleanup(redis.stopService)
        await connected(redis)
        return redis

    async def setUp(self) -> None:
        self.prefix = fresh_prefix()
        self.redis_ = await self.redis()
        self.lines = RedisLines(self.redis_, self.prefix)

    async def provision(self, username: str, *fields: str) -> None:
        """What a billing system does: one HSET per line."""
        key = f"{self.prefix}line:{username}"
        await self.redis_.execute("HSET", key, *fields)
        self.addCleanup(self.redis_.execute, "DEL", key)

    async def test_a_provisioned_line(self) -> None:
        await self.provision(
            "alice",
            "password_hash", RIGHT,
            "max_connections", "2",
            "expires_at", "1767225600",
            "allowed_networks", '["10.0.0.0/8"]',
            "bouquet_ids", "[4]",
            "billing_id", "C-1001",
        )  # fmt: skip
        self.assertEqual(
            await self.lines.get_user("alice"),
            User(
                0,
                "alice",
                RIGHT,
                max_connections=2,
                expires_at=1767225600,
                allowed_networks=("10.0.0.0/8",),
                bouquet_ids=(4,),
            ),
        )
        self.assertIsNone(await self.lines.get_user("nobody"))

    async def test_a_malformed_line_is_refused_and_logged(self) -> None:
        await self.provision("bob", "password_hash", RIGHT, "max_connections", "lots")
        with capturedLogs() as events, self.assertRaises(MalformedLine):
            await self.lines.get_user("bob")
        [event] = [e for e in events if e.get("username") == "bob"]
        self.assertIn("max_connections", event["reason"])
        self.assertTrue(issubclass(MalformedLine, UnauthorizedLogin))

    async def test_a_key_of_another_type_is_refused(self) -> None:
        key = f"{self.prefix}line:carol"
        await self.redis_.execute("SET", key, "not a hash")
        self.addCleanup(self.redis_.execute, "DEL", key)
        with self.assertRaises(MalformedLine):
            await self.lines.get_user("carol")

    async def test_a_checker_over_redis_sees_changes_within_the_cache_time(
        self,
    ) -> None:
        await self.provision("dave", "password_hash", RIGHT)
        clock = Clock()
        lines = CachedLines(self.lines, clock, ttl=2.0)
        portal = Portal(LineRealm(lines), [StoreChecker(lines, verify_now)])

        async def enabled() -> bool:
            _, line, _ = await portal.login(
                UsernamePassword(b"dave", b"right"), None, ILine
            )
            return bool(line.user.enabled)

        self.assertTrue(await enabled())
        await self.redis_.execute("HSET", f"{self.prefix}line:dave", "enabled", "false")
        self.assertTrue(await enabled(), "cached for 2 s")
        clock.advance(2)
        self.assertFalse(await enabled())
        await self.redis_.execute("DEL", f"{self.prefix}line:dave")
        clock.advance(2)
        with self.assertRaises(UnauthorizedLogin):
            await enabled()

    async def test_redis_away_makes_lines_unavailable_then_back(self) -> None:
        server = RedisServer(Path(self.mktemp()).resolve())
        server.directory.mkdir(parents=True)
        server.start()
        self.addCleanup(server.stop)
        redis = await self.redis(server.url)
        lines = RedisLines(redis, self.prefix)
        await redis.execute("HSET", f"{self.prefix}line:erin", "password_hash", RIGHT)
        clock = Clock()
        cached = CachedLines(lines, clock, ttl=2.0, stale=600.0)
        self.assertIsNotNone(await cached.get_user("erin"))
        server.stop()
        with capturedLogs() as events:
            for _ in range(2):
                clock.advance(3)
                with self.assertRaises(LinesUnavailable):
                    await lines.get_user("erin")
                # a known line is served from its last answer; others wait
                self.assertIsNotNone(await cached.get_user("erin"))
                with self.assertRaises(LinesUnavailable):
                    await cached.get_user("frank")
        outages = [e for e in events if "Redis unavailable" in e["log_format"]]
        self.assertEqual(len(outages), 1, "an outage is logged once")
        self.flushLoggedErrors()
        server.start()
        await connected(redis, timeout=15)
        with capturedLogs() as events:
            self.assertIsNone(await lines.get_user("erin"), "a fresh, empty Redis")
        self.assertTrue(any("Redis is back" in e["log_format"] for e in events))


class ErrorReplyTests(SynchronousTestCase):
    """Error replies other than WRONGTYPE mean Redis cannot say now."""

    def test_a_loading_or_read_only_redis_makes_lines_unavailable(self) -> None:
        class Loading:
            def execute(self, *command: object) -> Deferred[object]:
                return fail(Exception("LOADING Redis is loading the dataset"))

        lines = RedisLines(Loading())
        self.failureResultOf(lines.get_user("alice"), LinesUnavailable)
        self.flushLoggedErrors()
