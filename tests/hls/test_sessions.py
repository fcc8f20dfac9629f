"""HLS sessions on a Clock: a real registry and hub fed by the real file
source (the demo clip, looped), the real connection tracker."""

from __future__ import annotations

import itertools

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from xrelay.cred.limits import ConnectionTracker
from xrelay.demo import demo_media_path
from xrelay.fanout import ChannelHub, ChannelRegistry, HubSettings
from xrelay.hls import Cut, HlsSession, HlsSessions, HlsSettings, LiveFeed
from xrelay.ingest._file import FileLoopSource
from xrelay.interfaces import IChannelSource
from xrelay.models import Channel, User
from xrelay.mpegts import PACKET_SIZE, parse_pes_timestamps, pid
from xrelay.testing import FakeSource

from ._m3u8 import check_follows, parse
from ._streams import VIDEO, chunks, looped_demo

ONE = Channel(id=1, number=1, name="One", sources=("file://demo",))
TWO = Channel(id=2, number=2, name="Two", sources=("file://demo",))
ALICE = User(0, "alice", "x", max_connections=2)
TV, PHONE = "10.0.0.1 TV", "10.0.0.2 Phone"
LINGER = 5.0


class SessionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.started: list[IChannelSource] = []
        self.fake = False

        def make_source(channel: Channel) -> IChannelSource:
            source: IChannelSource
            if self.fake:
                source = FakeSource(channel.sources[0])
            else:
                path = str(demo_media_path())
                source = FileLoopSource(path, self.clock, tick=0.1, lead=0.0)
            self.started.append(source)
            return source

        self.registry = ChannelRegistry(
            self.clock, make_source, HubSettings(), linger=LINGER
        )
        self.registry.startService()
        self.addCleanup(self.registry.stopService)
        self.tracker = ConnectionTracker(self.clock)
        self.sessions = HlsSessions(
            self.registry,
            self.tracker,
            self.clock,
            HlsSettings(window=3, session_timeout=30.0),
        )
        self.sessions.startService()
        self.addCleanup(self.sessions.stopService)

    def run_for(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.1)):
            self.clock.advance(0.1)

    def open(
        self, channel: Channel = ONE, client: str = TV, user: User = ALICE
    ) -> HlsSession | None:
        address = client.split()[0]
        return self.successResultOf(
            self.sessions.open(user, channel, None, client, address)
        )

    def active(self) -> int:
        return self.tracker.open_count("alice")

    def test_a_session_holds_a_slot_and_taps_the_channel(self) -> None:
        session = self.open()
        assert session is not None
        self.assertEqual(self.active(), 1)
        self.assertGreaterEqual(len(session.token), 20)
        hub = self.registry.hubs[1]
        self.assertEqual(hub.viewers, set())
        self.assertEqual(hub.taps, {session.feed})
        self.assertIs(self.sessions.find(session.token, "10.0.0.1"), session)

    def test_the_playlist_advances_as_the_channel_plays(self) -> None:
        session = self.open()
        assert session is not None
        ready = session.feed.ready()
        self.assertNoResult(ready)
        self.run_for(5.5)  # the first keyframe, then 4 s
        self.successResultOf(ready)
        window = session.feed.window
        lists = [parse(window.playlist().decode())]
        for _ in range(5):
            self.run_for(4.0)
            self.assertIs(self.sessions.find(session.token, "10.0.0.1"), session)
            lists.append(parse(window.playlist().decode()))
        for before, after in itertools.pairwise(lists):
            check_follows(before, after)
        self.assertEqual([len(p.segments) for p in lists], [1, 2, 3, 3, 3, 3])
        self.assertEqual(lists[-1].media_sequence, 3)
        self.assertEqual({s.duration for p in lists for s in p.segments}, {4.0})
        segment = window.get(lists[-1].segments[-1].sequence)
        assert segment is not None
        self.assertEqual(segment.data[0], 0x47)

    def test_a_player_reloading_the_channel_url_continues_its_session(self) -> None:
        first = self.open()
        self.clock.advance(10)
        self.assertIs(self.open(), first)
        self.assertEqual(self.active(), 1)
        other = self.open(client=PHONE)
        self.assertIsNot(other, first)
        self.assertEqual(self.active(), 2)
        assert first is not None and other is not None
        self.assertIs(other.feed, first.feed, "one feed per channel")

    def test_tokens_work_from_their_own_address_only(self) -> None:
        session = self.open()
        assert session is not None
        self.assertIsNone(self.sessions.find(session.token, "10.9.9.9"))
        self.assertIsNone(self.sessions.find("not-a-token", "10.0.0.1"))
        self.assertIs(self.sessions.find(session.token, "10.0.0.1"), session)

    def test_inactivity_ends_the_session_frees_the_slot_and_the_channel(self) -> None:
        session = self.open()
        assert session is not None
        self.run_for(20)
        self.assertIs(self.sessions.find(session.token, "10.0.0.1"), session)
        self.run_for(29)  # requests keep it alive; now it has none
        self.assertEqual(self.active(), 1)
        self.run_for(2)
        self.assertEqual(self.active(), 0)
        self.assertIsNone(self.sessions.find(session.token, "10.0.0.1"))
        hub = self.registry.hubs[1]
        self.assertFalse(hub.watched)
        self.run_for(LINGER + 0.5)  # the channel lingers, then stops
        self.assertNotIn(1, self.registry.hubs)
        self.assertFalse(hub.running)

    def test_find_expires_a_session_the_sweep_has_not_reached(self) -> None:
        session = self.open()
        assert session is not None
        self.clock.advance(30.5)  # one step: no sweep ran
        self.assertIsNone(self.sessions.find(session.token, "10.0.0.1"))
        self.assertEqual(self.active(), 0)

    def test_refused_at_the_limit_and_kicked_by_a_replacing_stream(self) -> None:
        solo = User(0, "solo", "x", max_connections=1)
        first = self.open(user=solo)
        self.assertIsNotNone(first)
        self.assertIsNone(self.open(channel=TWO, client=PHONE, user=solo))
        # the same player zapping to another channel takes the slot over
        second = self.open(channel=TWO, user=solo)
        assert first is not None and second is not None
        self.assertIsNone(self.sessions.find(first.token, "10.0.0.1"))
        self.assertIs(self.sessions.find(second.token, "10.0.0.1"), second)
        self.assertEqual(self.tracker.open_count("solo"), 1)
        self.assertFalse(self.registry.hubs[1].watched)

    def test_a_channel_that_ends_ends_the_playlist(self) -> None:
        self.fake = True
        session = self.open()
        assert session is not None
        hub = self.registry.hubs[1]
        hub.source_ended("upstream gone")  # the failover gave up
        self.assertTrue(session.feed.ended)
        self.successResultOf(session.feed.ready())
        self.assertTrue(parse(session.feed.window.playlist().decode()).ended)
        # the ended session still answers; a reload starts the channel again
        self.assertIs(self.sessions.find(session.token, "10.0.0.1"), session)
        again = self.open()
        assert again is not None
        self.assertIsNot(again, session)
        self.assertIsNot(again.feed, session.feed)
        self.assertEqual(self.active(), 1)
        self.assertIs(self.registry.hubs[1].taps.pop(), again.feed)

    def test_stopping_closes_every_session(self) -> None:
        self.open()
        self.open(channel=TWO, client=PHONE)
        self.assertEqual(self.active(), 2)
        self.sessions.stopService()
        self.assertEqual(self.active(), 0)
        self.assertFalse(any(hub.watched for hub in self.registry.hubs.values()))

    def test_a_variant_has_a_feed_and_hub_of_its_own(self) -> None:
        made: list[tuple[int, str]] = []

        def make_variant(channel: Channel, variant: str) -> IChannelSource:
            made.append((channel.id, variant))
            return FakeSource(f"variant://{variant}")

        registry = ChannelRegistry(
            self.clock, lambda c: FakeSource("x"), HubSettings(), 5.0, make_variant
        )
        registry.startService()
        self.addCleanup(registry.stopService)
        sessions = HlsSessions(registry, self.tracker, self.clock, HlsSettings())
        plain = self.successResultOf(sessions.open(ALICE, ONE, None, TV, "10.0.0.1"))
        scaled = self.successResultOf(sessions.open(ALICE, ONE, "720p", TV, "10.0.0.1"))
        assert plain is not None and scaled is not None
        self.assertIsNot(plain.feed, scaled.feed)
        self.assertEqual(made, [(1, "720p")])
        self.assertEqual(registry.hubs[1, "720p"].taps, {scaled.feed})
        self.assertEqual(registry.hubs[1].taps, {plain.feed})
        sessions.stopService()

    def test_stats(self) -> None:
        self.open()
        self.open(client=PHONE)
        self.run_for(5.5)
        [stats] = self.sessions.stats()
        self.assertEqual(stats["channel"], 1)
        self.assertEqual(stats["sessions"], 2)
        self.assertEqual(stats["segments"], 1)
        self.assertGreater(stats["bytes"], 0)


