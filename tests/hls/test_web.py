"""The HLS URLs over a real Site on StringTransports (no sockets), with the
whole player path: login, rights, connection limits, sessions, segments."""

from __future__ import annotations

from typing import Any

from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site

from xrelay.cred.checkers import LineRealm, StoreChecker
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.demo import demo_media_path
from xrelay.fanout import ChannelRegistry, HubSettings
from xrelay.hls import HlsEndpoints, HlsSessions, HlsSettings
from xrelay.hls._web import _SegmentBody
from xrelay.ingest._file import FileLoopSource
from xrelay.interfaces import IChannelSource
from xrelay.models import Channel, User
from xrelay.mpegts import PACKET_SIZE
from xrelay.testing import FakeSource, MemoryStore
from xrelay.web import AdminApi, LineAuthenticator, XRelayRoot, redact_uri
from xrelay.web._live import LiveStreams

from ._m3u8 import parse

HASH = hash_password("pw")


def verify_now(password: str, stored: str) -> Deferred[bool]:
    return succeed(verify_password(password, stored))


class Response:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ", 2)[1])
        self.headers = {
            name.lower(): value
            for name, _, value in (line.partition(": ") for line in lines[1:])
        }


class HlsWebTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryStore()
        self.successResultOf(self.store.start())
        self.successResultOf(
            self.store.put_channel(Channel(1, 1, "Demo", sources=("file://demo",)))
        )
        self.successResultOf(
            self.store.put_channel(Channel(2, 2, "Silent", sources=("fake://2",)))
        )
        self.add_user(User(0, "alice", HASH, max_connections=2))

        def make_source(channel: Channel) -> IChannelSource:
            if channel.id == 2:
                return FakeSource(channel.sources[0])
            path = str(demo_media_path())
            return FileLoopSource(path, self.clock, tick=0.1, lead=0.0)

        self.registry = ChannelRegistry(
            self.clock, make_source, HubSettings(), linger=5
        )
        self.registry.startService()
        self.addCleanup(self.registry.stopService)
        self.tracker = ConnectionTracker(self.clock)
        self.sessions = HlsSessions(
            self.registry, self.tracker, self.clock, HlsSettings(window=3)
        )
        self.sessions.startService()
        self.addCleanup(self.sessions.stopService)
        portal = Portal(LineRealm(self.store), [StoreChecker(self.store, verify_now)])
        auth = LineAuthenticator(portal, self.tracker, self.clock)
        hls = HlsEndpoints(self.sessions, self.clock)
        live = LiveStreams(auth, self.store, self.registry, self.tracker, hls=hls)
        root = XRelayRoot(live, AdminApi("", verify_now, dict), hls=hls)
        self.site = Site(root, reactor=self.clock)

    def add_user(self, user: User) -> None:
        self.successResultOf(self.store.put_user(user))

    def request(
        self,
        path: str,
        method: str = "GET",
        agent: str = "VLC",
        address: str = "127.0.0.1",
    ) -> StringTransport:
        peer = IPv4Address("TCP", address, 40000)
        protocol = self.site.buildProtocol(peer)
        assert protocol is not None
        transport = StringTransport(peerAddress=peer)
        protocol.makeConnection(transport)
        transport.protocol = protocol  # type: ignore[attr-defined]
        self.addCleanup(protocol.connectionLost, Failure(ConnectionError("done")))
        head = f"{method} {path} HTTP/1.1\r\nHost: tv\r\nUser-Agent: {agent}\r\n"
        protocol.dataReceived(head.encode() + b"\r\n")
        return transport

    def get(self, path: str, **kwargs: str) -> Response:
        return Response(self.request(path, **kwargs).value())

    def run_for(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.1)):
            self.clock.advance(0.1)

    def session_url(self, channel: int = 1, **kwargs: str) -> str:
        response = self.get(f"/live/alice/pw/{channel}.m3u8", **kwargs)
        self.assertEqual(response.status, 302, response.body)
        return response.headers["location"]

    def test_the_channel_url_redirects_to_a_session_playlist(self) -> None:
        response = self.get("/live/alice/pw/1.m3u8")
        self.assertEqual(response.status, 302)
        location = response.headers["location"]
        self.assertRegex(location, r"^/hls/[A-Za-z0-9_-]{22}/index\.m3u8$")
        self.assertNotIn("pw", location)
        self.assertEqual(response.headers["cache-control"], "no-store")
        self.assertEqual(self.tracker.open_count("alice"), 1)
        self.assertEqual(self.session_url(), location, "a reload continues it")
        self.assertEqual(self.tracker.open_count("alice"), 1)
        self.assertNotEqual(self.session_url(agent="Phone"), location)

    def test_head_opens_no_session(self) -> None:
        response = self.get("/live/alice/pw/1.m3u8", method="HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(
            response.headers["content-type"], "application/vnd.apple.mpegurl"
        )
        self.assertEqual(self.tracker.open_count("alice"), 0)
        self.assertEqual(self.registry.hubs, {})

    def test_playlist_waits_for_the_first_segment_then_segments_play(self) -> None:
        url = self.session_url()
        waiting = self.request(url)
        self.assertEqual(waiting.value(), b"")
        self.run_for(5.5)
        response = Response(waiting.value())
        self.assertEqual(response.status, 200)
        self.assertEqual(
            response.headers["content-type"], "application/vnd.apple.mpegurl"
        )
        self.assertEqual(response.headers["cache-control"], "no-cache")
        self.assertEqual(response.headers["access-control-allow-origin"], "*")
        playlist = parse(response.body.decode())
        self.assertEqual([s.uri for s in playlist.segments], ["0.ts"])
        self.assertEqual(playlist.segments[0].duration, 4.0)

        segment = self.get(url.replace("index.m3u8", "0.ts"))
        self.assertEqual(segment.status, 200)
        self.assertEqual(segment.headers["content-type"], "video/mp2t")
        self.assertEqual(segment.headers["cache-control"], "private, max-age=24")
        self.assertEqual(int(segment.headers["content-length"]), len(segment.body))
        self.assertEqual(len(segment.body) % PACKET_SIZE, 0)
        self.assertEqual(
            segment.body[::PACKET_SIZE], b"\x47" * (len(segment.body) // PACKET_SIZE)
        )
        head = self.get(url.replace("index.m3u8", "0.ts"), method="HEAD")
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(
            head.headers["content-length"], segment.headers["content-length"]
        )

        self.run_for(8)
        later = parse(self.get(url).body.decode())
        self.assertEqual([s.uri for s in later.segments], ["0.ts", "1.ts", "2.ts"])

    def test_a_channel_without_picture_answers_503_after_the_start_timeout(
        self,
    ) -> None:
        waiting = self.request(self.session_url(channel=2))
        self.clock.advance(19)
        self.assertEqual(waiting.value(), b"")
        self.clock.advance(2)
        self.assertEqual(Response(waiting.value()).status, 503)

    def test_a_player_leaving_while_it_waits(self) -> None:
        waiting = self.request(self.session_url(channel=2))
        protocol = waiting.protocol  # type: ignore[attr-defined]
        with capturedLogs() as events:
            protocol.connectionLost(Failure(ConnectionError("gone")))
            self.clock.advance(30)
        self.assertEqual(waiting.value(), b"")
        self.assertEqual([e for e in events if e["log_level"] != LogLevel.info], [])

    def test_what_a_token_does_not_open(self) -> None:
        url = self.session_url()
        token = url.split("/")[2]
        self.run_for(5.5)
        for path, address in (
            ("/hls/not-a-token/index.m3u8", "127.0.0.1"),
            (url, "10.1.1.1"),  # another address
            (f"/hls/{token}/999.ts", "127.0.0.1"),
            (f"/hls/{token}/0.mp4", "127.0.0.1"),
            (f"/hls/{token}/../../etc/passwd", "127.0.0.1"),
            (f"/hls/{token}", "127.0.0.1"),
        ):
            self.assertEqual(self.get(path, address=address).status, 404, path)
        self.assertEqual(self.get(url, method="POST").status, 405)

    def test_rights_and_limits_are_checked_before_a_session(self) -> None:
        self.add_user(User(0, "tsonly", HASH, allowed_output_formats=("ts",)))
        refused = self.get("/live/tsonly/pw/1.m3u8")
        self.assertEqual(refused.status, 403)
        self.assertIn(b"format", refused.body)
        self.assertEqual(self.get("/live/alice/nope/1.m3u8").status, 401)
        self.assertEqual(self.get("/live/alice/pw/9.m3u8").status, 404)
        self.assertEqual(self.tracker.open_count("alice"), 0)

    def test_a_session_is_one_connection_until_it_goes_idle(self) -> None:
        url = self.session_url(agent="TV")
        self.request("/live/alice/pw/2.ts", agent="Phone")
        self.assertEqual(self.tracker.open_count("alice"), 2)
        full = self.get("/live/alice/pw/1.m3u8", agent="Laptop")
        self.assertEqual((full.status, full.body), (403, b"max connections reached\n"))
        for _ in range(4):  # the TV keeps polling: its session stays
            self.run_for(10)
            self.assertEqual(self.get(url).status, 200)
        self.run_for(31)  # the TV stopped
        self.assertEqual(self.get(url).status, 404)
        self.run_for(3)  # the zap grace of its slot
        self.assertEqual(self.get("/live/alice/pw/1.m3u8", agent="Laptop").status, 302)

    def test_tokens_are_masked_in_the_access_log(self) -> None:
        self.assertEqual(
            redact_uri(b"/hls/abcdefghijklmnopqrstuv/index.m3u8"),
            b"/hls/***/index.m3u8",
        )
        self.assertEqual(redact_uri(b"/hls/abcdef/12.ts"), b"/hls/***/12.ts")


class _Consumer:
    """A request whose socket fills up after every write while ``full``."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.producer: Any = None
        self.finished = False
        self.full = False

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        assert streaming
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def write(self, data: bytes) -> None:
        self.written.append(data)
        if self.full:
            self.producer.pauseProducing()

    def finish(self) -> None:
        self.finished = True


class SegmentBodyTests(SynchronousTestCase):
    DATA = bytes(range(256)) * 2000  # 512,000 bytes: 4 chunks

    def test_a_chunk_per_drained_socket(self) -> None:
        consumer = _Consumer()
        consumer.full = True
        body = _SegmentBody(consumer, self.DATA)  # type: ignore[arg-type]
        body.start()
        self.assertEqual([len(c) for c in consumer.written], [128 * 1024])
        body.resumeProducing()  # the socket drained
        self.assertEqual(len(consumer.written), 2)
        consumer.full = False
        body.resumeProducing()
        self.assertEqual(b"".join(consumer.written), self.DATA)
        self.assertTrue(consumer.finished)
        self.assertIsNone(consumer.producer)

    def test_a_player_that_leaves_stops_it(self) -> None:
        consumer = _Consumer()
        consumer.full = True
        body = _SegmentBody(consumer, self.DATA)  # type: ignore[arg-type]
        body.start()
        body.stopProducing()
        body.resumeProducing()
        self.assertEqual(len(consumer.written), 1)
        self.assertFalse(consumer.finished)
