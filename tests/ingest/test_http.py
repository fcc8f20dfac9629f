"""The http(s):// source against a real twisted.web server on 127.0.0.1."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort
from twisted.internet.ssl import Certificate, PrivateCertificate
from twisted.internet.task import deferLater
from twisted.logger import capturedLogs
from twisted.protocols.policies import WrappingFactory
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import BrowserLikePolicyForHTTPS
from twisted.web.iweb import IPolicyForHTTPS
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from twisted.web.util import redirectTo

from xrelay import __version__
from xrelay.demo import demo_media_path
from xrelay.ingest import UnsupportedSource, make_source
from xrelay.ingest._http import HttpSource
from xrelay.ingest._redact import redact
from xrelay.mpegts import PACKET_SIZE
from xrelay.testing import PacketRecorder

DEMO = demo_media_path().read_bytes()

# What the server does with one request: return a body or NOT_DONE_YET.
Reply = Callable[[Request], Any]


def finite(body: bytes) -> Reply:
    """The body with a Content-Length, then the end of the response."""
    return lambda request: body


def endless(body: bytes) -> Reply:
    """The body, then the response stays open with nothing more."""

    def reply(request: Request) -> object:
        request.write(body)
        return NOT_DONE_YET

    return reply


def cut(body: bytes) -> Reply:
    """The body, then the connection is closed mid-response."""

    def reply(request: Request) -> object:
        request.write(body)
        request.channel.loseConnection()
        return NOT_DONE_YET

    return reply


def status(code: int) -> Reply:
    def reply(request: Request) -> bytes:
        request.setResponseCode(code)
        return b"<html>not today</html>"

    return reply


def redirect(to: bytes) -> Reply:
    return lambda request: redirectTo(to, request)


def silent(request: Request) -> object:
    """Accept the request and never answer."""
    return NOT_DONE_YET


class QuietSite(Site):
    def log(self, request: Request) -> None:
        """No access log: it would show the tokens it was sent."""


class Upstream(Resource):
    """Answers each GET with the next reply; the last one repeats."""

    isLeaf = True

    def __init__(self, replies: Iterable[Reply]) -> None:
        super().__init__()
        self._replies = list(replies)
        self.requests: list[Request] = []

    def render_GET(self, request: Request) -> Any:
        self.requests.append(request)
        reply = self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]
        return reply(request)


def self_signed_cert() -> tuple[bytes, bytes]:
    """A certificate for 127.0.0.1 and its key, PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def wait_until(predicate: Callable[[], object], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await deferLater(reactor, 0.02)
    raise AssertionError(f"still waiting after {seconds} s")


class HttpSourceTests(TestCase):
    timeout = 30

    def serve(self, *replies: Reply, cert: tuple[bytes, bytes] | None = None) -> str:
        """Start an upstream server; its base URL."""
        self.upstream = Upstream(replies)
        # WrappingFactory keeps the open connections: cleanup waits for them.
        self.server = WrappingFactory(QuietSite(self.upstream))
        port: IListeningPort
        if cert is None:
            port = reactor.listenTCP(0, self.server, interface="127.0.0.1")
        else:
            options = PrivateCertificate.loadPEM(cert[0] + cert[1]).options()
            port = reactor.listenSSL(0, self.server, options, interface="127.0.0.1")
        self.addCleanup(self.close_server, port)
        scheme = "http" if cert is None else "https"
        return f"{scheme}://127.0.0.1:{port.getHost().port}"

    async def close_server(self, port: IListeningPort) -> None:
        await wait_until(lambda: not self.server.protocols)
        await port.stopListening()

    def start(self, url: str, **options: Any) -> tuple[HttpSource, PacketRecorder]:
        source = HttpSource(url, reactor, **options)
        sink = PacketRecorder()
        source.start(sink)
        self.addCleanup(source.stop)  # runs before the server's cleanup
        return source, sink

    async def test_the_body_arrives_intact_and_is_asked_for_again(self) -> None:
        url = self.serve(finite(DEMO))
        source, sink = self.start(url + "/live.ts")
        await wait_until(lambda: len(sink.data()) >= 2 * len(DEMO))
        self.assertEqual(sink.data()[: 2 * len(DEMO)], DEMO + DEMO)
        self.assertTrue(all(len(c) % PACKET_SIZE == 0 for c in sink.chunks))
        self.assertEqual(sink.ended[0], f"{url}/…: the server ended the stream")
        self.assertGreaterEqual(source.restarts, 1)
        self.assertGreaterEqual(source.bytes_in, 2 * len(DEMO))
        self.assertEqual(source.garbage_bytes, 0)
        request = self.upstream.requests[0]
        self.assertEqual(request.getHeader("user-agent"), f"xrelay/{__version__}")

    async def test_connected_while_streaming(self) -> None:
        source, sink = self.start(self.serve(endless(DEMO)))
        self.assertFalse(source.connected)
        await wait_until(lambda: len(sink.data()) == len(DEMO))
        self.assertTrue(source.connected)
        await source.stop()
        self.assertFalse(source.connected)

    async def test_an_http_error_is_reported_once_then_recovers(self) -> None:
        url = self.serve(status(500), status(503), endless(DEMO))
        source, sink = self.start(url)
        await wait_until(lambda: len(sink.data()) == len(DEMO))
        self.assertEqual(sink.data(), DEMO)
        self.assertEqual(sink.ended, [f"{url}: HTTP 500 Internal Server Error"])
        self.assertEqual(source.restarts, 2)
        self.assertEqual(len(self.upstream.requests), 3)

    async def test_a_redirect_is_followed(self) -> None:
        url = self.serve(redirect(b"/elsewhere"), endless(DEMO))
        _, sink = self.start(url + "/start")
        await wait_until(lambda: len(sink.data()) == len(DEMO))
        self.assertEqual(sink.data(), DEMO)
        self.assertEqual(sink.ended, [])
        paths = [r.path for r in self.upstream.requests]
        self.assertEqual(paths, [b"/start", b"/elsewhere"])

    async def test_a_redirect_loop_is_an_error(self) -> None:
        url = self.serve(redirect(b"/again"))
        source, sink = self.start(url)
        await wait_until(lambda: sink.ended)
        await source.stop()
        self.assertEqual(sink.ended, [f"{url}: HTTP 302 (InfiniteRedirection)"])

    async def test_a_connection_closed_mid_stream_is_reopened(self) -> None:
        url = self.serve(cut(DEMO[:100_000]), endless(DEMO))
        source, sink = self.start(url)
        await wait_until(lambda: len(self.upstream.requests) == 2)
        await wait_until(lambda: sink.data().endswith(DEMO))
        # the partial packet at the cut is dropped, not glued to the next stream
        whole = 100_000 // PACKET_SIZE * PACKET_SIZE
        self.assertEqual(sink.data(), DEMO[:whole] + DEMO)
        self.assertEqual(len(sink.ended), 1)
        self.assertEqual(source.restarts, 1)

    async def test_garbage_before_the_stream_is_skipped_and_counted(self) -> None:
        junk = b"HTTP/1.0 hello\r\n" * 10
        source, sink = self.start(self.serve(endless(junk + DEMO)))
        await wait_until(lambda: len(sink.data()) == len(DEMO))
        self.assertEqual(sink.data(), DEMO)
        self.assertEqual(source.garbage_bytes, len(junk))
        self.assertEqual(source.bytes_in, len(junk) + len(DEMO))

    async def test_a_stalled_body_is_dropped_and_reopened(self) -> None:
        url = self.serve(endless(DEMO[:18_800]), endless(DEMO))
        _, sink = self.start(url, timeout=0.5)
        await wait_until(lambda: sink.data() == DEMO[:18_800] + DEMO)
        self.assertEqual(sink.ended[0], f"{url}: no data for 0.5 s")

    async def test_no_response_times_out(self) -> None:
        url = self.serve(silent, endless(DEMO))
        _, sink = self.start(url, timeout=0.5)
        await wait_until(lambda: sink.data() == DEMO)
        self.assertEqual(sink.ended[0], f"{url}: no response in 0.5 s")

    async def test_stop_releases_a_request_waiting_for_its_response(self) -> None:
        source, sink = self.start(self.serve(silent))
        await wait_until(lambda: self.upstream.requests)
        await source.stop()
        await wait_until(lambda: not self.server.protocols)
        self.assertEqual(sink.ended, [])

    async def test_stop_releases_a_streaming_connection(self) -> None:
        source, sink = self.start(self.serve(endless(DEMO)))
        await wait_until(lambda: len(sink.data()) == len(DEMO))
        await source.stop()
        await wait_until(lambda: not self.server.protocols)
        self.assertEqual(sink.ended, [])

    async def test_connection_refused_is_one_outage_over_many_retries(self) -> None:
        port = reactor.listenTCP(0, Site(Resource()), interface="127.0.0.1")
        url = f"http://127.0.0.1:{port.getHost().port}/"
        await port.stopListening()
        source, sink = self.start(url)
        await wait_until(lambda: source.restarts >= 2)
        self.assertEqual(len(sink.ended), 1)
        self.assertIn("refused", sink.ended[0])
        self.assertFalse(source.connected)

    async def test_credentials_never_show(self) -> None:
        base = self.serve(status(503))
        port = base.rpartition(":")[2]
        with capturedLogs() as events:
            source, sink = self.start(
                f"http://alice:s3cr%40t@127.0.0.1:{port}/live?token=t0ken#frag"
            )
            await wait_until(lambda: source.restarts >= 1)
            await source.stop()
        request = self.upstream.requests[0]
        self.assertEqual(
            (request.getUser(), request.getPassword()), (b"alice", b"s3cr@t")
        )
        self.assertEqual(request.args, {b"token": [b"t0ken"]})
        self.assertEqual(sink.ended, [f"{base}/…: HTTP 503 Service Unavailable"])
        self.assertEqual(source.name, f"{base}/…")
        self.assertTrue(events)
        for text in [*sink.ended, *map(repr, events)]:
            for secret in ("alice", "s3cr", "t0ken"):
                self.assertNotIn(secret, text)

    async def test_https_with_a_trusted_certificate(self) -> None:
        cert = self_signed_cert()
        tls: IPolicyForHTTPS = BrowserLikePolicyForHTTPS(Certificate.loadPEM(cert[0]))
        _, sink = self.start(self.serve(endless(DEMO), cert=cert), tls=tls)
        await wait_until(lambda: len(sink.data()) == len(DEMO))
        self.assertEqual(sink.data(), DEMO)
        self.assertEqual(sink.ended, [])

    async def test_https_refuses_an_untrusted_certificate_by_default(self) -> None:
        url = self.serve(endless(DEMO), cert=self_signed_cert())
        source, sink = self.start(url)
        await wait_until(lambda: sink.ended)
        self.assertIn("certificate verify failed", sink.ended[0])
        await source.stop()
        self.assertEqual(sink.data(), b"")
        self.assertEqual(self.upstream.requests, [])

    async def test_https_checks_the_hostname(self) -> None:
        cert = self_signed_cert()  # for 127.0.0.1 only
        url = self.serve(endless(DEMO), cert=cert).replace("127.0.0.1", "localhost")
        tls: IPolicyForHTTPS = BrowserLikePolicyForHTTPS(Certificate.loadPEM(cert[0]))
        source, sink = self.start(url, tls=tls)
        await wait_until(lambda: sink.ended)
        await source.stop()
        self.assertIn("Mismatch", sink.ended[0])
        self.assertEqual(sink.data(), b"")
        self.assertEqual(self.upstream.requests, [])


class UrlTests(SynchronousTestCase):
    def test_make_source_builds_http_sources(self) -> None:
        for url in ("http://example.net/a.ts", "https://[::1]:8443/a.ts"):
            self.assertIsInstance(make_source(url, reactor), HttpSource)

    def test_a_bad_port_is_refused_without_credentials(self) -> None:
        with self.assertRaises(UnsupportedSource) as e:
            make_source("http://bob:pw@example.net:99999/?k=v", reactor)
        self.assertIn("http://example.net:99999/", str(e.exception))
        self.assertNotIn("pw", str(e.exception))

    def test_redact_keeps_only_scheme_and_host(self) -> None:
        cases = {
            "http://u:p@h:80/a/b.ts?token=x#f": "http://h:80/…",
            "https://h/a": "https://h/…",
            "http://u:p@ss@h/x": "http://h/…",
            "see http://h/live/u/p/1.ts, then": "see http://h/…, then",
            "exec:ffmpeg -i 'rtmp://u:p@h/app?k=1' -f mpegts -": (
                "exec:ffmpeg -i 'rtmp://h/…' -f mpegts -"
            ),
            "no url here: user@example": "no url here: user@example",
        }
        for text, expected in cases.items():
            self.assertEqual(redact(text), expected)
