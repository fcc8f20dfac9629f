"""File bodies over real loopback sockets: sendfile(2) and the copying
producer give the same bytes, for fast and for stalling readers."""

from __future__ import annotations

import os
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.tcp import Port
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from tests.vod._harness import content
from xrelay.vod import _body
from xrelay.vod._files import LibraryFiles, OpenFile
from xrelay.vod._ranges import Unsatisfiable
from xrelay.vod._respond import choose_range, send_unsatisfiable, start_body

SIZE = 8 * 1024 * 1024 + 12345


class _FileResource(Resource):
    isLeaf = True

    def __init__(self, path: str, use_sendfile: bool) -> None:
        super().__init__()
        self._files = LibraryFiles([os.path.dirname(path)])
        self._path = path
        self._sendfile = use_sendfile
        self.bodies: list[object] = []

    def render_GET(self, request: Request) -> int:
        opened = self._files.open(self._path)
        assert isinstance(opened, OpenFile)
        chosen = choose_range(request, opened)
        if isinstance(chosen, Unsatisfiable):
            send_unsatisfiable(request, opened)
            opened.close()
        else:
            body = start_body(
                request, opened, chosen, "video/mp4", reactor, self._sendfile
            )
            self.bodies.append(body)
        return NOT_DONE_YET


class _Reader(Protocol):
    """Asks for ``ranges`` one after the other on one connection; with
    ``stall``, stops reading for a moment after every MiB."""

    def __init__(self, ranges: list[str], stall: bool) -> None:
        self.pending = list(ranges)
        self.stall = stall
        self.bodies: list[bytes] = []
        self.done: Deferred[list[bytes]] = Deferred()
        self._buffer = b""
        self._length: int | None = None
        self._since_stall = 0

    def connectionMade(self) -> None:
        self._ask()

    def _ask(self) -> None:
        header = self.pending.pop(0)
        self.transport.write(  # type: ignore[union-attr]
            f"GET /file HTTP/1.1\r\nHost: x\r\nRange: {header}\r\n\r\n".encode()
        )

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        self._since_stall += len(data)
        if self.stall and self._since_stall > 1 << 20:
            self._since_stall = 0
            self.transport.pauseProducing()  # type: ignore[union-attr]
            reactor.callLater(0.02, self.transport.resumeProducing)  # type: ignore[union-attr]
        while True:
            if self._length is None:
                head, found, rest = self._buffer.partition(b"\r\n\r\n")
                if not found:
                    return
                lines = head.decode("latin-1").split("\r\n")
                headers = dict(line.lower().split(": ", 1) for line in lines[1:])
                self._length = int(headers["content-length"])
                self._buffer = rest
            if len(self._buffer) < self._length:
                return
            self.bodies.append(self._buffer[: self._length])
            self._buffer = self._buffer[self._length :]
            self._length = None
            if not self.pending:
                self.transport.loseConnection()  # type: ignore[union-attr]
                self.done.callback(self.bodies)
                return
            self._ask()


class SendfileTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        directory = Path(self.mktemp()).resolve()
        directory.mkdir(parents=True)
        self.data = content(SIZE, seed=5)
        self.path = directory / "movie.mp4"
        self.path.write_bytes(self.data)
        self.sendfile_calls = self.socket_full = 0
        real = os.sendfile

        def counting(*args: int) -> int:
            self.sendfile_calls += 1
            try:
                return real(*args)
            except BlockingIOError:
                self.socket_full += 1
                raise

        self.patch(_body.os, "sendfile", counting)

    def serve(self, use_sendfile: bool) -> tuple[int, _FileResource]:
        resource = _FileResource(str(self.path), use_sendfile)
        port: Port = reactor.listenTCP(0, Site(resource), interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        return port.getHost().port, resource

    async def fetch(self, port: int, ranges: list[str], stall: bool) -> list[bytes]:
        reader = _Reader(ranges, stall)
        factory = ClientFactory.forProtocol(lambda: reader)
        connector = reactor.connectTCP("127.0.0.1", port, factory)  # type: ignore[attr-defined]
        self.addCleanup(connector.disconnect)
        return await reader.done

    async def check(self, use_sendfile: bool, stall: bool) -> None:
        port, _ = self.serve(use_sendfile)
        ranges = ["bytes=0-", "bytes=1000-2000", f"bytes={SIZE - 1}-", "bytes=-3000000"]
        bodies = await self.fetch(port, ranges, stall)
        self.assertEqual(len(bodies), 4)
        self.assertTrue(bodies[0] == self.data, "whole file differs")
        self.assertEqual(bodies[1], self.data[1000:2001])
        self.assertEqual(bodies[2], self.data[-1:])
        self.assertTrue(bodies[3] == self.data[-3000000:], "suffix range differs")

    async def test_sendfile_fast_reader(self) -> None:
        await self.check(use_sendfile=True, stall=False)
        self.assertGreater(self.sendfile_calls, 0)

    async def test_sendfile_stalling_reader(self) -> None:
        await self.check(use_sendfile=True, stall=True)
        self.assertGreater(self.sendfile_calls, 0)
        self.assertGreater(self.socket_full, 0, "the full-socket path never ran")

    async def test_copying_producer(self) -> None:
        await self.check(use_sendfile=False, stall=True)
        self.assertEqual(self.sendfile_calls, 0)

    async def test_many_readers_at_once(self) -> None:
        port, _ = self.serve(use_sendfile=True)
        ranges = [f"bytes={i * 100_000}-{i * 100_000 + 999_999}" for i in range(8)]
        results = [
            Deferred.fromCoroutine(self.fetch(port, [r], stall=i % 2 == 0))
            for i, r in enumerate(ranges)
        ]
        for i, result in enumerate(results):
            [body] = await result
            start = i * 100_000
            self.assertTrue(body == self.data[start : start + 1_000_000], f"reader {i}")
