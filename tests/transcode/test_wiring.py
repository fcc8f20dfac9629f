"""How derived channels are reached: transcode: URLs through make_source,
and ?profile= variants through the registry and the live URL."""

from __future__ import annotations

import sys

from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site

from tests.transcode._fakes import ProcessClock
from xrelay.config import TranscodeConfig, TranscodeProfile
from xrelay.cred.checkers import LineRealm, StoreChecker
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.fanout import ChannelRegistry, HubSettings
from xrelay.ingest import UnsupportedSource, make_source
from xrelay.models import Channel, User
from xrelay.testing import FakeSource, MemoryStore
from xrelay.transcode import SCHEME, Transcoder, TranscodeSource
from xrelay.web import AdminApi, LineAuthenticator, XRelayRoot
from xrelay.web._live import LiveStreams

PKT = b"\x47" + b"\x11" * 187
CONFIG = TranscodeConfig(
    ffmpeg=sys.executable,  # nothing real is spawned here
    profiles={
        "small": TranscodeProfile(height=180),
        "gpu": TranscodeProfile(video_codec="h264_vaapi"),
    },
)


def verify_now(password: str, stored: str) -> Deferred[bool]:
    return succeed(verify_password(password, stored))


class TranscoderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = ProcessClock()
        self.store = MemoryStore()
        self.registry = ChannelRegistry(self.reactor, FakeSource, HubSettings())
        self.transcoder = Transcoder(CONFIG, self.store, self.registry, self.reactor)

    def test_make_source_hands_transcode_urls_over(self) -> None:
        schemes = {SCHEME: self.transcoder.source}
        source = make_source("transcode:7?profile=small", self.reactor, schemes)
        assert isinstance(source, TranscodeSource)
        self.assertEqual((source.parent_id, source.profile_name), (7, "small"))
        self.assertEqual(source.name, "transcode:7?profile=small")
        with self.assertRaises(UnsupportedSource) as raised:
            make_source("transcode:7?profile=small", self.reactor)
        self.assertIn("unsupported source scheme 'transcode'", str(raised.exception))

    def test_unknown_profile_and_bad_urls(self) -> None:
        with self.assertRaises(UnsupportedSource) as raised:
            self.transcoder.source("transcode:7?profile=big")
        self.assertEqual(
            str(raised.exception),
            "transcode:7?profile=big: no transcode profile 'big' (known: small, gpu)",
        )
        for url in [
            "transcode:7",
            "transcode:x?profile=small",
            "transcode:7?profile=small&x=1",
            "transcode:7?profile=../../etc",
        ]:
            with self.assertRaises(UnsupportedSource, msg=url) as raised:
                self.transcoder.source(url)
            self.assertIn(
                "expected transcode:CHANNEL_ID?profile=NAME", str(raised.exception)
            )

    def test_no_profiles(self) -> None:
        transcoder = Transcoder(
            TranscodeConfig(), self.store, self.registry, self.reactor
        )
        with self.assertRaises(UnsupportedSource) as raised:
            transcoder.source("transcode:7?profile=small")
        self.assertIn("(known: none are configured)", str(raised.exception))

    def test_sources_of_one_derived_channel_share_their_backoff(self) -> None:
        first = self.transcoder.source("transcode:7?profile=small")
        again = self.transcoder.source("transcode:7?profile=small")
        other = self.transcoder.source("transcode:8?profile=small")
        assert isinstance(first, TranscodeSource)
        assert isinstance(again, TranscodeSource)
        assert isinstance(other, TranscodeSource)
        self.assertIs(first._restarts, again._restarts)
        self.assertIsNot(first._restarts, other._restarts)

    def test_encoders_are_checked_at_start_and_the_check_stopped_at_stop(
        self,
    ) -> None:
        self.assertEqual(self.reactor.spawned, [])  # nothing before start
        self.transcoder.startService()
        [test_encode] = self.reactor.spawned  # the vaapi profile's
        self.assertIn("h264_vaapi", test_encode.argv)
        self.assertEqual(self.transcoder.checks["small"].chosen, "libx264")
        d = self.transcoder.stopService()
        self.assertEqual(test_encode.signals, ["KILL"])
        self.assertNoResult(d)
        test_encode.end(by="KILL")
        self.successResultOf(d)


