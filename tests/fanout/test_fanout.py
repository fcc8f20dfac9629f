"""Hub, viewers and the channel registry, with fake clocks and transports."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from xrelay.fanout import (
    Batch,
    ChannelRegistry,
    ChannelSupervisor,
    HubSettings,
    Viewer,
)
from xrelay.models import Channel
from xrelay.testing import FakeSource, MemoryStore


def packet(fill: int) -> bytes:
    return b"\x47" + bytes([fill]) * 187


def batch(n: int, fill: int = 0, keyframe_at: int | None = None) -> Batch:
    return Batch(packet(fill) * n, keyframe_at, psi=b"P" * 188)


class ViewerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.transport = StringTransport()
        self.detached: list[Viewer] = []
        self.viewer = self.make_viewer(chunked=False)

    def make_viewer(self, chunked: bool) -> Viewer:
        return Viewer(
            DummyRequest([b""]),
            self.transport,
            chunked,
            self.clock,
            10 * 188,
            self.detached.append,
            "v",
        )

    def test_writes_straight_to_the_transport(self) -> None:
        self.viewer.offer(batch(3))
        self.assertEqual(self.transport.value(), packet(0) * 3)
        self.assertEqual(self.viewer.bytes_out, 3 * 188)

    def test_chunked_responses_get_framed_batches(self) -> None:
        viewer = self.make_viewer(chunked=True)
        viewer.offer(batch(1))
        self.assertEqual(self.transport.value(), b"bc\r\n" + packet(0) + b"\r\n")

    def test_queues_while_paused_and_drains_in_order(self) -> None:
        self.viewer.pauseProducing()
        self.viewer.offer(batch(1, fill=1))
        self.viewer.offer(batch(1, fill=2))
        self.assertEqual(self.transport.value(), b"")
        self.viewer.resumeProducing()
        self.assertEqual(self.transport.value(), packet(1) + packet(2))
        self.assertEqual(self.viewer.queued_bytes, 0)

    def test_overflow_skips_ahead_to_the_next_keyframe(self) -> None:
        self.viewer.pauseProducing()
        self.viewer.offer(batch(8, fill=1))
        self.viewer.offer(batch(3, fill=2))  # 11 > 10 packets: queue dropped
        self.viewer.offer(batch(2, fill=3))  # no keyframe: dropped too
        self.viewer.offer(batch(4, fill=4, keyframe_at=2 * 188))
        self.viewer.resumeProducing()
        # PAT/PMT first, then the batch from its keyframe on
        self.assertEqual(self.transport.value(), b"P" * 188 + packet(4) * 2)
        self.assertEqual(self.viewer.dropped_packets, 8 + 3 + 2 + 2)
        self.assertEqual(self.viewer.skips, 1)

    def test_stall_time_counts_from_pause(self) -> None:
        self.viewer.pauseProducing()
        self.clock.advance(5)
        self.viewer.pauseProducing()  # a second pause does not reset it
        self.assertEqual(self.viewer.stalled_for(self.clock.seconds()), 5)
        self.viewer.resumeProducing()
        self.assertEqual(self.viewer.stalled_for(self.clock.seconds()), 0)

    def test_stop_producing_detaches_once(self) -> None:
        self.viewer.stopProducing()
        self.viewer.stopProducing()
        self.viewer.offer(batch(1))
        self.assertEqual(self.detached, [self.viewer])
        self.assertEqual(self.transport.value(), b"")

    def test_close_finishes_the_response(self) -> None:
        self.viewer.close()
        self.assertEqual(self.viewer.request.finished, 1)
        self.assertEqual(self.detached, [self.viewer])

    def test_abort_drops_the_connection(self) -> None:
        self.viewer.close(abort=True)
        self.assertTrue(self.transport.disconnecting)


class RegistryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.sources: list[FakeSource] = []

        def make_source(channel: Channel) -> FakeSource:
            source = FakeSource(channel.sources[0])
            self.sources.append(source)
            return source

        self.registry = ChannelRegistry(
            self.clock, make_source, HubSettings(stall_timeout=15), linger=10
        )
        self.registry.startService()
        self.channel = Channel(id=7, number=7, name="Seven", sources=("file:///a.ts",))

    def tearDown(self) -> None:
        self.registry.stopService()

    def attach(self, label: str = "a") -> tuple[Viewer, StringTransport]:
        transport = StringTransport()
        viewer = self.registry.attach(
            self.channel, DummyRequest([b""]), transport, False, label
        )
        return viewer, transport

    def feed(self, data: bytes) -> None:
        assert self.sources[0].sink is not None
        self.sources[0].sink.write_packets(data)
        self.clock.advance(0.1)  # the hub's flush interval

    def test_first_viewer_starts_the_source_and_gets_its_packets(self) -> None:
        _, transport = self.attach()
        [source] = self.sources
        self.assertEqual(source.url, "file:///a.ts")
        self.feed(packet(0) * 2)
        self.assertEqual(transport.value(), packet(0) * 2)

    def test_arrivals_are_coalesced_into_one_write(self) -> None:
        _, transport = self.attach()
        assert self.sources[0].sink is not None
        for _ in range(5):
            self.sources[0].sink.write_packets(packet(0))
        self.assertEqual(transport.value(), b"")
        self.clock.advance(0.1)
        self.assertEqual(transport.value(), packet(0) * 5)

    def test_a_full_flush_goes_out_without_waiting(self) -> None:
        _, transport = self.attach()
        assert self.sources[0].sink is not None
        self.sources[0].sink.write_packets(packet(0) * 700)  # > flush_bytes
        self.assertEqual(len(transport.value()), 700 * 188)

    def test_viewers_share_one_source(self) -> None:
        _, first = self.attach("a")
        _, second = self.attach("b")
        self.assertEqual(len(self.sources), 1)
        self.feed(packet(0))
        self.assertEqual(first.value(), second.value())

    def test_source_stops_after_linger_and_rejoin_reuses_it(self) -> None:
        viewer, _ = self.attach()
        viewer.detach()
        self.clock.advance(9)
        self.attach("b")[0].detach()
        self.assertEqual(len(self.sources), 1)
        self.assertFalse(self.sources[0].stopped)
        self.clock.advance(10.5)
        self.assertTrue(self.sources[0].stopped)
        self.assertNotIn(7, self.registry.hubs)

    def test_a_stalled_viewer_is_dropped_and_others_keep_flowing(self) -> None:
        slow, stuck = self.attach("stuck")
        _, healthy = self.attach("healthy")
        slow.pauseProducing()
        for _ in range(20):
            self.feed(packet(0))
            self.clock.advance(0.9)
        self.assertTrue(stuck.disconnecting)
        self.assertEqual(len(healthy.value()), 20 * 188)
        self.assertEqual(len(self.registry.hubs[7].viewers), 1)

    def test_source_end_closes_viewers(self) -> None:
        viewer, _ = self.attach()
        assert self.sources[0].sink is not None
        self.sources[0].sink.source_ended("upstream gone")
        self.assertEqual(viewer.request.finished, 1)
        self.assertTrue(self.sources[0].stopped)
        self.assertNotIn(7, self.registry.hubs)

    def test_stop_service_closes_everything(self) -> None:
        viewer, _ = self.attach()
        self.registry.stopService()
        self.assertEqual(viewer.request.finished, 1)
        self.assertTrue(self.sources[0].stopped)

    def test_channel_without_sources_is_refused(self) -> None:
        with self.assertRaises(LookupError):
            self.registry.attach(
                Channel(id=8, number=8, name="x"),
                DummyRequest([b""]),
                StringTransport(),
                False,
                "a",
            )


class AlwaysOnTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.sources: list[FakeSource] = []

        def make_source(channel: Channel) -> FakeSource:
            self.sources.append(FakeSource(channel.sources[0]))
            return self.sources[-1]

        self.registry = ChannelRegistry(
            self.clock, make_source, HubSettings(), linger=5
        )
        self.registry.startService()
        self.addCleanup(self.registry.stopService)
        self.store = MemoryStore()
        self.supervisor = ChannelSupervisor(
            self.store, self.registry, self.clock, interval=30
        )

    def put(self, channel: Channel) -> None:
        self.successResultOf(self.store.put_channel(channel))

    def test_always_on_channels_run_without_viewers(self) -> None:
        self.put(Channel(1, 1, "on", sources=("fake://1",), on_demand=False))
        self.put(Channel(2, 2, "demand", sources=("fake://2",)))
        self.supervisor.startService()
        self.addCleanup(self.supervisor.stopService)
        self.assertEqual([s.url for s in self.sources], ["fake://1"])
        self.clock.advance(60)  # far past the linger time
        self.assertIn(1, self.registry.hubs)
        self.assertFalse(self.sources[0].stopped)

    def test_a_channel_turned_on_demand_stops_after_the_linger(self) -> None:
        self.put(Channel(1, 1, "on", sources=("fake://1",), on_demand=False))
        self.supervisor.startService()
        self.addCleanup(self.supervisor.stopService)
        self.put(Channel(1, 1, "on", sources=("fake://1",), on_demand=True))
        self.clock.advance(30)  # the next refresh unpins it
        self.clock.advance(5.1)
        self.assertTrue(self.sources[0].stopped)
        self.assertNotIn(1, self.registry.hubs)

    def test_stats_describe_running_channels_and_viewers(self) -> None:
        self.put(Channel(1, 1, "on", sources=("fake://1",), on_demand=False))
        self.supervisor.startService()
        self.addCleanup(self.supervisor.stopService)
        self.registry.attach(
            Channel(1, 1, "on", sources=("fake://1",)),
            DummyRequest([b""]),
            StringTransport(),
            False,
            "alice@127.0.0.1",
        )
        assert self.sources[0].sink is not None
        self.sources[0].sink.write_packets(packet(0) * 10)
        self.clock.advance(1)
        [stats] = self.registry.stats()
        self.assertEqual(stats["channel"], 1)
        self.assertTrue(stats["always_on"])
        self.assertEqual(stats["bytes_in"], 1880)
        [viewer] = stats["viewers"]  # type: ignore[misc]
        self.assertEqual(viewer["viewer"], "alice@127.0.0.1")
        self.assertEqual(viewer["bytes"], 1880)
