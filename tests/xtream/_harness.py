"""A real ``Site`` over ``StringTransport`` serving the Xtream API from a
``MemoryStore``, plus a small HTTP response parser."""

from __future__ import annotations

import gzip
import json
from typing import Any
from urllib.parse import urlencode

import attrs
from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site
from zope.interface import implementer

from xrelay.cred.checkers import CachingVerifier, LineRealm, StoreChecker
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.fanout import ChannelRegistry, HubSettings
from xrelay.models import (
    Bouquet,
    Category,
    Channel,
    Episode,
    Movie,
    Season,
    Series,
    User,
)
from xrelay.testing import FakeSource, MemoryStore
from xrelay.web import AdminApi, LineAuthenticator, XRelayRoot
from xrelay.web._live import LiveStreams
from xrelay.xtream import CatalogCache, ServerAddress, XtreamApi

NOW = 1_700_000_000
HASH = hash_password("pw")


def verify_now(password: str, stored: str) -> Deferred[bool]:
    return succeed(verify_password(password, stored))


@attrs.frozen
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    raw_body: bytes  # after de-chunking, before gunzip

    @property
    def body(self) -> bytes:
        if self.headers.get("content-encoding") == "gzip":
            return gzip.decompress(self.raw_body)
        return self.raw_body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def parse_response(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return Response(int(status_line.split(" ")[1]), headers, body)


def _dechunk(data: bytes) -> bytes:
    out = []
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return b"".join(out)
        out.append(data[:size])
        data = data[size + 2 :]


@implementer(ISSLTransport)
class TlsStringTransport(StringTransport):
    """What twisted.web sees of a TLS connection (``isSecure()``)."""

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


class XtreamTestCase(SynchronousTestCase):
    """A catalog with every kind of item, a bouquet, and lines in every
    state (see ``setUp``)."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = MemoryStore()
        self.seed()
        portal = Portal(
            LineRealm(self.store),
            [StoreChecker(self.store, CachingVerifier(verify_now, self.clock))],
        )
        self.tracker = ConnectionTracker(self.clock)
        self.auth = LineAuthenticator(portal, self.tracker, self.clock)
        self.catalog = CatalogCache(self.store, self.clock, ttl=3.0)
        self.address = ServerAddress.from_config("", ["tcp:8080", "ssl:8443:x=y"])
        self.setUp_site()

    def setUp_site(self) -> None:
        """(Re)build the site from ``self.auth``, ``catalog``, ``address``."""
        registry = ChannelRegistry(
            self.clock, lambda c: FakeSource(c.sources[0]), HubSettings(), linger=5
        )
        live = LiveStreams(self.auth, self.store, registry, self.tracker)
        xtream = XtreamApi(self.auth, self.catalog, self.address, self.clock)
        root = XRelayRoot(live, AdminApi("", verify_now, dict), xtream)
        self.site = Site(root, reactor=self.clock)

    def seed(self) -> None:
        """Categories 1-2 live, 3 vod, 4 series; channels 1-3 (3 without a
        category); movies 1-2; series 1 (seasons 0 and 1) and 2 (none);
        bouquet 1 = channel 1, movie 1, series 1; users:
        alice (everything), bob (bouquet 1), old (expired), off (disabled),
        hls (m3u8 only)."""
        catalog = self.successResultOf(self.store.read_catalog())
        catalog = attrs.evolve(
            catalog,
            categories=(
                Category(1, "live", "News", sort_order=2),
                Category(2, "live", "Sports", sort_order=1),
                Category(3, "vod", "Movies"),
                Category(4, "series", "Drama"),
            ),
            channels=(
                Channel(
                    1,
                    101,
                    "News 24",
                    1,
                    ("fake://1",),
                    "http://l/1.png",
                    "n.uk",
                    added=NOW - 10,
                ),
                Channel(2, 102, 'Sport "Live"\nHD', 2, ("fake://2",)),
                Channel(3, 103, "Loose", None, ("fake://3",)),
            ),
            movies=(
                Movie(
                    1,
                    "Big Buck Bunny",
                    "/m/1.mp4",
                    3,
                    "mp4",
                    2008,
                    "Bunny.",
                    "http://p/1.jpg",
                    "6.4",
                    596,
                    NOW - 5,
                ),
                Movie(2, "Sintel", "/m/2.mkv", 3, "mkv"),
            ),
            series=(
                Series(1, "Show", 4, "Plot.", "http://c/1.jpg", 2020, "8.3", NOW - 3),
                Series(2, "Empty Show", 4),
            ),
            seasons=(Season(1, 1, "Season One"),),
            episodes=(
                Episode(12, 1, 1, 2, "Second", "/e/12.mkv", "mkv", added=NOW - 1),
                Episode(11, 1, 1, 1, "Pilot", "/e/11.mkv", "mkv", duration_secs=2700),
                Episode(10, 1, 0, 1, "Special", "/e/10.mp4"),
            ),
            bouquets=(Bouquet(1, "Basic", (1,), (1,), (1,)),),
            users=(
                User(1, "alice", HASH, max_connections=2, created_at=NOW - 100),
                User(2, "bob", HASH, bouquet_ids=(1,)),
                User(3, "old", HASH, expires_at=NOW - 1),
                User(4, "off", HASH, enabled=False),
                User(5, "hls", HASH, allowed_output_formats=("m3u8",)),
            ),
        )
        self.successResultOf(self.store.replace_catalog(catalog))

    def extend_catalog(self, **more: tuple[Any, ...]) -> None:
        """Add records to the store: ``extend_catalog(series=(...))``."""
        catalog = self.successResultOf(self.store.read_catalog())
        changes = {name: getattr(catalog, name) + more[name] for name in more}
        catalog = attrs.evolve(catalog, **changes)
        self.successResultOf(self.store.replace_catalog(catalog))

    def request(
        self,
        path: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        secure: bool = False,
    ) -> Response:
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = self.site.buildProtocol(address)
        transport = (TlsStringTransport if secure else StringTransport)(
            hostAddress=IPv4Address("TCP", "10.0.0.1", 8080), peerAddress=address
        )
        protocol.makeConnection(transport)
        sent = {"Host": "tv.example.org:8080", **(headers or {})}
        if body:
            sent["Content-Length"] = str(len(body))
        head = "".join(f"{k}: {v}\r\n" for k, v in sent.items() if v)
        protocol.dataReceived(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body)
        self.clock.advance(0)  # streamed bodies go out one chunk per turn
        return parse_response(transport.value())

    api_method = "GET"
    """How ``call`` sends its parameters: in the query string (GET) or as a
    form body (POST, as IPTV Smarters does)."""

    def call(self, script: str, user: str = "alice", **params: str) -> Response:
        query = urlencode({"username": user, "password": "pw", **params})
        if self.api_method == "POST":
            form = {"content-type": "application/x-www-form-urlencoded"}
            return self.request(f"/{script}", "POST", form, query.encode())
        return self.request(f"/{script}?{query}")

    def api(self, user: str = "alice", **params: str) -> Any:
        """``player_api.php``'s JSON answer, which must come with a 200."""
        response = self.call("player_api.php", user, **params)
        self.assertEqual(response.status, 200)
        return response.json()
