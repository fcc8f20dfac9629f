"""A real ``Site`` over ``StringTransport`` serving VOD from a library on
disk (files written by the test), with a ``MemoryStore`` catalog."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
from treq.testing import RequestTraversalAgent
from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web import pages
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site

from tests.vod._tree import make_tree
from tests.xtream._harness import Response, parse_response, verify_now
from xrelay.cred.checkers import CachingVerifier, LineRealm, StoreChecker
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.passwords import hash_password
from xrelay.fanout import ChannelRegistry, HubSettings
from xrelay.models import Bouquet, Category, Episode, Movie, Season, Series, User
from xrelay.testing import FakeSource, MemoryStore
from xrelay.vod import Artwork, LibraryFiles, Upstream, Vod, VodStreams
from xrelay.web import AdminApi, LineAuthenticator, XRelayRoot
from xrelay.web._live import LiveStreams
from xrelay.xtream import CatalogCache, ServerAddress, XtreamApi

NOW = 1_700_000_000
HASH = hash_password("pw")
MOVIE_SIZE = 3_000_000  # more than one reactor turn of 64 KiB chunks
SERVER = IPv4Address("TCP", "10.0.0.1", 8080)
PLAYER = IPv4Address("TCP", "127.0.0.1", 40000)


def content(size: int, seed: int = 0) -> bytes:
    """Bytes that differ at every offset (a misplaced range shows)."""
    block = bytes((i * 7 + seed) % 256 for i in range(65521))  # prime length
    return (block * (size // len(block) + 1))[:size]


class SlowTransport(StringTransport):
    """A transport whose "kernel buffer" fills: past ``limit`` unread
    bytes it pauses its producer, as a real TCP transport does."""

    limit = 256 * 1024

    def __init__(self) -> None:
        super().__init__(hostAddress=SERVER, peerAddress=PLAYER)
        self.read = 0
        self.most_unread = 0

    def write(self, data: bytes) -> None:
        super().write(data)
        unread = len(self.value()) - self.read
        self.most_unread = max(self.most_unread, unread)
        if unread > self.limit and self.producer is not None:
            self.producer.pauseProducing()

    def drain(self) -> None:
        """The player reads everything buffered."""
        self.read = len(self.value())
        if self.producer is not None:
            self.producer.resumeProducing()


@attrs.define
class Exchange:
    """One request on its own connection."""

    transport: StringTransport
    protocol: object

    def response(self) -> Response:
        return parse_response(self.transport.value())


class VodTestCase(SynchronousTestCase):
    """Library: movies 1 (3 MB .mkv, poster), 2 (outside the library),
    3 (a link out of it), 4 (an http URL), 5 (a directory), 6 (a relative
    path), 7 (a URL that answers 404); series 1 with
    episodes 10 and 11, series 2 with none; bouquet 1 = movie 1.  Lines:
    alice (1 connection), bob (bouquet 1), old (expired)."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        base = Path(self.mktemp()).resolve()
        self.movie_bytes = content(MOVIE_SIZE)
        self.episode_bytes = content(100_000, seed=3)
        self.library = make_tree(
            base / "library",
            {
                "Movies/Film (2001).mkv": self.movie_bytes,
                "Movies/Film (2001)-poster.jpg": b"\xff\xd8poster",
                "Movies/Escape.mkv": f"->{base / 'outside' / 'secret.mkv'}",
                "Movies/Folder.mkv/inside": b"",
                "Shows/Show/Show S01E01.mp4": self.episode_bytes,
                "Shows/Show/Show S01E02.ts": b"\x47" * 188,
                "Shows/Show/Season 1/poster.png": b"\x89PNGseason",
            },
        )
        make_tree(base / "outside", {"secret.mkv": b"top secret"})
        self.upstream_files = make_tree(
            base / "cdn", {"remote.mp4": content(50_000, 9)}
        )
        movies = self.library / "Movies"
        shows = self.library / "Shows"
        self.store = MemoryStore()
        catalog = self.successResultOf(self.store.read_catalog())
        self.successResultOf(
            self.store.replace_catalog(
                attrs.evolve(
                    catalog,
                    categories=(
                        Category(1, "vod", "Films"),
                        Category(2, "series", "TV"),
                    ),
                    movies=(
                        Movie(
                            1,
                            "Film",
                            str(movies / "Film (2001).mkv"),
                            1,
                            "mkv",
                            poster=str(movies / "Film (2001)-poster.jpg"),
                            backdrop="http://img.example/film.jpg",
                        ),
                        Movie(2, "Secret", str(base / "outside" / "secret.mkv")),
                        Movie(3, "Escape", str(movies / "Escape.mkv")),
                        Movie(4, "Remote", "http://cdn.example/remote.mp4"),
                        Movie(5, "Folder", str(movies / "Folder.mkv")),
                        Movie(6, "Relative", "Movies/Film (2001).mkv"),
                        Movie(7, "Down", "http://down.example/gone.mp4"),
                    ),
                    series=(
                        Series(1, "Show", 2, cover=str(shows / "Show" / "missing.jpg")),
                        Series(2, "Empty", 2),
                    ),
                    seasons=(
                        Season(1, 1, cover=str(shows / "Show/Season 1/poster.png")),
                    ),
                    episodes=(
                        Episode(
                            10, 1, 1, 1, "One", str(shows / "Show/Show S01E01.mp4")
                        ),
                        Episode(
                            11, 1, 1, 2, "Two", str(shows / "Show/Show S01E02.ts"), "ts"
                        ),
                    ),
                    bouquets=(Bouquet(1, "Basic", movie_ids=(1,)),),
                    users=(
                        User(1, "alice", HASH, max_connections=1),
                        User(2, "bob", HASH, bouquet_ids=(1,)),
                        User(3, "old", HASH, expires_at=NOW - 1),
                    ),
                ),
            )
        )
        portal = Portal(
            LineRealm(self.store),
            [StoreChecker(self.store, CachingVerifier(verify_now, self.clock))],
        )
        self.tracker = ConnectionTracker(self.clock)
        auth = LineAuthenticator(portal, self.tracker, self.clock)
        self.catalog = CatalogCache(self.store, self.clock)
        files = LibraryFiles([str(movies), str(shows)])
        cdn = Resource()
        cdn.putChild(
            b"remote.mp4", _Remote((self.upstream_files / "remote.mp4").read_bytes())
        )
        missing = pages.notFound()
        self.agent = RequestTraversalAgent(
            _Hosts({b"cdn.example": cdn, b"down.example": missing})
        )
        vod = Vod(
            VodStreams(
                auth,
                self.catalog,
                self.tracker,
                files,
                Upstream(self.agent, self.clock),
                self.clock,
            ),
            Artwork(self.catalog, files, self.clock),
            None,
        )
        registry = ChannelRegistry(
            self.clock, lambda c: FakeSource(c.sources[0]), HubSettings(), linger=5
        )
        live = LiveStreams(auth, self.store, registry, self.tracker)
        xtream = XtreamApi(
            auth, self.catalog, ServerAddress.from_config("", ["tcp:8080"]), self.clock
        )
        root = XRelayRoot(live, AdminApi("", verify_now, dict), xtream, vod=vod)
        self.site = Site(root)

    def open(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        transport: StringTransport | None = None,
        player: str = "tv-1",
    ) -> Exchange:
        """Send a request and run everything that is due; the response may
        still be coming (a paused or large body)."""
        protocol = self.site.buildProtocol(PLAYER)
        transport = transport or StringTransport(hostAddress=SERVER, peerAddress=PLAYER)
        protocol.makeConnection(transport)
        sent = {"Host": "tv.example.org:8080", "User-Agent": player, **(headers or {})}
        head = "".join(f"{k}: {v}\r\n" for k, v in sent.items())
        protocol.dataReceived(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode())
        self.run_due()
        return Exchange(transport, protocol)

    def run_due(self) -> None:
        """Run every call due now (bodies go out a few chunks per turn)."""
        for _ in range(10_000):
            self.agent.flush()
            if not any(
                c.getTime() <= self.clock.seconds()
                for c in self.clock.getDelayedCalls()
            ):
                return
            self.clock.advance(0)
        raise AssertionError("still busy after 10,000 turns")

    def get(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        player: str = "tv-1",
    ) -> Response:
        return self.open(path, headers, method, player=player).response()


class _Hosts(Resource):
    """Virtual hosts, for the fake upstream servers."""

    isLeaf = False

    def __init__(self, hosts: dict[bytes, IResource]) -> None:
        super().__init__()
        self._hosts = hosts

    def getChildWithDefault(self, path: bytes, request: object) -> IResource:
        host = request.getRequestHostname()  # type: ignore[attr-defined]
        site = self._hosts[host]
        if site.isLeaf:
            return site
        return site.getChildWithDefault(path, request)


class _Remote(Resource):
    """An upstream file server (static.File needs the global reactor)."""

    isLeaf = True

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = data

    def render_GET(self, request: object) -> bytes:
        header = request.getHeader("range")  # type: ignore[attr-defined]
        data, size = self._data, len(self._data)
        request.setHeader("content-type", "video/mp4")  # type: ignore[attr-defined]
        request.setHeader("accept-ranges", "bytes")  # type: ignore[attr-defined]
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", header or "")
        if match is None:
            return data
        start, end = int(match[1]), min(int(match[2]), size - 1)
        request.setResponseCode(206)  # type: ignore[attr-defined]
        request.setHeader(  # type: ignore[attr-defined]
            "content-range", f"bytes {start}-{end}/{size}"
        )
        return data[start : end + 1]