class VariantTests(SynchronousTestCase):
    """?profile=NAME: a hub of its own, keyed by channel and profile."""

    def setUp(self) -> None:
        self.clock = ProcessClock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryStore()
        self.successResultOf(self.store.start())
        self.successResultOf(
            self.store.put_channel(Channel(1, 1, "C1", sources=("fake://1",)))
        )
        self.successResultOf(
            self.store.put_user(
                User(0, "alice", hash_password("pw"), max_connections=5)
            )
        )
        self.sources: dict[object, FakeSource] = {}

        def plain(channel: Channel) -> FakeSource:
            self.sources[channel.id] = FakeSource(channel.sources[0])
            return self.sources[channel.id]

        def variant(channel: Channel, profile: str) -> FakeSource:
            key = (channel.id, profile)
            self.sources[key] = FakeSource(f"transcode:{channel.id}?profile={profile}")
            return self.sources[key]

        self.registry = ChannelRegistry(
            self.clock, plain, HubSettings(), linger=5, make_variant=variant
        )
        self.registry.startService()
        self.addCleanup(self.registry.stopService)
        tracker = ConnectionTracker(self.clock)
        portal = Portal(LineRealm(self.store), [StoreChecker(self.store, verify_now)])
        auth = LineAuthenticator(portal, tracker, self.clock)
        live = LiveStreams(
            auth, self.store, self.registry, tracker, profiles=("small",)
        )
        self.site = Site(
            XRelayRoot(live, AdminApi("", verify_now, dict)), reactor=self.clock
        )

    def request(self, path: str) -> StringTransport:
        peer = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = self.site.buildProtocol(peer)
        transport = StringTransport(peerAddress=peer)
        protocol.makeConnection(transport)
        transport.protocol = protocol  # type: ignore[attr-defined]
        protocol.dataReceived(f"GET {path} HTTP/1.1\r\nHost: tv\r\n\r\n".encode())
        return transport

    def status(self, transport: StringTransport) -> int:
        return int(transport.value().split(b" ", 2)[1])

    def test_a_profile_is_a_channel_of_its_own(self) -> None:
        variant = self.request("/live/alice/pw/1.ts?profile=small")
        self.assertEqual(self.status(variant), 200)
        self.assertEqual(list(self.registry.hubs), [(1, "small")])
        plain = self.request("/live/alice/pw/1.ts")
        self.assertEqual(self.status(plain), 200)
        self.assertEqual(set(self.registry.hubs), {1, (1, "small")})
        self.sources[(1, "small")].sink.write_packets(PKT * 2)  # type: ignore[union-attr]
        self.clock.advance(0.1)
        self.assertEqual(variant.value().count(PKT), 2)
        self.assertEqual(plain.value().count(PKT), 0)
        stats = self.registry.stats()
        self.assertEqual(
            [(s["channel"], s.get("variant")) for s in stats],
            [(1, "small"), (1, None)],
        )

    def test_the_variant_stops_after_its_linger_alone(self) -> None:
        variant = self.request("/live/alice/pw/1.ts?profile=small")
        self.request("/live/alice/pw/1.ts")
        variant.protocol.connectionLost(Failure(ConnectionError("gone")))  # type: ignore[attr-defined]
        self.clock.advance(5)
        self.assertEqual(list(self.registry.hubs), [1])
        self.assertTrue(self.sources[(1, "small")].stopped)
        self.assertFalse(self.sources[1].stopped)

    def test_unknown_profile_is_404_and_starts_nothing(self) -> None:
        for query in ("profile=big", "profile=%ff", "profile="):
            transport = self.request(f"/live/alice/pw/1.ts?{query}")
            self.assertEqual(self.status(transport), 404, query)
            self.assertTrue(transport.value().endswith(b"no such profile\n"))
        self.assertEqual(self.registry.hubs, {})

    def test_a_registry_without_variants_refuses_them(self) -> None:
        registry = ChannelRegistry(self.clock, FakeSource, HubSettings())
        channel = Channel(1, 1, "C1", sources=("fake://1",))
        with self.assertRaises(LookupError):
            registry.attach(
                channel, None, StringTransport(), False, "x", variant="small"
            )  # type: ignore[arg-type]
