"""Hub, viewers and the channel registry, with fake clocks and requests."""

from __future__ import annotations

from types import SimpleNamespace

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from xrelay.fanout import ChannelRegistry, HubSettings, Viewer
from xrelay.models import Channel
from xrelay.testing import FakeSource

PKT = b"\x47" + b"\x00" * 187


def batch(n: int) -> bytes:
    return PKT * n


class ViewerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.request = DummyRequest([b""])
        self.detached: list[Viewer] = []
        self.viewer = Viewer(
            self.request, self.clock, 10 * 188, self.detached.append, "v"
        )

    def written(self) -> bytes:
        return b"".join(self.request.written)

    def test_writes_straight_through_when_writable(self) -> None:
        self.viewer.offer(batch(3))
        self.assertEqual(self.written(), batch(3))
        self.assertEqual(self.viewer.bytes_out, 3 * 188)

    def test_queues_while_paused_and_drains_in_order(self) -> None:
        self.viewer.pauseProducing()
        self.viewer.offer(PKT[:1] + b"\x01" * 187)
        self.viewer.offer(PKT[:1] + b"\x02" * 187)
        self.assertEqual(self.written(), b"")
        self.viewer.resumeProducing()
        self.assertEqual(
            self.written(), PKT[:1] + b"\x01" * 187 + PKT[:1] + b"\x02" * 187
        )
        self.assertEqual(self.viewer.queued_bytes, 0)

    def test_drops_whole_batches_past_the_queue_limit(self) -> None:
        self.viewer.pauseProducing()
        self.viewer.offer(batch(8))
        self.viewer.offer(batch(3))  # 11 packets > limit of 10: dropped whole
        self.viewer.offer(batch(2))
        self.assertEqual(self.viewer.dropped_packets, 3)
        self.viewer.resumeProducing()
        self.assertEqual(len(self.written()), 10 * 188)

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
        self.assertEqual(self.written(), b"")

    def test_close_finishes_the_response(self) -> None:
        self.viewer.close()
        self.assertEqual(self.request.finished, 1)
        self.assertEqual(self.detached, [self.viewer])


class RegistryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.sources: list[FakeSource] = []

        def make_source(url: str) -> FakeSource:
            source = FakeSource(url)
            self.sources.append(source)
            return source

        self.registry = ChannelRegistry(
            self.clock, make_source, HubSettings(stall_timeout=15), linger=10
        )
        self.registry.startService()
        self.channel = Channel(id=7, number=7, name="Seven", sources=("file:///a.ts",))

    def tearDown(self) -> None:
        self.registry.stopService()

    def test_first_viewer_starts_the_source_and_gets_its_packets(self) -> None:
        request = DummyRequest([b""])
        self.registry.attach(self.channel, request, "a")
        [source] = self.sources
        self.assertEqual(source.url, "file:///a.ts")
        source.sink.write_packets(batch(2))
        self.assertEqual(b"".join(request.written), batch(2))

    def test_viewers_share_one_source(self) -> None:
        first, second = DummyRequest([b""]), DummyRequest([b""])
        self.registry.attach(self.channel, first, "a")
        self.registry.attach(self.channel, second, "b")
        self.assertEqual(len(self.sources), 1)
        self.sources[0].sink.write_packets(batch(1))
        self.assertEqual(first.written, second.written)

    def test_source_stops_after_linger_and_rejoin_reuses_it(self) -> None:
        viewer = self.registry.attach(self.channel, DummyRequest([b""]), "a")
        viewer.detach()
        self.clock.advance(9)
        self.registry.attach(self.channel, DummyRequest([b""]), "b").detach()
        self.assertEqual(len(self.sources), 1)
        self.assertFalse(self.sources[0].stopped)
        self.clock.advance(10.5)
        self.assertTrue(self.sources[0].stopped)
        self.assertNotIn(7, self.registry.hubs)

    def test_a_stalled_viewer_is_dropped_and_others_keep_flowing(self) -> None:
        stuck, healthy = DummyRequest([b""]), DummyRequest([b""])
        aborted: list[bool] = []
        stuck.channel = SimpleNamespace(  # type: ignore[attr-defined]
            transport=SimpleNamespace(abortConnection=lambda: aborted.append(True))
        )
        slow = self.registry.attach(self.channel, stuck, "stuck")
        self.registry.attach(self.channel, healthy, "healthy")
        slow.pauseProducing()
        for _ in range(20):
            self.sources[0].sink.write_packets(batch(1))
            self.clock.advance(1)
        self.assertEqual(aborted, [True])
        self.assertEqual(len(healthy.written), 20)
        self.assertEqual(len(self.registry.hubs[7].viewers), 1)

    def test_source_end_closes_viewers(self) -> None:
        request = DummyRequest([b""])
        self.registry.attach(self.channel, request, "a")
        self.sources[0].sink.source_ended("upstream gone")
        self.assertEqual(request.finished, 1)
        self.assertTrue(self.sources[0].stopped)
        self.assertNotIn(7, self.registry.hubs)

    def test_stop_service_closes_everything(self) -> None:
        request = DummyRequest([b""])
        self.registry.attach(self.channel, request, "a")
        self.registry.stopService()
        self.assertEqual(request.finished, 1)
        self.assertTrue(self.sources[0].stopped)

    def test_channel_without_sources_is_refused(self) -> None:
        with self.assertRaises(LookupError):
            self.registry.attach(
                Channel(id=8, number=8, name="x"), DummyRequest([b""]), "a"
            )
