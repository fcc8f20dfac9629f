"""Connection limits shared through a real redis-server: two trackers are
two nodes.  Time for the policy comes from a Clock both share; node keys
expire in Redis's own (real) time."""

from __future__ import annotations

import time
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import TestCase

from tests.cred._redis_server import (
    RedisServer,
    connected,
    fresh_prefix,
    shared_redis_url,
)
from xrelay.cred.limits import REFUSE, REPLACE_OLDEST, Slot
from xrelay.cred.redislimits import RedisConnectionTracker
from xrelay.redis import RedisService

TV, PHONE, LAPTOP = "10.0.0.1 TV", "10.0.0.2 Phone", "10.0.0.3 Laptop"


class Node:
    """One node's tracker and the streams it kicked."""

    def __init__(self, tracker: RedisConnectionTracker) -> None:
        self.tracker = tracker
        self.kicked: list[str] = []

    async def open(self, client: str, limit: int, channel: str = "1") -> Slot | None:
        name = f"{client}/{channel}"
        return await self.tracker.acquire(
            "alice", limit, "live", channel, client, lambda: self.kicked.append(name)
        )

    async def active(self) -> int:
        return await self.tracker.active("alice")


class RedisLimitTests(TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(time.time())
        self.prefix = fresh_prefix()

    async def redis(self, url: str) -> RedisService:
        redis = RedisService(url, reactor)
        redis.startService()
        self.addCleanup(redis.stopService)
        await connected(redis)
        return redis

    async def node(
        self,
        name: str,
        policy: str = REFUSE,
        node_timeout: float = 10.0,
        url: str | None = None,
    ) -> Node:
        redis = await self.redis(url or shared_redis_url())
        tracker = RedisConnectionTracker(
            redis,
            self.clock,
            name,
            policy,
            zap_grace=3.0,
            heartbeat=node_timeout / 3,
            node_timeout=node_timeout,
            prefix=self.prefix,
        )
        await tracker.beat()  # registers
        return Node(tracker)

    async def test_two_nodes_share_one_limit(self) -> None:
        a, b = await self.node("a"), await self.node("b")
        self.assertIsNotNone(await a.open(TV, 2))
        self.assertIsNotNone(await b.open(PHONE, 2))
        self.assertIsNone(await a.open(LAPTOP, 2))
        self.assertIsNone(await b.open(LAPTOP, 2))
        self.assertEqual((await a.active(), await b.active()), (2, 2))

    async def test_a_release_is_reserved_for_its_client_on_every_node(self) -> None:
        a, b = await self.node("a"), await self.node("b")
        slot = await a.open(TV, 1)
        assert slot is not None
        slot.release()
        await a.active()  # sent after the release on a's connection
        self.assertEqual(await b.active(), 0)
        self.assertIsNone(await b.open(LAPTOP, 1), "reserved through the grace")
        # the zapping player may reconnect anywhere (another node of the
        # load balancer) and takes its own reservation back
        self.assertIsNotNone(await b.open(TV, 1, channel="2"))
        self.assertEqual(await a.active(), 1)
        self.assertIsNone(await a.open(LAPTOP, 1))

    async def test_a_reservation_lapses_after_the_grace(self) -> None:
        a, b = await self.node("a"), await self.node("b")
        slot = await a.open(TV, 1)
        assert slot is not None
        slot.release()
        await a.active()  # sent after the release on a's connection
        self.clock.advance(3.01)  # Lua keeps times to ~0.1 ms
        self.assertIsNotNone(await b.open(LAPTOP, 1))

    async def test_the_same_client_on_another_node_replaces_its_stream(
        self,
    ) -> None:
        a, b = await self.node("a"), await self.node("b")
        await a.open(TV, 1)
        self.assertIsNotNone(await b.open(TV, 1, channel="2"))
        self.assertEqual(a.kicked, [], "node a learns it at its next heartbeat")
        await a.tracker.beat()
        self.assertEqual(a.kicked, [f"{TV}/1"])
        self.assertEqual(await a.active(), 1)

    async def test_the_same_client_on_the_same_node_is_kicked_at_once(self) -> None:
        a = await self.node("a")
        await a.open(TV, 1)
        self.assertIsNotNone(await a.open(TV, 1, channel="2"))
        self.assertEqual(a.kicked, [f"{TV}/1"])
        self.assertEqual(await a.active(), 1)

    async def test_replace_oldest_across_nodes(self) -> None:
        a = await self.node("a", REPLACE_OLDEST)
        b = await self.node("b", REPLACE_OLDEST)
        await a.open(TV, 2)
        self.clock.advance(1)
        await b.open(PHONE, 2)
        self.clock.advance(1)
        self.assertIsNotNone(await b.open(LAPTOP, 2))
        await a.tracker.beat()
        await b.tracker.beat()
        self.assertEqual((a.kicked, b.kicked), ([f"{TV}/1"], []))
        self.assertEqual(await b.active(), 2)

    async def test_a_silent_nodes_streams_stop_counting(self) -> None:
        a = await self.node("a", node_timeout=10.0)
        b = await self.node("b", node_timeout=0.6)
        await b.open(TV, 1)
        self.assertIsNone(await a.open(PHONE, 1))
        started = time.monotonic()
        while await a.open(PHONE, 1) is None:  # b stopped beating (crashed)
            self.assertLess(time.monotonic() - started, 5.0, "never released")
            await deferLater(reactor, 0.05)
        self.assertGreaterEqual(time.monotonic() - started, 0.3, "not before")
        self.assertEqual(await a.active(), 1)

    async def test_a_node_stopping_releases_its_streams_at_once(self) -> None:
        a, b = await self.node("a"), await self.node("b")
        b.tracker.startService()
        await b.open(TV, 1)
        self.assertIsNone(await a.open(PHONE, 1))
        await b.tracker.stopService()
        self.assertIsNotNone(await a.open(PHONE, 1))

    async def test_a_lapsed_node_registers_its_streams_again(self) -> None:
        a, b = await self.node("a"), await self.node("b")
        await a.open(TV, 1)
        instance = a.tracker._instance
        # a stall longer than the node timeout: Redis forgot node a
        await a.tracker._redis.execute("DEL", f"{self.prefix}node:{instance}")
        self.assertIsNotNone(await b.open(PHONE, 2), "a's stream lapsed")
        self.assertEqual(await b.active(), 1)
        await a.tracker.beat()
        self.assertNotEqual(a.tracker._instance, instance)
        self.assertEqual(await b.active(), 2)
        self.assertIsNone(await b.open(LAPTOP, 2))
        self.flushLoggedErrors()

    async def test_without_redis_a_node_decides_alone_then_rejoins(self) -> None:
        server = RedisServer(Path(self.mktemp()).resolve())
        server.directory.mkdir(parents=True)
        server.start()
        self.addCleanup(server.stop)
        a = await self.node("a", url=server.url)
        b = await self.node("b", url=server.url)
        await b.open(TV, 2)
        server.stop()
        # a cannot see b's stream any more: it counts its own
        self.assertIsNotNone(await a.open(PHONE, 2))
        self.assertIsNotNone(await a.open(LAPTOP, 2))
        self.assertIsNone(await a.open("10.0.0.4 Box", 2), "its own limit holds")
        self.assertEqual(await a.active(), 2)
        await a.tracker.beat()  # fails quietly while Redis is away
        self.assertEqual(len(self.flushLoggedErrors()), 1, "logged once")
        server.start()
        for node in (a, b):
            await connected(node.tracker._redis, timeout=15)
            await node.tracker.beat()  # registers its streams afresh
        self.assertEqual(await b.active(), 3, "every stream counts again")
        self.assertIsNone(await b.open("10.0.0.5 Stick", 2))
