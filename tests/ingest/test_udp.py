"""The udp:// and rtp:// sources: URLs, RTP, and real sockets.

Unicast runs on 127.0.0.1; multicast runs in a network namespace each test
makes (see ``_netns``), so it needs root and ``ip netns``.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs
from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import MulticastJoinError
from twisted.internet.task import deferLater
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.ingest._netns import DATAGRAM, NetNamespace
from xrelay.demo import demo_media_path
from xrelay.ingest import UnsupportedSource, make_source
from xrelay.ingest._udp import UdpSource, parse_udp_url, rtp_payload
from xrelay.mpegts import PACKET_SIZE, SYNC
from xrelay.testing import PacketRecorder

TS = demo_media_path().read_bytes()


def datagrams(data: bytes) -> list[bytes]:
    return [data[i : i + DATAGRAM] for i in range(0, len(data), DATAGRAM)]


def rtp(payload: bytes, seq: int, first_byte: int = 0x80, extra: bytes = b"") -> bytes:
    """An RTP packet: ``extra`` is whatever ``first_byte`` announces (CSRCs,
    extension) and goes between the fixed header and the payload."""
    header = bytes([first_byte, 33]) + seq.to_bytes(2, "big") + bytes(8)
    return header + extra + payload


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class UrlTests(SynchronousTestCase):
    def test_forms(self) -> None:
        cases = {
            "udp://@239.1.1.1:5000": ("239.1.1.1", "239.1.1.1", None, ""),
            "udp://10.0.0.9@232.1.1.1:5000?iface=192.168.1.2": (
                "232.1.1.1",
                "232.1.1.1",
                "10.0.0.9",
                "192.168.1.2",
            ),
            "udp://@127.0.0.1:5000": ("127.0.0.1", None, None, ""),
            "udp://127.0.0.1:5000": ("127.0.0.1", None, None, ""),
            "udp://@:5000": ("0.0.0.0", None, None, ""),
            "udp://@[::1]:5000/": ("::1", None, None, ""),
        }
        for url, expected in cases.items():
            a = parse_udp_url(url)
            self.assertEqual((a.bind, a.group, a.source, a.iface), expected, url)
            self.assertEqual((a.port, a.rtp), (5000, False))
        self.assertTrue(parse_udp_url("rtp://@239.1.1.1:5000").rtp)
        self.assertIsInstance(make_source("rtp://@:5000", reactor), UdpSource)

    def test_bad_urls_say_what_is_wrong(self) -> None:
        cases = {
            "udp://@239.1.1.1": "no port",
            "udp://@239.1.1.1:0": "no port",
            "udp://@239.1.1.1:x": "bad port",
            "udp://@239.1.1.1:99999": "bad port",
            "udp://:5000": "no address",
            "udp://@bad.host:5000": "bad address",
            "udp://@300.1.1.1:5000": "bad address",
            "udp://10.0.0.1@10.0.0.2:5000": "not a multicast group",
            "udp://10.0.0.1@:5000": "needs a multicast group",
            "udp://nonsense@239.1.1.1:5000": "bad source address",
            "udp://239.1.1.2@239.1.1.1:5000": "bad source address",
            "udp://@[ff15::1]:5000": "IPv6 multicast",
            "udp://@239.1.1.1:5000?iface=eth0": "not an IPv4 address",
            "udp://@239.1.1.1:5000?ttl=3": "unknown option",
            "udp://@127.0.0.1:5000?iface=127.0.0.1": "multicast only",
            "udp://@239.1.1.1:5000/path": "unexpected path",
        }
        for url, problem in cases.items():
            with self.assertRaises(UnsupportedSource, msg=url) as caught:
                make_source(url, reactor)
            self.assertIn(url, str(caught.exception))
            self.assertIn(problem, str(caught.exception))

    def test_a_password_is_refused_and_not_repeated(self) -> None:
        with self.assertRaises(UnsupportedSource) as caught:
            parse_udp_url("udp://user:s3cret@239.1.1.1:5000")
        self.assertNotIn("s3cret", str(caught.exception))
        self.assertIn("239.1.1.1:5000", str(caught.exception))


class RtpTests(SynchronousTestCase):
    def test_headers(self) -> None:
        payload = TS[:DATAGRAM]
        csrcs = bytes(range(8))
        extension = b"\xbe\xde\x00\x02" + bytes(8)
        self.assertEqual(rtp_payload(rtp(payload, 1)), payload)
        self.assertEqual(rtp_payload(rtp(payload, 2, 0x82, csrcs)), payload)
        self.assertEqual(rtp_payload(rtp(payload, 3, 0x90, extension)), payload)
        self.assertEqual(
            rtp_payload(rtp(payload, 4, 0xB2, csrcs + extension) + b"\0\0\0\x04"),
            payload,
        )

    def test_not_rtp(self) -> None:
        self.assertIsNone(rtp_payload(TS[:DATAGRAM]))  # version 1: 0x47 >> 6
        self.assertIsNone(rtp_payload(b""))
        self.assertIsNone(rtp_payload(b"\x80" * 11))
        self.assertIsNone(rtp_payload(bytes([0x8F]) + bytes(20)))  # CSRCs cut off
        self.assertIsNone(rtp_payload(bytes([0x90]) + bytes(13)))  # extension cut
        self.assertIsNone(rtp_payload(bytes([0xA0]) + bytes(10) + b"\xff"))

    def test_never_raises(self) -> None:
        for first in range(256):
            for length in range(40):
                rtp_payload(bytes([first]) + bytes([0xFF]) * length)


class SourceFilterTests(SynchronousTestCase):
    """Datagrams from other senders are dropped even when the kernel did
    not filter them (the any-source fallback)."""

    def test_only_the_named_source_gets_through(self) -> None:
        source = UdpSource(parse_udp_url("udp://10.0.0.9@232.1.1.1:5000"), reactor)
        sink = PacketRecorder()
        source._sink = sink  # deliver without opening a socket
        chunks = datagrams(TS[: 4 * DATAGRAM])
        for n, chunk in enumerate(chunks):
            source.datagram_received(TS[-DATAGRAM:], "10.0.0.8")
            source.datagram_received(chunk, "10.0.0.9")
            self.assertEqual(len(sink.chunks), n + 1)
        self.assertEqual(sink.data(), TS[: 4 * DATAGRAM])
        self.assertEqual(source.foreign_datagrams, 4)
        self.assertEqual(source.bytes_in, 4 * DATAGRAM)


class _RefusingSocket:
    def setsockopt(self, *args: object) -> None:
        raise OSError(92, "Protocol not available")


class FakeMulticastPort:
    """Joins nothing: source-specific joins fail, plain joins are recorded
    (or fail, with ``join_error``)."""

    socket = _RefusingSocket()

    def __init__(self, join_error: Exception | None) -> None:
        self.join_error = join_error
        self.joined: list[tuple[str, str]] = []

    def joinGroup(self, group: str, iface: str) -> Deferred[None]:
        self.joined.append((group, iface))
        return succeed(None) if self.join_error is None else fail(self.join_error)

    def stopListening(self) -> None:
        pass


@attrs.define
class FakeMulticastReactor:
    join_error: Exception | None = None
    ports: list[FakeMulticastPort] = attrs.Factory(list)

    def listenMulticast(self, *args: object, **kwargs: object) -> FakeMulticastPort:
        self.ports.append(FakeMulticastPort(self.join_error))
        return self.ports[-1]


class JoinTests(SynchronousTestCase):
    def test_source_specific_falls_back_to_any_source(self) -> None:
        fake = FakeMulticastReactor()
        source = make_source("udp://10.0.0.9@232.1.1.1:5000?iface=10.0.0.2", fake)
        with capturedLogs() as events:
            source.start(PacketRecorder())
        self.assertEqual(fake.ports[0].joined, [("232.1.1.1", "10.0.0.2")])
        self.assertIn("source-specific join failed", "".join(map(formatEvent, events)))

    def test_a_failed_join_ends_the_source(self) -> None:
        fake = FakeMulticastReactor(MulticastJoinError("no such device"))
        sink = PacketRecorder()
        make_source("udp://@239.1.1.1:5000", fake).start(sink)
        self.assertEqual(len(sink.ended), 1)
        self.assertIn("udp://@239.1.1.1:5000: cannot join", sink.ended[0])


async def wait_until(what: str, done: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await deferLater(reactor, 0.01)


class UnicastTests(TestCase):
    """Real datagrams over 127.0.0.1."""

    def start(self, url: str) -> tuple[UdpSource, PacketRecorder]:
        source = make_source(url, reactor)
        assert isinstance(source, UdpSource)
        sink = PacketRecorder()
        source.start(sink)
        self.addCleanup(source.stop)
        return source, sink

    async def send(self, port: int, packets: Iterable[bytes]) -> None:
        """Send from a plain socket, yielding to the reactor every few
        datagrams so the receiver's buffer never overflows."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for n, datagram in enumerate(packets):
                s.sendto(datagram, ("127.0.0.1", port))
                if n % 20 == 19:
                    await deferLater(reactor, 0.001)

    async def test_delivers_the_stream_unchanged(self) -> None:
        port = free_udp_port()
        source, sink = self.start(f"udp://@127.0.0.1:{port}")
        await self.send(port, datagrams(TS))
        await wait_until("the whole file", lambda: len(sink.data()) >= len(TS))
        self.assertEqual(sink.data(), TS)
        self.assertEqual(len(sink.chunks), len(datagrams(TS)))  # one per datagram
        self.assertEqual(source.packets_in, len(TS) // PACKET_SIZE)
        self.assertEqual((source.bytes_in, source.garbage_bytes), (len(TS), 0))
        self.assertEqual(sink.ended, [])

    async def test_any_address_form_listens_on_every_interface(self) -> None:
        port = free_udp_port()
        _, sink = self.start(f"udp://@:{port}")
        await self.send(port, datagrams(TS[: 10 * DATAGRAM]))
        await wait_until("the datagrams", lambda: len(sink.data()) >= 10 * DATAGRAM)
        self.assertEqual(sink.data(), TS[: 10 * DATAGRAM])

    async def test_hostile_datagrams_are_dropped_and_the_stream_recovers(self) -> None:
        port = free_udp_port()
        source, sink = self.start(f"udp://127.0.0.1:{port}")
        half = len(TS) // 2 // DATAGRAM * DATAGRAM
        hostile = [
            b"",
            b"\0" * 1000,
            b"not a transport stream",
            bytes(b for b in range(256) if b != SYNC) * 6,
        ]
        await self.send(port, datagrams(TS[:half]) + hostile + datagrams(TS[half:]))
        await wait_until("the rest", lambda: sink.data().endswith(TS[half:]))
        self.assertEqual(sink.data(), TS)
        self.assertEqual(source.garbage_bytes, sum(map(len, hostile)))
        self.assertEqual(sink.ended, [])

    async def test_rtp_headers_are_stripped(self) -> None:
        port = free_udp_port()
        source, sink = self.start(f"rtp://@127.0.0.1:{port}")
        variants = [
            (0x80, b""),
            (0x82, bytes(8)),  # two CSRCs
            (0x90, b"\xbe\xde\x00\x01" + bytes(4)),  # a one-word extension
        ]
        packets = [
            rtp(chunk, n, *variants[n % len(variants)])
            for n, chunk in enumerate(datagrams(TS))
        ]
        packets.insert(5, TS[:DATAGRAM])  # plain TS on an RTP source: dropped
        await self.send(port, packets)
        await wait_until("the whole file", lambda: len(sink.data()) >= len(TS))
        self.assertEqual(sink.data(), TS)
        self.assertEqual(source.garbage_bytes, DATAGRAM)

    async def test_a_port_in_use_ends_the_source(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            url = f"udp://@127.0.0.1:{taken.getsockname()[1]}"
            _, sink = self.start(url)
        self.assertEqual(len(sink.ended), 1)
        self.assertIn(url, sink.ended[0])
        self.assertIn("cannot listen", sink.ended[0])


class MulticastTests(SynchronousTestCase):
    """Real multicast on the loopback of a namespace made for each test."""

    def setUp(self) -> None:
        try:
            self.ns = NetNamespace()
        except RuntimeError as e:
            self.fail(str(e))
        self.addCleanup(self.ns.delete)
        tmp = tempfile.TemporaryDirectory(prefix="xrelay-udp-")
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)

    def file(self, name: str, data: bytes) -> str:
        path = self.tmp / name
        path.write_bytes(data)
        return str(path)

    def receive(self, *jobs: tuple[str, str, int]) -> subprocess.Popen[bytes]:
        """Start the receiver and return once its sources are listening."""
        ready = self.tmp / "ready"
        args = [str(part) for job in jobs for part in job]
        receiver = self.ns.popen(
            "receive", "20", str(ready), *args, stderr=subprocess.PIPE
        )
        self.addCleanup(receiver.kill)  # no-op once it has exited
        deadline = time.monotonic() + 20
        while not ready.exists():
            if receiver.poll() is not None or time.monotonic() > deadline:
                self.fail(f"receiver did not start: {receiver.communicate()[1]!r}")
            time.sleep(0.02)
        return receiver

    def finish(self, receiver: subprocess.Popen[bytes]) -> None:
        try:
            _, stderr = receiver.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.fail("receiver still running after 30 s")
        self.assertEqual(receiver.returncode, 0, stderr.decode(errors="replace"))

    def test_groups_sharing_a_port_each_get_their_own_stream(self) -> None:
        one, two = TS[: 300 * DATAGRAM], TS[300 * DATAGRAM : 600 * DATAGRAM]
        out1, out2 = str(self.tmp / "out1"), str(self.tmp / "out2")
        receiver = self.receive(
            ("udp://@239.10.0.1:5000", out1, len(one)),
            ("udp://@239.10.0.2:5000", out2, len(two)),
        )
        self.ns.run("send", "127.0.0.1", "239.10.0.1", "5000", self.file("1", one))
        self.ns.run("send", "127.0.0.1", "239.10.0.2", "5000", self.file("2", two))
        self.finish(receiver)
        self.assertEqual(Path(out1).read_bytes(), one)
        self.assertEqual(Path(out2).read_bytes(), two)

    def test_source_specific_ignores_other_senders(self) -> None:
        self.ns.add_address("127.0.0.2/8")
        wanted, other = TS[: 300 * DATAGRAM], TS[300 * DATAGRAM : 600 * DATAGRAM]
        out = str(self.tmp / "out")
        receiver = self.receive(("udp://127.0.0.2@239.10.0.3:5000", out, len(wanted)))
        # The other sender goes first: anything of it let through would
        # come before the wanted stream.
        self.ns.run("send", "127.0.0.1", "239.10.0.3", "5000", self.file("o", other))
        self.ns.run("send", "127.0.0.2", "239.10.0.3", "5000", self.file("w", wanted))
        self.finish(receiver)
        self.assertEqual(Path(out).read_bytes(), wanted)
