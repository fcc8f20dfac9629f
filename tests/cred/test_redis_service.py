"""RedisService against a real redis-server: lifecycle, failing fast while
Redis is away, timeouts, reconnecting, AUTH and database selection."""

from __future__ import annotations

import time
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.cred._redis_server import (
    RedisServer,
    connected,
    fresh_prefix,
    shared_redis_url,
)
from xrelay.redis import (
    RedisAddress,
    RedisService,
    RedisUnavailable,
    Script,
    parse_redis_url,
)


class UrlTests(SynchronousTestCase):
    def test_tcp_urls(self) -> None:
        self.assertEqual(parse_redis_url("redis://r1"), RedisAddress(host="r1"))
        self.assertEqual(
            parse_redis_url("redis://u:p%40ss@10.0.0.5:6380/2"),
            RedisAddress("10.0.0.5", 6380, db=2, username="u", password="p@ss"),
        )
        self.assertEqual(
            parse_redis_url("redis://:secret@r1/"),
            RedisAddress("r1", password="secret"),
        )

    def test_unix_urls(self) -> None:
        self.assertEqual(
            parse_redis_url("unix:///run/redis.sock?db=4"),
            RedisAddress(path="/run/redis.sock", db=4),
        )

    def test_bad_urls_say_why(self) -> None:
        for url, why in (
            ("http://r1", "redis://"),
            ("redis://", "host"),
            ("redis://r1:notaport", "Port"),
            ("redis://r1/zero", "number"),
            ("unix://", "path"),
        ):
            with self.assertRaises(ValueError) as caught:
                parse_redis_url(url)
            self.assertIn(why, str(caught.exception), url)

    def test_the_password_stays_out_of_logs(self) -> None:
        address = parse_redis_url("redis://:hunter2@r1:6379/1")
        self.assertEqual(str(address), "r1:6379 db 1")

    def test_nothing_connects_before_start_service(self) -> None:
        memory = MemoryReactorClock()
        service = RedisService("unix:///run/redis.sock", memory)
        self.assertEqual(memory.unixClients, [])
        self.failureResultOf(service.execute("PING"), RedisUnavailable)
        service.startService()
        self.assertEqual(len(memory.unixClients), 1)
        service.stopService()


class ServiceTests(TestCase):
    def service(self, url: str, timeout: float = 1.0) -> RedisService:
        redis = RedisService(url, reactor, timeout)
        redis.startService()
        self.addCleanup(redis.stopService)
        return redis

    async def test_commands_and_scripts(self) -> None:
        redis = self.service(shared_redis_url())
        await connected(redis)
        key = fresh_prefix() + "k"
        self.assertEqual(await redis.execute("SET", key, "0123"), "OK")
        self.assertEqual(await redis.execute("GET", key), "0123", "no number guessing")
        script = Script("return {redis.call('INCRBY', KEYS[1], ARGV[1]), 'x'}")
        self.assertEqual(await redis.run(script, [key + "n"], [2]), [2, "x"])
        self.assertEqual(await redis.run(script, [key + "n"], [1]), [3, "x"])
        await redis.execute("DEL", key, key + "n")

    async def test_fails_fast_while_redis_is_away_and_reconnects(self) -> None:
        server = RedisServer(Path(self.mktemp()).resolve())
        server.directory.mkdir(parents=True)
        server.start()
        self.addCleanup(server.stop)
        redis = self.service(server.url)
        await connected(redis)
        server.stop()
        started = time.monotonic()
        with self.assertRaises(RedisUnavailable):
            for _ in range(50):  # until the loss is noticed
                await redis.execute("PING")
        self.assertLess(time.monotonic() - started, 2)
        server.start()
        await connected(redis, timeout=15)  # backoff is at most 10 s

    async def test_a_silent_server_times_out_and_is_dropped(self) -> None:
        server = RedisServer(Path(self.mktemp()).resolve())
        server.directory.mkdir(parents=True)
        server.start()
        self.addCleanup(server.stop)
        redis = self.service(server.url, timeout=0.3)
        await connected(redis)
        server.pause()
        started = time.monotonic()
        with self.assertRaises(RedisUnavailable):
            await redis.execute("PING")
        self.assertLess(time.monotonic() - started, 3.0)
        server.resume()
        await connected(redis, timeout=15)

    async def test_password_and_database(self) -> None:
        server = RedisServer(Path(self.mktemp()).resolve(), "--requirepass", "s3cret")
        server.directory.mkdir(parents=True)
        server.start()
        self.addCleanup(server.stop)
        db3 = self.service(f"redis://:s3cret@127.0.0.1:{server.port}/3")
        db0 = self.service(f"redis://:s3cret@127.0.0.1:{server.port}")
        await connected(db3)
        await connected(db0)
        await db3.execute("SET", "where", "three")
        self.assertEqual(await db3.execute("GET", "where"), "three")
        self.assertIsNone(await db0.execute("GET", "where"))

    async def test_a_wrong_password_never_connects(self) -> None:
        server = RedisServer(Path(self.mktemp()).resolve(), "--requirepass", "s3cret")
        server.directory.mkdir(parents=True)
        server.start()
        self.addCleanup(server.stop)
        redis = self.service(f"redis://:wrong@127.0.0.1:{server.port}")
        with self.assertRaises(RedisUnavailable):
            await connected(redis, timeout=1)
        self.flushLoggedErrors()
