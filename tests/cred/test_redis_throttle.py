"""The login throttle's counts in a real redis-server, shared by nodes."""

from __future__ import annotations

from pathlib import Path

from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from tests.cred._redis_server import (
    RedisServer,
    connected,
    fresh_prefix,
    shared_redis_url,
)
from xrelay.cred.redisthrottle import RedisFailures
from xrelay.cred.throttle import Attempt, Failures, Throttle, ThrottleSettings
from xrelay.redis import RedisService

SETTINGS = ThrottleSettings(
    free_failures=3,
    max_backoff=8.0,
    block_after=6,
    block_seconds=100.0,
    trust_seconds=1000.0,
)


class RedisThrottleTests(TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.prefix = fresh_prefix()

    async def node(self, url: str | None = None) -> tuple[Throttle, RedisFailures]:
        redis = RedisService(url or shared_redis_url(), reactor)
        redis.startService()
        self.addCleanup(redis.stopService)
        await connected(redis)
        failures = RedisFailures(redis, self.clock, SETTINGS, self.prefix)
        return Throttle(failures, self.clock, SETTINGS), failures

    async def fail(self, throttle: Throttle, address: str, username: str) -> float:
        attempt = await throttle.attempt(address, username, "guess")
        if not isinstance(attempt, Attempt):
            return attempt
        await attempt.failed()
        return 0.0

    async def succeed(self, throttle: Throttle, address: str, username: str) -> bool:
        attempt = await throttle.attempt(address, username, "right")
        if not isinstance(attempt, Attempt):
            return False
        await attempt.succeeded()
        return True

    async def test_failures_count_on_every_node(self) -> None:
        (one, _), (two, _) = await self.node(), await self.node()
        for throttle in (one, two, one):
            self.assertEqual(await self.fail(throttle, "192.0.2.1", "alice"), 0)
        self.assertEqual(await self.fail(two, "192.0.2.1", "bob"), 1.0)
        self.assertEqual(await self.fail(one, "192.0.2.2", "carol"), 0)

    async def test_blocks_and_their_expiry(self) -> None:
        (one, failures), (two, _) = await self.node(), await self.node()
        for _ in range(SETTINGS.block_after):
            self.clock.advance(SETTINGS.max_backoff)
            self.assertEqual(await self.fail(one, "192.0.2.1", "alice"), 0)
        self.assertEqual(
            await self.fail(two, "192.0.2.1", "bob"), SETTINGS.block_seconds
        )
        standing = await failures.standing("192.0.2.1", "alice")
        self.assertEqual(standing.address, Failures(6, self.clock.seconds()))
        self.assertEqual(standing.username, Failures(6, self.clock.seconds()))
        # Redis forgets them block_seconds after the last failure
        redis = failures._redis
        for key in ("fail:address:192.0.2.1", "fail:username:alice"):
            ttl = await redis.execute("PTTL", self.prefix + key)
            self.assertTrue(99_000 < int(ttl) <= 100_000, (key, ttl))
        # the owner from a clean address is not held back
        self.assertTrue(await self.succeed(two, "192.0.2.9", "alice"))

    async def test_trust_is_shared_and_ended_by_a_failure(self) -> None:
        (one, _), (two, _) = await self.node(), await self.node()
        self.assertTrue(await self.succeed(one, "192.0.2.1", "carol"))
        for _ in range(SETTINGS.block_after):
            self.clock.advance(SETTINGS.max_backoff)
            await self.fail(one, "192.0.2.1", "mallory")
        self.assertTrue(await self.succeed(two, "192.0.2.1", "carol"))
        self.assertEqual(await self.fail(two, "192.0.2.1", "carol"), 0)
        self.assertFalse(await self.succeed(one, "192.0.2.1", "carol"))

    async def test_without_redis_each_node_counts_alone(self) -> None:
        server = RedisServer(Path(self.mktemp()).resolve())
        server.directory.mkdir(parents=True)
        server.start()
        self.addCleanup(server.stop)
        (one, _), (two, _) = await self.node(server.url), await self.node(server.url)
        await self.fail(one, "192.0.2.1", "alice")
        server.stop()
        for _ in range(2):  # counted on top of what the node saw before
            self.assertEqual(await self.fail(one, "192.0.2.1", "alice"), 0)
        self.assertEqual(await self.fail(one, "192.0.2.1", "alice"), 1.0)
        self.assertEqual(await self.fail(two, "192.0.2.1", "alice"), 0)
        self.assertEqual(len(self.flushLoggedErrors()), 2, "once per node")
