"""``fetch_once`` against an in-memory web server (StubTreq) and a Clock."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.epg import FetchError, Validators, fetch_once
from xrelay.epg._fetch import Fetched

URL = "http://guides.example/epg.xml?user=me&pass=secret"


class Origin(Resource):
    """Answers with ``reply(request)``; remembers the requests' headers."""

    isLeaf = True

    def __init__(self, reply: Callable[[Request], Any]) -> None:
        super().__init__()
        self.reply = reply
        self.seen: list[dict[bytes, bytes]] = []

    def render_GET(self, request: Request) -> Any:
        self.seen.append(
            {k.lower(): v[0] for k, v in request.requestHeaders.getAllRawHeaders()}
        )
        return self.reply(request)


def body(data: bytes, etag: str = "") -> Callable[[Request], bytes]:
    def reply(request: Request) -> bytes:
        if etag:
            if request.getHeader("if-none-match") == etag:
                request.setResponseCode(304)
                return b""
            request.setHeader("etag", etag)
        request.setHeader("last-modified", "Sun, 15 Jun 2025 12:00:00 GMT")
        return data

    return reply


class FetchTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.spool = str(Path(self.mktemp()) / "source-1.download")

    def fetch(
        self,
        origin: Origin,
        previous: Validators | None = None,
        url: str = URL,
        **kw: Any,
    ) -> Deferred[Fetched | None]:
        self.http = StubTreq(origin)
        options = {"timeout": 30.0, "max_bytes": 10**6, **kw}
        d = Deferred.fromCoroutine(
            fetch_once(self.http, self.clock, url, previous, self.spool, **options)
        )
        self.http.flush()
        return d

    def test_the_body_lands_in_the_spool_with_its_validators(self) -> None:
        origin = Origin(body(b"<tv/>", etag='"v1"'))
        fetched = self.successResultOf(self.fetch(origin))
        assert fetched is not None
        self.assertEqual(Path(fetched.path).read_bytes(), b"<tv/>")
        self.assertTrue(fetched.temporary)
        self.assertEqual(
            fetched.validators,
            Validators(URL, '"v1"', "Sun, 15 Jun 2025 12:00:00 GMT"),
        )
        self.assertTrue(origin.seen[0][b"user-agent"].startswith(b"xrelay/"))

    def test_validators_are_sent_and_304_means_unchanged(self) -> None:
        origin = Origin(body(b"<tv/>", etag='"v1"'))
        previous = Validators(URL, '"v1"', "Sun, 15 Jun 2025 12:00:00 GMT")
        self.assertIsNone(self.successResultOf(self.fetch(origin, previous)))
        self.assertEqual(origin.seen[0][b"if-none-match"], b'"v1"')
        self.assertEqual(
            origin.seen[0][b"if-modified-since"], b"Sun, 15 Jun 2025 12:00:00 GMT"
        )
        self.assertFalse(os.path.exists(self.spool))

    def test_validators_of_another_url_are_not_sent(self) -> None:
        origin = Origin(body(b"<tv/>", etag='"v1"'))
        previous = Validators("http://elsewhere/x.xml", '"v1"')
        self.assertIsNotNone(self.successResultOf(self.fetch(origin, previous)))
        self.assertNotIn(b"if-none-match", origin.seen[0])

    def test_an_error_status_names_it_without_the_credentials(self) -> None:
        def reply(request: Request) -> bytes:
            request.setResponseCode(503)
            return b"try later"

        failure = self.failureResultOf(self.fetch(Origin(reply)), FetchError)
        self.assertEqual(
            str(failure.value), "http://guides.example/…: HTTP 503 Service Unavailable"
        )

    def test_no_answer_times_out(self) -> None:
        d = self.fetch(Origin(lambda request: NOT_DONE_YET), timeout=30.0)
        self.assertNoResult(d)
        self.clock.advance(30)
        failure = self.failureResultOf(d, FetchError)
        self.assertIn("no answer in 30 s", str(failure.value))

    def test_a_stalled_body_times_out_and_leaves_no_file(self) -> None:
        def reply(request: Request) -> int:
            request.write(b"<tv>")
            return NOT_DONE_YET

        d = self.fetch(Origin(reply), timeout=30.0)
        self.assertNoResult(d)
        self.clock.advance(29)
        self.assertNoResult(d)
        self.clock.advance(1)
        failure = self.failureResultOf(d, FetchError)
        self.assertIn("the body stalled for 30 s", str(failure.value))
        self.assertFalse(os.path.exists(self.spool))

    def test_a_body_too_large_is_cut(self) -> None:
        failure = self.failureResultOf(
            self.fetch(Origin(body(b"x" * 3_000_000)), max_bytes=2_000_000),
            FetchError,
        )
        self.assertIn("the body is over 2 MB", str(failure.value))
        self.assertFalse(os.path.exists(self.spool))

    def test_file_urls_are_read_in_place_and_unchanged_when_untouched(self) -> None:
        guide = Path(self.mktemp()).resolve()
        guide.write_bytes(b"<tv/>")
        url = guide.as_uri()
        fetched = self.successResultOf(self.fetch(Origin(body(b"")), url=url))
        assert fetched is not None
        self.assertEqual((fetched.path, fetched.temporary), (str(guide), False))
        again = self.fetch(Origin(body(b"")), fetched.validators, url=url)
        self.assertIsNone(self.successResultOf(again))
        guide.write_bytes(b"<tv></tv>")
        changed = self.fetch(Origin(body(b"")), fetched.validators, url=url)
        self.assertIsNotNone(self.successResultOf(changed))

    def test_a_missing_file_and_an_unknown_scheme(self) -> None:
        failure = self.failureResultOf(
            self.fetch(Origin(body(b"")), url="file:///nonexistent/g.xml"), FetchError
        )
        self.assertIn("No such file", str(failure.value))
        failure = self.failureResultOf(
            self.fetch(Origin(body(b"")), url="ftp://h/g.xml"), FetchError
        )
        self.assertIn("unsupported scheme 'ftp'", str(failure.value))
