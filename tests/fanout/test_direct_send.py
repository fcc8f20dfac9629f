"""The viewer's direct send() path on real loopback sockets: bytes arrive
complete and in order whether the kernel takes a batch whole, in part, or
not at all (the remainder goes through Twisted's buffer)."""

from __future__ import annotations

import contextlib
import os
import socket

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock, deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.test.requesthelper import DummyRequest

from xrelay.fanout import Batch, Viewer


class _Sender(Protocol):
    def __init__(self, batches: list[bytes], done: Deferred[Viewer]) -> None:
        self._batches = batches
        self._done = done

    def connectionMade(self) -> None:
        viewer = Viewer(
            DummyRequest([b""]), self.transport, False, reactor, 1 << 30, lambda v: None
        )
        self.transport.registerProducer(viewer, True)
        for data in self._batches:
            viewer.offer(Batch(data))
        self._close_when_drained(viewer)

    def _close_when_drained(self, viewer: Viewer) -> None:
        # Batches the viewer queued while paused go out on resumeProducing.
        if viewer.queued_bytes:
            reactor.callLater(0.01, self._close_when_drained, viewer)
            return
        self.transport.unregisterProducer()
        self.transport.loseConnection()  # after Twisted's buffer drains
        self._done.callback(viewer)


class _Collector(Protocol):
    def __init__(self) -> None:
        self.received = bytearray()
        self.closed: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure) -> None:
        self.closed.callback(bytes(self.received))


class DirectSendTests(TestCase):
    timeout = 30

    async def test_big_and_small_batches_arrive_in_order(self) -> None:
        # 4 MB batches overflow the socket buffer (partial sends); the small
        # ones behind them must queue behind the remainder, not jump ahead.
        batches = [os.urandom(4 << 20), os.urandom(188), os.urandom(4 << 20)]
        batches += [os.urandom(1316) for _ in range(200)]
        sent: Deferred[Viewer] = Deferred()
        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(lambda: _Sender(batches, sent))
        )
        self.addCleanup(port.stopListening)
        collector = _Collector()
        await TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port).connect(
            Factory.forProtocol(lambda: collector)
        )
        viewer = await sent
        received = await collector.closed
        self.assertEqual(received, b"".join(batches))
        self.assertEqual(viewer.bytes_out, len(received))
        await deferLater(reactor, 0, lambda: None)  # let the server side close


class _SocketTransport:
    """Just enough of a TCP transport for a viewer: a real socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def abortConnection(self) -> None:
        self.socket.close()


class KernelBacklogTests(SynchronousTestCase):
    def test_a_client_that_reads_nothing_counts_as_stalled(self) -> None:
        # The kernel accepts a lot for a client that never reads; the viewer
        # must still notice it is behind, once that exceeds its queue.
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        client = socket.create_connection(listener.getsockname())
        self.addCleanup(client.close)
        server, _ = listener.accept()
        self.addCleanup(server.close)
        server.setblocking(False)
        clock = Clock()
        viewer = Viewer(
            DummyRequest([b""]),
            _SocketTransport(server),
            False,
            clock,
            64 << 10,
            lambda v: None,
        )
        viewer._socket = server  # what _plain_socket finds on a TCP transport
        self.assertEqual(viewer.stalled_for(clock.seconds()), 0.0)
        with contextlib.suppress(BlockingIOError):  # until the kernel is full
            while True:
                server.send(os.urandom(16 << 10))
        self.assertGreater(viewer.lag_bytes(), 64 << 10)
        self.assertEqual(viewer.stalled_for(clock.seconds()), 0.0)  # from now on
        clock.advance(5)
        self.assertEqual(viewer.stalled_for(clock.seconds()), 5.0)
        while client.recv(1 << 20, socket.MSG_DONTWAIT):  # it catches up
            if viewer.kernel_backlog() == 0:
                break
        self.assertEqual(viewer.stalled_for(clock.seconds()), 0.0)
