"""The guide loop against real web servers on 127.0.0.1, with the real
HTTP client, the real guide database (threads, WAL) and the real reactor."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import attrs
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort
from twisted.internet.ssl import PrivateCertificate
from twisted.internet.task import deferLater
from twisted.protocols.policies import WrappingFactory
from twisted.trial.unittest import TestCase
from twisted.web.server import NOT_DONE_YET, Request

from tests.epg._samples import guide, hourly
from tests.ingest.test_http import (
    QuietSite,
    Reply,
    Upstream,
    self_signed_cert,
    wait_until,
)
from xrelay.epg import (
    EpgService,
    EpgSettings,
    Guide,
    PooledDatabase,
    _sql,
    http_client,
)
from xrelay.models import Channel, EpgSource
from xrelay.testing import MemoryStore


def now() -> float:
    return float(reactor.seconds())  # type: ignore[attr-defined]


def xml() -> bytes:
    return guide(*hourly("a.uk", now() - 3600, 24, "A"), channels=(("a.uk", "A"),))


def gzipped_with_etag(etag: str) -> Reply:
    """200 with a gzip transfer coding when asked, 304 for a matching
    If-None-Match."""

    def reply(request: Request) -> bytes:
        if request.getHeader("if-none-match") == etag:
            request.setResponseCode(304)
            return b""
        request.setHeader("etag", etag)
        if "gzip" in (request.getHeader("accept-encoding") or ""):
            request.setHeader("content-encoding", "gzip")
            return gzip.compress(xml())
        return xml()

    return reply


def gz_file(request: Request) -> bytes:
    request.setHeader("content-type", "application/octet-stream")
    return gzip.compress(xml())


def status(code: int) -> Reply:
    def reply(request: Request) -> bytes:
        request.setResponseCode(code)
        return b"busy"

    return reply


def hang(request: Request) -> int:
    return NOT_DONE_YET  # the client's timeout closes the connection


class LoopOverHttpTests(TestCase):
    timeout = 60

    def serve(self, *replies: Reply, cert: tuple[bytes, bytes] | None = None) -> str:
        """Start a web server answering with ``replies``; its guide's URL
        (``self.upstreams[url]`` keeps its requests)."""
        upstream = Upstream(replies)
        server = WrappingFactory(QuietSite(upstream))
        port: IListeningPort
        if cert is None:
            port = reactor.listenTCP(0, server, interface="127.0.0.1")  # type: ignore[attr-defined]
        else:
            options = PrivateCertificate.loadPEM(cert[0] + cert[1]).options()
            port = reactor.listenSSL(0, server, options, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(self.close_server, server, port)
        scheme = "http" if cert is None else "https"
        url = f"{scheme}://127.0.0.1:{port.getHost().port}/guide.xml"
        self.upstreams[url] = upstream
        return url

    async def close_server(self, server: WrappingFactory, port: IListeningPort) -> None:
        for protocol in list(server.protocols):
            protocol.transport.loseConnection()
        await wait_until(lambda: not server.protocols)
        await port.stopListening()

    def setUp(self) -> None:
        self.upstreams: dict[str, Upstream] = {}

    def start(self, *sources: EpgSource) -> None:
        self.store = MemoryStore()
        catalog = self.successResultOf(self.store.read_catalog())
        catalog = attrs.evolve(
            catalog,
            channels=(Channel(1, 1, "A", epg_id="a.uk"),),
            epg_sources=sources,
        )
        self.successResultOf(self.store.replace_catalog(catalog))
        data = Path(self.mktemp()).resolve()
        self.db = PooledDatabase(str(data / "epg.sqlite3"), reactor)
        self.guide = Guide(self.db, reactor)
        settings = EpgSettings(
            spool_dir=str(data / "downloads"),
            timeout=2.0,  # a loaded machine answers slowly; a hang is longer
            retry_seconds=0.2,
            retry_max_seconds=0.4,
        )
        self.service = EpgService(
            self.store,
            self.db,
            self.guide,
            lambda: http_client(reactor),
            reactor,
            settings,
            tick=0.05,
        )
        self.service.startService()
        self.addCleanup(self.service.stopService)  # before the servers close

    async def wait_for_state(self, source_id: int, check: Any) -> _sql.SourceState:
        """The source's stored state once ``check(state)`` holds."""
        for _ in range(500):
            state = (await self.db.read(_sql.get_states)).get(source_id)
            if state is not None and check(state):
                return state
            await deferLater(reactor, 0.02)
        raise AssertionError(f"source {source_id} never got there: {state}")

    async def listing_titles(self) -> list[str]:
        body = json.loads(await self.guide.short_epg(1, 2))
        return [e["title"] for e in body["epg_listings"]]

    async def test_etag_is_honoured_and_gzip_bodies_are_read(self) -> None:
        url = self.serve(gzipped_with_etag('"v1"'))
        file_url = self.serve(gz_file)
        self.start(EpgSource(1, "A", url), EpgSource(2, "gz", file_url, priority=-1))
        first = await self.wait_for_state(1, lambda s: s.imported_at is not None)
        self.assertEqual((first.etag, first.programmes), ('"v1"', 24))
        gz = await self.wait_for_state(2, lambda s: s.imported_at is not None)
        self.assertEqual(gz.programmes, 24)
        await wait_until(lambda: self.guide.assignment(1) is not None)
        self.assertEqual(len(await self.listing_titles()), 2)
        await self.db.write(_sql.due_now, 1)  # as `xrelay epg refresh --daemon`
        requests = self.upstreams[url].requests
        again = await self.wait_for_state(
            1, lambda s: len(requests) == 2 and s.next_at is not None
        )
        self.assertEqual(again.imported_at, first.imported_at)  # 304: not re-read
        self.assertEqual(requests[1].getHeader("if-none-match"), '"v1"')

    async def test_500s_and_timeouts_are_retried_with_backoff(self) -> None:
        url = self.serve(status(500), hang, status(503), gzipped_with_etag('"v2"'))
        self.start(EpgSource(1, "A", url))
        failed = await self.wait_for_state(1, lambda s: s.failures == 1)
        self.assertIn("HTTP 500", failed.error)
        timed_out = await self.wait_for_state(1, lambda s: s.failures == 2)
        self.assertIn("no answer in 2 s", timed_out.error)
        good = await self.wait_for_state(1, lambda s: s.imported_at is not None)
        self.assertEqual((good.failures, good.error, good.programmes), (0, "", 24))
        self.assertEqual(len(self.upstreams[url].requests), 4)

    async def test_an_untrusted_certificate_is_refused(self) -> None:
        url = self.serve(gzipped_with_etag('"v1"'), cert=self_signed_cert())
        self.start(EpgSource(1, "A", url))
        state = await self.wait_for_state(1, lambda s: s.failures >= 1)
        self.assertIn("certificate verify failed", state.error)
        self.assertEqual(state.programmes, 0)
