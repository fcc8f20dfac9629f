"""The catch-up URLs over a real Site on a StringTransport: parsing, rights,
connection slots, backpressure, and the bytes by PTS."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site

from tests.archive._stream import FPS, Stream, video_pts_at, wall_of
from xrelay.archive import Archive, ArchiveSettings, InlineDisk
from xrelay.cred.checkers import LineRealm, StoreChecker
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.fanout import ChannelRegistry, HubSettings
from xrelay.models import Bouquet, Channel, User
from xrelay.mpegts import PACKET_SIZE, pid
from xrelay.testing import FakeSource, MemoryStore, PacketRecorder
from xrelay.web import (
    AdminApi,
    LineAuthenticator,
    LiveStreams,
    Timeshift,
    XRelayRoot,
    redact_uri,
)
from xrelay.web._timeshift import BadTimeshift, parse_request, parse_start

HASH = hash_password("pw")
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def verify_now(password: str, stored: str) -> Deferred[bool]:
    return succeed(verify_password(password, stored))


def minute_form(epoch: float, separator: str = "-") -> str:
    return time.strftime(f"%Y-%m-%d:%H{separator}%M", time.gmtime(epoch))


class HeldReads(InlineDisk):
    """Reads wait until the test lets them through (``release``)."""

    def __init__(self) -> None:
        self.held: list[tuple[Deferred[Any], Callable[[], Any]]] = []

    def read(self, f: Any, /, *args: Any, **kwargs: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.held.append((d, lambda: f(*args, **kwargs)))
        return d

    def release(self) -> None:
        held, self.held = self.held, []
        for d, call in held:
            maybeDeferred(call).chainDeferred(d)


class ParsingTests(SynchronousTestCase):
    def test_start_forms(self) -> None:
        self.assertEqual(parse_start("2023-11-14:22-13"), 1_699_999_980)
        self.assertEqual(parse_start("2023-11-14:22:13"), 1_699_999_980)
        self.assertEqual(parse_start("1699999999"), 1_699_999_999)

    def test_bad_starts_say_what_is_expected(self) -> None:
        for text in ("2023-11-14 22:13", "yesterday", "2023-11-14:22-13-00", "-5", ""):
            with self.assertRaises(BadTimeshift) as caught:
                parse_start(text)
            self.assertEqual(caught.exception.status, 400)
            self.assertTrue(caught.exception.reason.startswith("start: expected"))
        with self.assertRaises(BadTimeshift) as caught:
            parse_start("2023-02-30:10-00")
        self.assertEqual(
            caught.exception.reason, "start: day is out of range for month"
        )

    def test_duration_and_stream(self) -> None:
        wanted = parse_request("90", "1699999999", "7.ts")
        self.assertEqual(
            (wanted.channel_id, wanted.start, wanted.end),
            (7, 1_699_999_999, 1_699_999_999 + 5400),
        )
        self.assertEqual(parse_request("1", "0", "7").channel_id, 7)
        for minutes in ("0", "1441", "abc", "", "99999999999999"):
            with self.assertRaises(BadTimeshift) as caught:
                parse_request(minutes, "0", "7.ts")
            self.assertEqual(caught.exception.status, 400, minutes)
            self.assertTrue(caught.exception.reason.startswith("duration:"))
        for stream, reason in (
            ("x.ts", "no such stream"),
            ("../../etc/passwd", "no such stream"),
            ("7.mp4", "no such stream"),
            ("7.m3u8", "catch-up is available as .ts only"),
        ):
            with self.assertRaises(BadTimeshift) as caught:
                parse_request("60", "0", stream)
            self.assertEqual(
                (caught.exception.status, caught.exception.reason), (404, reason)
            )

    def test_long_input_is_not_echoed_whole(self) -> None:
        with self.assertRaises(BadTimeshift) as caught:
            parse_start("x" * 500)
        self.assertLess(len(caught.exception.reason), 120)


class TimeshiftWebTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.store = MemoryStore()
        self.successResultOf(self.store.start())
        for cid, days in ((1, 1), (2, 1), (3, 0)):
            self.successResultOf(
                self.store.put_channel(
                    Channel(
                        cid,
                        cid,
                        f"C{cid}",
                        sources=(f"fake://{cid}",),
                        archive_days=days,
                    )
                )
            )
        self.successResultOf(
            self.store.put_bouquet(Bouquet(1, "Two", channel_ids=(2,)))
        )
        self.successResultOf(
            self.store.put_user(User(0, "alice", HASH, max_connections=1))
        )
        self.successResultOf(
            self.store.put_user(User(0, "bob", HASH, bouquet_ids=(1,)))
        )
        self.disk = HeldReads()
        self.archive = Archive(
            self.store,
            self.clock,
            self.disk,
            ArchiveSettings(str(Path(self.mktemp())), 60),
        )
        self.archive.startService()
        self.clock.advance(0)
        self.disk.release()  # loading the (empty) archive
        self.addCleanup(self.archive.stopService)
        self.record(240)
        self.tracker = ConnectionTracker(self.clock)
        portal = Portal(LineRealm(self.store), [StoreChecker(self.store, verify_now)])
        auth = LineAuthenticator(portal, self.tracker, self.clock)
        registry = ChannelRegistry(
            self.clock, lambda c: FakeSource(c.sources[0]), HubSettings()
        )
        live = LiveStreams(auth, self.store, registry, self.tracker)
        timeshift = Timeshift(auth, self.store, self.archive, self.tracker)
        self.site = Site(
            XRelayRoot(live, AdminApi("", verify_now, dict), timeshift=timeshift),
            reactor=self.clock,
        )

    def record(self, seconds: int) -> None:
        """Channels 1 and 2 are recorded from T0, a write every 0.2 s."""
        self.sources = {}
        for cid in (1, 2):
            fake = FakeSource(f"fake://{cid}")
            self.archive.tap(cid, fake).start(PacketRecorder())
            self.sources[cid] = fake
        self.streams = {1: Stream(), 2: Stream()}
        for _ in range(seconds * FPS // 5):
            for cid, fake in self.sources.items():
                assert fake.sink is not None
                fake.sink.write_packets(self.streams[cid].frames(5))
            self.clock.advance(0.2)
        self.clock.advance(1.0)

    def request(
        self, path: str, method: str = "GET", agent: str = "VLC"
    ) -> StringTransport:
        peer = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = self.site.buildProtocol(peer)
        transport = StringTransport(peerAddress=peer)
        protocol.makeConnection(transport)
        transport.protocol = protocol  # type: ignore[attr-defined]
        head = f"{method} {path} HTTP/1.1\r\nHost: tv\r\nUser-Agent: {agent}\r\n"
        protocol.dataReceived(head.encode() + b"\r\n")
        self.disk.release()  # the seek point
        return transport

    def answer(self, transport: StringTransport) -> tuple[int, bytes, bytes]:
        """Status, headers and (de-chunked) body so far."""
        head, _, body = transport.value().partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if b"Transfer-Encoding: chunked" in head:
            body = dechunk(body)
        return status, head, body

    def play(self, path: str) -> tuple[int, bytes, bytes]:
        transport = self.request(path)
        while self.disk.held:
            self.disk.release()
        return self.answer(transport)

    def walls(self, body: bytes) -> list[float]:
        found = []
        for off in range(0, len(body), PACKET_SIZE):
            pts = video_pts_at(body, off)
            if pts is not None:
                found.append(wall_of(pts, T0))
        return found

    def test_a_minute_recorded_two_minutes_ago_starts_at_its_second(self) -> None:
        minute = (self.clock.seconds() - 120) // 60 * 60
        status, head, body = self.play(
            f"/timeshift/alice/pw/1/{minute_form(minute)}/1.ts"
        )
        self.assertEqual(status, 200)
        self.assertIn(b"Content-Type: video/mp2t", head)
        self.assertEqual(pid(body, 0), 0, "PAT/PMT first")
        walls = self.walls(body)
        self.assertTrue(minute - 2 < walls[0] <= minute, walls[0] - minute)
        self.assertTrue(minute + 58 <= walls[-1] < minute + 60, walls[-1] - minute)
        self.assertTrue(body.endswith(b"") and len(body) % PACKET_SIZE == 0)
        self.assertEqual(self.tracker.slots()[0].kind, "timeshift")
        self.assertEqual(
            self.successResultOf(self.tracker.active("alice")), 0, "released"
        )

    def test_every_start_form_and_the_php_url(self) -> None:
        start = T0 + 100.5
        minute = start // 60 * 60
        status, _, body = self.play(f"/timeshift/alice/pw/1/{int(minute)}/1.ts")
        expected = self.walls(body)
        self.assertEqual(expected[0], minute)
        for path in (
            f"/timeshift/alice/pw/1/{minute_form(minute)}/1.ts",
            f"/timeshift/alice/pw/1/{minute_form(minute, ':')}/1",
            f"/streaming/timeshift.php?username=alice&password=pw&stream=1&start={minute_form(minute)}&duration=1",
            f"/streaming/timeshift.php?username=alice&password=pw&stream=1.ts&start={int(minute)}&duration=1",
        ):
            status, _, body = self.play(path)
            self.assertEqual((status, self.walls(body)), (200, expected), path)
        self.clock.advance(5)  # the zap grace of each slot
        _, _, body = self.play(f"/timeshift/alice/pw/1/{int(start)}/1.ts")
        self.assertEqual(self.walls(body)[0], T0 + 100)

    def test_refusals(self) -> None:
        recorded = int(T0 + 60)
        cases = [
            (f"/timeshift/alice/pw/1/{int(T0) - 600}/1.ts", 404, b"not recorded"),
            (f"/timeshift/alice/pw/1/{int(T0) + 3600}/1.ts", 404, b"not recorded"),
            (f"/timeshift/alice/pw/1/{recorded}/3.ts", 404, b"not recorded"),
            (f"/timeshift/alice/pw/1/{recorded}/99.ts", 404, b"no such channel"),
            (f"/timeshift/bob/pw/1/{recorded}/1.ts", 404, b"no such channel"),
            (f"/timeshift/alice/nope/1/{recorded}/1.ts", 401, b"invalid credentials"),
            ("/timeshift/alice/pw/1/soon/1.ts", 400, b"start: expected"),
            (f"/timeshift/alice/pw/0/{recorded}/1.ts", 400, b"duration: expected"),
            (
                f"/timeshift/alice/pw/1/{recorded}/..%2F..%2Fetc%2Fpasswd",
                404,
                b"no such stream",
            ),
            (f"/timeshift/alice/pw/1/{recorded}/../../1.ts", 404, b"not found"),
            (
                "/streaming/timeshift.php?username=alice&password=pw&stream=1",
                400,
                b"duration",
            ),
        ]
        for path, code, reason in cases:
            status, _, body = self.play(path)
            self.assertEqual((status, reason in body), (code, True), (path, body))
        status, _, body = self.play(f"/timeshift/bob/pw/1/{recorded}/2.ts")
        self.assertEqual(status, 200)

    def test_head_answers_without_a_body_or_a_slot(self) -> None:
        transport = self.request(f"/timeshift/alice/pw/1/{int(T0 + 60)}/1.ts", "HEAD")
        status, head, body = self.answer(transport)
        self.assertEqual((status, body), (200, b""))
        self.assertIn(b"video/mp2t", head)
        self.assertEqual(self.tracker.slots(), [])

    def test_one_read_at_a_time_and_none_while_paused(self) -> None:
        transport = self.request(f"/timeshift/alice/pw/5/{int(T0 + 10)}/1.ts")
        self.disk.release()  # the segment's PAT/PMT, sent first
        self.assertEqual(len(self.disk.held), 1)  # the next read, and only it
        transport.producer.pauseProducing()  # the client's socket is full
        self.disk.release()
        self.assertEqual(self.disk.held, [], "nothing read while paused")
        sent = len(transport.value())
        transport.producer.resumeProducing()
        self.assertEqual(len(self.disk.held), 1)
        self.disk.release()
        self.assertGreater(len(transport.value()), sent)

    def test_a_second_player_is_refused_and_leaving_frees_the_slot(self) -> None:
        now = self.clock.seconds()
        first = self.request(f"/timeshift/alice/pw/5/{int(now - 30)}/1.ts", agent="TV")
        while self.disk.held:  # up to the edge of the recording: waiting for more
            self.disk.release()
        self.assertEqual(self.successResultOf(self.tracker.active("alice")), 1)
        second = self.request(
            f"/timeshift/alice/pw/5/{int(now - 30)}/1.ts", agent="Phone"
        )
        self.assertEqual(self.answer(second)[:1], (403,))
        self.assertIn(b"max connections reached", second.value())
        first.protocol.connectionLost(Failure(ConnectionError("gone")))  # type: ignore[attr-defined]
        self.assertEqual(self.successResultOf(self.tracker.active("alice")), 0)
        self.clock.advance(60)  # nothing is left waiting on the clock

    def test_credentials_are_redacted_from_the_access_log(self) -> None:
        self.assertEqual(
            redact_uri(b"/timeshift/alice/s3cret/60/2023-11-14:22-13/1.ts"),
            b"/timeshift/alice/***/60/2023-11-14:22-13/1.ts",
        )
        self.assertNotIn(
            b"s3cret",
            redact_uri(b"/streaming/timeshift.php?username=a&password=s3cret&stream=1"),
        )


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out
