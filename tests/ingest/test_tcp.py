"""The tcp:// sources: URLs, reconnect policy on a Clock, real loopback."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, gatherResults, succeed
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    connectProtocol,
    serverFromString,
)
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IListeningPort, IProtocol, IProtocolFactory
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import (
    MemoryReactorClock,
    StringTransport,
    StringTransportWithDisconnection,
)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from xrelay.demo import demo_media_path
from xrelay.ingest import UnsupportedSource, make_source
from xrelay.ingest._tcp import TcpPullSource, TcpPushSource
from xrelay.mpegts import PACKET_SIZE
from xrelay.testing import PacketRecorder

TS = demo_media_path().read_bytes()
HALF = len(TS) // 2 // PACKET_SIZE * PACKET_SIZE


def odd_chunks(data: bytes) -> list[bytes]:
    """``data`` cut at sizes that straddle packet boundaries."""
    sizes = itertools.cycle([1, 187, 189, 1000, 7, 4096, 376])
    chunks, offset = [], 0
    while offset < len(data):
        size = next(sizes)
        chunks.append(data[offset : offset + size])
        offset += size
    return chunks


class UrlTests(SynchronousTestCase):
    def test_forms(self) -> None:
        memory = MemoryReactorClock()
        for url in (
            "tcp://@127.0.0.1:9000",
            "tcp://@0.0.0.0:9000",
            "tcp://@[::1]:9000",
        ):
            self.assertIsInstance(make_source(url, memory), TcpPushSource, url)
        for url in ("tcp://encoder.example:9000", "tcp://[::1]:9000/"):
            self.assertIsInstance(make_source(url, memory), TcpPullSource, url)
        self.assertEqual(memory.tcpServers + memory.tcpClients, [])  # not started

    def test_bad_urls_say_what_is_wrong(self) -> None:
        cases = {
            "tcp://host": "no port",
            "tcp://host:0": "no port",
            "tcp://host:port": "bad port",
            "tcp://:9000": "no address",
            "tcp://@:9000": "no address",
            "tcp://@encoder.example:9000": "not an IP address",
            "tcp://user@host:9000": "credentials have no meaning",
            "tcp://host:9000/path": "unexpected text",
            "tcp://host:9000?x=1": "unexpected text",
        }
        for url, problem in cases.items():
            with self.assertRaises(UnsupportedSource, msg=url) as caught:
                make_source(url, MemoryReactorClock())
            self.assertIn(url, str(caught.exception))
            self.assertIn(problem, str(caught.exception))

    def test_credentials_are_not_repeated(self) -> None:
        with self.assertRaises(UnsupportedSource) as caught:
            make_source("tcp://user:s3cret@host:9000", MemoryReactorClock())
        self.assertNotIn("s3cret", str(caught.exception))


class FlakyEndpoint:
    """Refuses connections until ``up``; then connects each over a
    StringTransport that reports its closing to the protocol."""

    def __init__(self) -> None:
        self.up = False
        self.attempts = 0
        self.protocols: list[IProtocol] = []

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        self.attempts += 1
        if not self.up:
            return fail(ConnectionRefusedError("refused"))
        protocol = factory.buildProtocol(None)
        assert protocol is not None
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        self.protocols.append(protocol)
        return succeed(protocol)


class PullPolicyTests(SynchronousTestCase):
    """Reconnecting, giving up and hanging up, on a Clock."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = FlakyEndpoint()
        self.sink = PacketRecorder()
        self.source = TcpPullSource(
            "tcp://upstream:9000", self.endpoint, self.clock, retry_policy=lambda n: 1.0
        )
        self.source.start(self.sink)
        self.addCleanup(self.source.stop)

    def test_ends_once_after_give_up_after_but_keeps_trying(self) -> None:
        self.clock.pump([1.0] * 9)
        self.assertEqual(self.sink.ended, [])
        self.clock.pump([1.0] * 20)
        self.assertEqual(len(self.sink.ended), 1)
        reason = self.sink.ended[0]
        self.assertTrue(reason.startswith("tcp://upstream:9000: no TS for 10 s"))
        self.assertIn("(cannot connect: Connection was refused", reason)
        self.assertTrue(reason.endswith("still retrying"))
        self.assertEqual(self.endpoint.attempts, 30)
        self.endpoint.up = True
        self.clock.advance(1.0)
        self.assertTrue(self.source.connected)
        self.endpoint.protocols[0].dataReceived(TS[:HALF])
        self.assertEqual(self.sink.data(), TS[:HALF])
        self.assertEqual(len(self.sink.ended), 1)

    def test_a_new_outage_is_reported_again(self) -> None:
        self.endpoint.up = True
        self.clock.advance(1.0)
        self.endpoint.protocols[0].dataReceived(TS[:HALF])
        self.clock.advance(9.5)
        self.assertEqual(self.sink.ended, [])  # TS flowed: no outage
        self.endpoint.up = False
        self.endpoint.protocols[0].transport.loseConnection()
        self.assertFalse(self.source.connected)
        self.clock.pump([1.0] * 9)
        self.assertEqual(self.sink.ended, [])
        self.clock.advance(1.0)
        self.assertEqual(len(self.sink.ended), 1)
        # the latest problem: the reconnects are refused
        self.assertIn("(cannot connect: Connection was refused", self.sink.ended[0])

    def test_a_silent_upstream_is_hung_up_on_and_retried(self) -> None:
        self.endpoint.up = True
        self.clock.advance(1.0)
        transport = self.endpoint.protocols[0].transport
        assert isinstance(transport, StringTransport)
        self.clock.advance(9.9)
        self.assertFalse(transport.disconnected)
        self.assertIn("connected, but no TS arrived", self.sink.ended[0])
        self.clock.advance(0.2)
        self.assertTrue(transport.disconnected)
        self.assertFalse(self.source.connected)
        self.clock.advance(1.0)
        self.assertEqual(self.endpoint.attempts, 3)

    def test_garbage_and_packets_split_across_reads(self) -> None:
        self.endpoint.up = True
        self.clock.advance(1.0)
        for chunk in odd_chunks(b"\0garbage\x47\x47" + TS):
            self.endpoint.protocols[0].dataReceived(chunk)
        self.assertEqual(self.sink.data(), TS)
        self.assertEqual(self.source.garbage_bytes, 10)
        self.assertEqual(self.source.packets_in, len(TS) // PACKET_SIZE)
        self.assertEqual(self.source.bytes_in, 10 + len(TS))
        self.assertTrue(all(len(c) % PACKET_SIZE == 0 for c in self.sink.chunks))


async def wait_until(what: str, done: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await deferLater(reactor, 0.01)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Encoder(Protocol):
    """A test peer: writes what it is told, notes when it is cut off."""

    def __init__(self) -> None:
        self.lost: Deferred[None] = Deferred()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost.callback(None)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        for chunk in odd_chunks(data):
            self.transport.write(chunk)


class PushTests(TestCase):
    """A real encoder connecting to a real listener on 127.0.0.1."""

    def start(self, idle_timeout: float = 10) -> tuple[TcpPushSource, PacketRecorder]:
        self.port = free_tcp_port()
        url = f"tcp://@127.0.0.1:{self.port}"
        endpoint = serverFromString(reactor, f"tcp:{self.port}:interface=127.0.0.1")
        source = TcpPushSource(url, endpoint, reactor, idle_timeout=idle_timeout)
        sink = PacketRecorder()
        source.start(sink)
        self.addCleanup(source.stop)
        return source, sink

    async def connect(self) -> Encoder:
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port)
        encoder = await connectProtocol(endpoint, Encoder())
        self.addCleanup(lambda: encoder.lost)
        self.addCleanup(encoder.transport.loseConnection)  # type: ignore[union-attr]
        return encoder

    async def test_one_encoder_at_a_time_and_reconnects(self) -> None:
        source, sink = self.start()
        first = await self.connect()
        first.send(TS[:HALF])
        await wait_until("the first half", lambda: len(sink.data()) >= HALF)
        self.assertTrue(source.connected)

        second = await self.connect()
        second.send(TS[HALF:])
        await second.lost  # refused: the listener closed it
        first.transport.loseConnection()  # type: ignore[union-attr]
        await first.lost
        await wait_until("the disconnect", lambda: not source.connected)

        third = await self.connect()
        third.send(TS[HALF:])
        await wait_until("the second half", lambda: len(sink.data()) >= len(TS))
        self.assertEqual(sink.data(), TS)
        self.assertEqual(source.bytes_in, len(TS))
        self.assertEqual(sink.ended, [])

    async def test_a_silent_encoder_loses_the_slot(self) -> None:
        _, sink = self.start(idle_timeout=0.3)
        silent = await self.connect()
        await silent.lost
        encoder = await self.connect()
        encoder.send(TS[:HALF])
        await wait_until("the stream", lambda: len(sink.data()) >= HALF)
        self.assertEqual(sink.data(), TS[:HALF])

    async def test_stop_closes_the_listener_and_the_encoder(self) -> None:
        source, _ = self.start()
        encoder = await self.connect()
        await source.stop()
        await encoder.lost
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", self.port)), 0)

    async def test_a_port_in_use_ends_the_source(self) -> None:
        self.port = free_tcp_port()
        taken = reactor.listenTCP(self.port, Factory(), interface="127.0.0.1")
        self.addCleanup(taken.stopListening)
        sink = PacketRecorder()
        url = f"tcp://@127.0.0.1:{self.port}"
        source = make_source(url, reactor)
        source.start(sink)
        self.addCleanup(source.stop)
        self.assertEqual(len(sink.ended), 1)
        self.assertIn(f"{url}: cannot listen", sink.ended[0])


class Server(Protocol):
    """Serves ``factory.data`` to whoever connects, then keeps quiet."""

    factory: ServerFactory

    def connectionMade(self) -> None:
        self.lost: Deferred[None] = Deferred()
        self.factory.connections.append(self)
        assert self.transport is not None
        self.transport.write(self.factory.data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost.callback(None)

    def close(self) -> Deferred[None]:
        assert self.transport is not None
        self.transport.loseConnection()
        return self.lost


class ServerFactory(Factory):
    protocol = Server

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.connections: list[Server] = []


class PullTests(TestCase):
    """Pulling from a real server on 127.0.0.1 that goes away and comes back."""

    def serve(self, data: bytes, port: int = 0) -> tuple[ServerFactory, IListeningPort]:
        factory = ServerFactory(data)
        listening = reactor.listenTCP(port, factory, interface="127.0.0.1")
        self.addCleanup(lambda: gatherResults([c.close() for c in factory.connections]))
        self.addCleanup(listening.stopListening)
        return factory, listening

    async def test_reconnects_after_the_server_restarts(self) -> None:
        first, listening = self.serve(TS[:HALF])
        port = listening.getHost().port
        url = f"tcp://127.0.0.1:{port}"
        endpoint = HostnameEndpoint(reactor, "127.0.0.1", port)
        source = TcpPullSource(url, endpoint, reactor, retry_policy=lambda n: 0.05)
        sink = PacketRecorder()
        source.start(sink)
        self.addCleanup(source.stop)
        await wait_until("the first half", lambda: len(sink.data()) >= HALF)

        await listening.stopListening()
        await first.connections[0].close()
        await wait_until("the disconnect", lambda: not source.connected)
        await deferLater(reactor, 0.2)  # a few refused attempts
        self.serve(TS[HALF:], port)
        await wait_until("the second half", lambda: len(sink.data()) >= len(TS))
        self.assertEqual(sink.data(), TS)
        self.assertTrue(source.connected)
        self.assertEqual(source.packets_in, len(TS) // PACKET_SIZE)
        self.assertEqual(sink.ended, [])
