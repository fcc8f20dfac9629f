"""The live URL over a real Site on a StringTransport (no sockets)."""

from __future__ import annotations

from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site

from xrelay.cred.checkers import LineRealm, StoreChecker
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.fanout import ChannelRegistry, HubSettings
from xrelay.models import Bouquet, Category, Channel, User
from xrelay.testing import FakeSource, MemoryStore
from xrelay.web import (
    AdminApi,
    LineAuthenticator,
    XRelayRoot,
    redacted_log_formatter,
)
from xrelay.web._live import LiveStreams

PKT = b"\x47" + b"\x11" * 187
HASH = hash_password("pw")


def verify_now(password: str, stored: str) -> Deferred[bool]:
    return succeed(verify_password(password, stored))


class LiveTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryStore()
        self.successResultOf(self.store.start())
        category = self.successResultOf(
            self.store.put_category(Category(0, "live", "News"))
        )
        for cid in (1, 2):
            self.successResultOf(
                self.store.put_channel(
                    Channel(
                        id=cid,
                        number=cid,
                        name=f"C{cid}",
                        category_id=category.id,
                        sources=(f"fake://{cid}",),
                    )
                )
            )
        self.add_user(User(0, "alice", HASH, max_connections=2))
        self.sources: dict[str, FakeSource] = {}

        def make_source(channel: Channel) -> FakeSource:
            url = channel.sources[0]
            self.sources[url] = FakeSource(url)
            return self.sources[url]

        self.registry = ChannelRegistry(
            self.clock, make_source, HubSettings(), linger=5
        )
        self.registry.startService()
        self.addCleanup(self.registry.stopService)
        self.site = self.make_site(ConnectionTracker(self.clock))

    def make_site(self, tracker: ConnectionTracker) -> Site:
        self.tracker = tracker
        portal = Portal(LineRealm(self.store), [StoreChecker(self.store, verify_now)])
        auth = LineAuthenticator(portal, tracker, self.clock)
        live = LiveStreams(auth, self.store, self.registry, tracker)
        admin = AdminApi("", verify_now, dict)
        return Site(
            XRelayRoot(live, admin),
            logFormatter=redacted_log_formatter,
            reactor=self.clock,
        )

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
        transport = StringTransport(peerAddress=peer)
        protocol.makeConnection(transport)
        transport.protocol = protocol  # type: ignore[attr-defined]
        head = f"{method} {path} HTTP/1.1\r\nHost: tv\r\nUser-Agent: {agent}\r\n"
        protocol.dataReceived(head.encode() + b"\r\n")
        return transport

    def active(self, username: str) -> int:
        return self.successResultOf(self.tracker.active(username))

    def status(self, transport: StringTransport) -> int:
        return int(transport.value().split(b" ", 2)[1])

    def test_viewer_gets_headers_then_the_channel(self) -> None:
        transport = self.request("/live/alice/pw/1.ts")
        self.assertEqual(self.status(transport), 200)
        self.assertIn(b"Content-Type: video/mp2t", transport.value())
        self.sources["fake://1"].sink.write_packets(PKT * 3)
        self.clock.advance(0.1)  # the hub's flush interval
        self.assertEqual(transport.value().count(PKT), 3)

    def test_extensionless_and_legacy_forms(self) -> None:
        self.assertEqual(self.status(self.request("/live/alice/pw/1")), 200)
        self.assertEqual(self.status(self.request("/alice/pw/2")), 200)

    def test_wrong_password_and_unknown_user_look_the_same(self) -> None:
        wrong = self.request("/live/alice/nope/1.ts").value()
        unknown = self.request("/live/mallory/pw/1.ts").value()
        self.assertIn(b" 401 ", wrong.split(b"\r\n")[0] + b" ")
        self.assertEqual(wrong.split(b"\r\n\r\n")[1], unknown.split(b"\r\n\r\n")[1])
        self.assertTrue(wrong.endswith(b"\r\n\r\ninvalid credentials\n"))
        self.assertEqual(self.sources, {}, "no source may start for a refused login")

    def test_disabled_expired_and_format_refusals(self) -> None:
        self.add_user(User(0, "off", HASH, enabled=False))
        self.add_user(User(0, "old", HASH, expires_at=1_600_000_000))
        self.add_user(User(0, "hls", HASH, allowed_output_formats=("m3u8",)))
        for name, reason in (
            ("off", b"disabled"),
            ("old", b"expired"),
            ("hls", b"format"),
        ):
            transport = self.request(f"/live/{name}/pw/1.ts")
            self.assertEqual(self.status(transport), 403, name)
            self.assertIn(reason, transport.value())

    def test_connection_limit_and_release_on_disconnect(self) -> None:
        first = self.request("/live/alice/pw/1.ts", agent="TV")
        self.request("/live/alice/pw/2.ts", agent="Phone")
        third = self.request("/live/alice/pw/1.ts", agent="Laptop")
        self.assertEqual(self.status(third), 403)
        self.assertIn(b"max connections reached", third.value())
        self.assertFalse(third.value().split(b"\r\n\r\n", 1)[1].startswith(b"\x47"))
        first.protocol.connectionLost(Failure(ConnectionError("gone")))
        self.assertEqual(self.active("alice"), 1)
        # the TV's slot is kept for it through the zap grace, then freed
        self.assertEqual(
            self.status(self.request("/live/alice/pw/1.ts", "GET", "Laptop")), 403
        )
        self.clock.advance(3)
        self.assertEqual(
            self.status(self.request("/live/alice/pw/1.ts", "GET", "Laptop")), 200
        )

    def test_zapping_never_counts_twice(self) -> None:
        self.add_user(User(0, "solo", HASH, max_connections=1))
        first = self.request("/live/solo/pw/1.ts")
        # the player opens the next channel before closing the first
        second = self.request("/live/solo/pw/2.ts")
        self.assertEqual(self.status(second), 200)
        self.assertTrue(first.disconnecting or first.disconnected, "old one kicked")
        second.protocol.connectionLost(Failure(ConnectionError("zap")))
        self.clock.advance(1)
        # another device may not take the slot during the zap grace ...
        other = self.request("/live/solo/pw/1.ts", agent="Other")
        self.assertEqual(self.status(other), 403)
        # ... the zapping player may
        self.assertEqual(self.status(self.request("/live/solo/pw/1.ts")), 200)
        self.assertEqual(self.active("solo"), 1)

    def test_replace_oldest_disconnects_the_oldest_stream(self) -> None:
        self.site = self.make_site(ConnectionTracker(self.clock, "replace-oldest"))
        oldest = self.request("/live/alice/pw/1.ts", agent="TV")
        self.clock.advance(1)
        newer = self.request("/live/alice/pw/2.ts", agent="Phone")
        newest = self.request("/live/alice/pw/1.ts", agent="Laptop")
        self.assertEqual(self.status(newest), 200)
        self.assertTrue(oldest.disconnecting or oldest.disconnected)
        self.assertFalse(newer.disconnecting or newer.disconnected)
        self.assertEqual(self.active("alice"), 2)

    def test_failed_logins_are_throttled_before_the_hash(self) -> None:
        verified: list[str] = []

        def counting_verify(password: str, stored: str) -> Deferred[bool]:
            verified.append(password)
            return verify_now(password, stored)

        portal = Portal(
            LineRealm(self.store), [StoreChecker(self.store, counting_verify)]
        )
        auth = LineAuthenticator(portal, self.tracker, self.clock)
        live = LiveStreams(auth, self.store, self.registry, self.tracker)
        self.site = Site(
            XRelayRoot(live, AdminApi("", verify_now, dict)), reactor=self.clock
        )
        codes = [
            self.status(self.request(f"/live/alice/guess{i}/1.ts", address="10.0.0.2"))
            for i in range(50)
        ]
        self.assertEqual(codes[:5], [401] * 5)
        self.assertEqual(set(codes[5:]), {429})
        self.assertEqual(len(verified), 5, "no hash runs while throttled")
        # the owner, from an address with no failures, is not held back
        owner = self.request("/live/alice/pw/1.ts", address="10.0.0.3")
        self.assertEqual(self.status(owner), 200)

    def test_bouquets_limit_what_a_line_can_open(self) -> None:
        self.successResultOf(
            self.store.put_bouquet(Bouquet(0, "One", channel_ids=(1,)))
        )
        [bouquet] = self.successResultOf(self.store.list_bouquets())
        self.add_user(User(0, "bob", HASH, bouquet_ids=(bouquet.id,)))
        self.assertEqual(self.status(self.request("/live/bob/pw/1.ts")), 200)
        self.assertEqual(self.status(self.request("/live/bob/pw/2.ts")), 404)

    def test_unknown_channel_and_bad_paths(self) -> None:
        self.assertEqual(self.status(self.request("/live/alice/pw/99.ts")), 404)
        self.assertEqual(self.status(self.request("/live/alice/pw/x.ts")), 404)
        self.assertEqual(self.status(self.request("/live/alice/pw/1.m3u8")), 404)
        self.assertEqual(self.status(self.request("/nothing/here")), 404)
        self.assertEqual(self.status(self.request("/live/alice/pw/1.ts", "POST")), 405)

    def test_head_answers_headers_without_holding_a_slot(self) -> None:
        transport = self.request("/live/alice/pw/1.ts", "HEAD")
        self.assertEqual(self.status(transport), 200)
        self.assertIn(b"video/mp2t", transport.value())
        self.assertEqual(self.active("alice"), 0)
        self.assertEqual(self.sources, {})

    def test_a_paused_viewer_never_holds_back_another(self) -> None:
        slow = self.request("/live/alice/pw/1.ts")
        fast = self.request("/live/alice/pw/1.ts")
        slow.producer.pauseProducing()  # the slow client's kernel buffer is full
        slow.clear()
        sink = self.sources["fake://1"].sink
        for i in range(10_000):  # ~13 MB in 10 s (of a fake clock)
            sink.write_packets(PKT * 7)
            if i % 100 == 0:
                self.clock.advance(0.1)
        self.clock.advance(0.1)
        self.assertEqual(fast.value().count(PKT), 70_000)
        self.assertEqual(slow.value(), b"")
        [hub] = self.registry.hubs.values()
        slow_viewer = next(v for v in hub.viewers if v.paused)
        self.assertGreater(slow_viewer.dropped_packets, 50_000)
        self.assertLessEqual(slow_viewer.queued_bytes, slow_viewer.queue_limit)
        self.assertEqual(slow_viewer.skips, 1, "it waits for a keyframe to rejoin")

    def test_stalled_viewer_is_disconnected(self) -> None:
        slow = self.request("/live/alice/pw/1.ts")
        slow.producer.pauseProducing()
        for _ in range(20):
            self.sources["fake://1"].sink.write_packets(PKT)
            self.clock.advance(1)
        self.assertTrue(slow.disconnecting or slow.disconnected)
