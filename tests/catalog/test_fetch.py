"""Fetching playlists over HTTP, against treq's in-memory double."""

from __future__ import annotations

from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import Request

from xrelay.catalog import FetchError, fetch_playlist, redact_url

PLAYLIST = b"#EXTM3U\n#EXTINF:-1,A\nhttp://a/a\n"


class Provider(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        if request.path != b"/get.php":
            request.setResponseCode(404)
            return b""
        return PLAYLIST


class FetchTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.http = StubTreq(Provider())

    def fetch(self, url: str) -> Deferred[bytes]:
        d = Deferred.fromCoroutine(fetch_playlist(self.http, url))
        self.http.flush()
        return d

    def test_ok(self) -> None:
        body = self.successResultOf(self.fetch("http://h/get.php?username=u"))
        self.assertEqual(body, PLAYLIST)

    def test_http_error(self) -> None:
        failure = self.failureResultOf(
            self.fetch("http://u:pw@h/missing?password=pw"), FetchError
        )
        self.assertEqual(
            failure.getErrorMessage(), "HTTP 404 Not Found from http://h/missing"
        )

    def test_redact_url(self) -> None:
        self.assertEqual(
            redact_url("https://user:pw@host:8443/get.php?username=u&password=p"),
            "https://host:8443/get.php",
        )
