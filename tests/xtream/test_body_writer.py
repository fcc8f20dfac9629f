"""Large JSON answers go out slice by slice, only while the client reads."""

from __future__ import annotations

import gzip
import json

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from tests.xtream._harness import parse_response
from tests.xtream.test_playlist import SlowClientTransport
from xrelay.xtream._http import STREAM_OVER, BodyWriter, send_json

BODY = json.dumps(
    [{"num": n, "name": f"Movie {n}", "stream_id": n} for n in range(40_000)]
).encode()


def _complete(received: bytes) -> bool:
    """Whether ``received`` holds a whole response (by its Content-Length)."""
    head, found, body = received.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    raise AssertionError(f"no Content-Length in {head!r}")


class Json(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> object:
        send_json(request, BODY)
        return NOT_DONE_YET

    render_HEAD = render_GET


class BodyWriterTests(SynchronousTestCase):
    def connect(self, head: bytes) -> tuple[object, SlowClientTransport]:
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = Site(Json()).buildProtocol(address)
        transport = SlowClientTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(head + b"\r\nHost: tv\r\n\r\n")
        return protocol, transport

    def drain(self, transport: SlowClientTransport) -> tuple[bytes, int]:
        received, turns = b"", 0
        while True:
            sent = transport.value()
            self.assertLess(
                len(sent), transport.limit + BodyWriter.SLICE + 1000, "a slice over"
            )
            received += sent
            transport.clear()
            if _complete(received):
                return received, turns
            turns += 1
            self.assertLess(turns, 1000)
            transport.producer.resumeProducing()  # the kernel took it all

    def test_a_large_body_waits_for_the_client(self) -> None:
        self.assertGreater(len(BODY), 4 * STREAM_OVER)
        _, transport = self.connect(b"GET / HTTP/1.1")
        received, turns = self.drain(transport)
        self.assertGreater(turns, 5, "it had to wait for the client")
        response = parse_response(received)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers["content-length"], str(len(BODY)))
        self.assertEqual(response.body, BODY)

    def test_gzip_and_head(self) -> None:
        _, transport = self.connect(b"GET / HTTP/1.1\r\nAccept-Encoding: gzip")
        received, _ = self.drain(transport)
        response = parse_response(received)
        self.assertEqual(response.headers["content-encoding"], "gzip")
        self.assertEqual(gzip.decompress(response.raw_body), BODY)

        _, transport = self.connect(b"HEAD / HTTP/1.1")
        response = parse_response(transport.value())
        self.assertEqual(response.headers["content-length"], str(len(BODY)))
        self.assertEqual(response.raw_body, b"")

    def test_a_client_leaving_stops_it(self) -> None:
        writers: list[BodyWriter] = []
        start = BodyWriter.start

        def recorded(writer: BodyWriter, *args: object) -> None:
            writers.append(writer)
            start(writer, *args)  # type: ignore[arg-type]

        self.patch(BodyWriter, "start", recorded)
        protocol, transport = self.connect(b"GET / HTTP/1.1")
        self.assertLess(len(transport.value()), len(BODY))
        protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
        transport.clear()
        [writer] = writers
        writer.resumeProducing()  # nothing may come of it now
        self.assertEqual(transport.value(), b"")