class _Exploding:
    """A segmenter with a bug."""

    pending_bytes = 0

    def feed(self, data: bytes) -> list[Cut]:
        raise ValueError("a bug")


def first_pts(data: bytes) -> int | None:
    for off in range(0, len(data), PACKET_SIZE):
        if pid(data, off) == VIDEO and data[off + 1] & 0x40:
            return parse_pes_timestamps(data, off)[0]
    return None


class FeedTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.hub = ChannelHub(
            1, FakeSource("fake://1"), self.clock, HubSettings(), lambda h, r: None
        )
        self.hub.start()
        self.data = looped_demo(16)

    def play(self, data: bytes) -> None:
        for chunk in chunks(data, 350):
            self.hub.write_packets(chunk)
            self.clock.advance(0.1)

    def test_joining_a_running_channel_starts_from_its_join_cache(self) -> None:
        half = len(self.data) // 2 // PACKET_SIZE * PACKET_SIZE
        self.play(self.data[:half])
        feed = LiveFeed(1, None, HlsSettings(), lambda feed: None)
        self.hub.add_tap(feed)
        self.play(self.data[half:])
        first = feed.window.get(0)
        assert first is not None
        body = first.data[2 * PACKET_SIZE :]
        start, joined = first_pts(body), first_pts(self.data[half:])
        assert start is not None and joined is not None
        self.assertLess(start, joined, "it starts before the tap joined")
        self.assertEqual(first.duration, 4.0)

    def test_a_segmenter_bug_never_reaches_the_hub(self) -> None:
        feed = LiveFeed(1, None, HlsSettings(), lambda feed: None)
        self.hub.add_tap(feed)
        self.play(self.data[: 600 * PACKET_SIZE])
        feed._segmenter = _Exploding()  # type: ignore[assignment]
        with capturedLogs() as events:
            self.play(self.data[600 * PACKET_SIZE : 1200 * PACKET_SIZE])
        self.assertEqual(
            [e["log_failure"].type for e in events if "log_failure" in e],
            [ValueError],
        )
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        self.assertIn(feed, self.hub.taps)
        self.play(self.data[1200 * PACKET_SIZE :])
        flags = [s.discontinuity for s in feed.window.segments]
        self.assertTrue(flags[0], "the first segment after the bug is flagged")
        self.assertEqual(flags[1:], [False] * (len(flags) - 1))

    def test_the_hub_stopping_ends_the_feed(self) -> None:
        ended: list[LiveFeed] = []
        feed = LiveFeed(1, None, HlsSettings(), ended.append)
        self.hub.add_tap(feed)
        self.play(self.data[: len(self.data) // 2 // PACKET_SIZE * PACKET_SIZE])
        self.assertEqual(len(feed.window.segments), 1)
        self.hub.stop()
        self.assertEqual(ended, [feed])
        self.assertEqual(self.hub.taps, set())
        self.assertEqual(len(feed.window.segments), 2, "the last one cut at the end")
        self.assertTrue(feed.window.playlist().endswith(b"#EXT-X-ENDLIST\n"))
