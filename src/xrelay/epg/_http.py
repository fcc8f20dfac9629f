"""``xmltv.php``: the guide of a line's channels as an XMLTV document
(xtream-api.md §7), streamed.

The line logs in like on every player URL (401/403/429/503 as text);
it sees the channels its bouquets give it, listed under their
``epg_channel_id`` (the M3U ``tvg-id``).  The body is produced a few
channels at a time in reader threads and written as the client takes it
(a push producer: nothing is rendered while the socket is full), gzipped
when the client asks.  ``prev_days`` and ``days`` narrow the window.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from xrelay.epg._guide import Guide
from xrelay.web import LineAuthenticator, Refusal
from xrelay.web._responses import is_gone, send_text
from xrelay.xtream import (
    CatalogCache,
    ServerAddress,
    gzip_compressor,
    open_stream,
    read_params,
    send_refusal,
    wants_gzip,
)

log = Logger()
_XML = b"application/xml; charset=utf-8"


class XmltvEndpoint:
    def __init__(
        self,
        auth: LineAuthenticator,
        catalog: CatalogCache,
        guide: Guide,
        address: ServerAddress,
    ) -> None:
        self._auth = auth
        self._catalog = catalog
        self._guide = guide
        self._address = address

    def render(self, request: Request) -> int:
        d = Deferred.fromCoroutine(self._serve(request))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _failed(self, failure: Failure, request: Request) -> None:
        log.failure("serving xmltv.php", failure)
        send_text(request, 500, "internal error")

    async def _serve(self, request: Request) -> None:
        params = read_params(request)
        username, password = params.get("username", ""), params.get("password", "")
        outcome = await self._auth.login(request, username, password)
        if isinstance(outcome, Refusal):
            send_refusal(request, outcome.status, outcome.reason)
            return
        view = await self._catalog.view()
        visible = view.visibility(outcome.user.bouquet_ids)
        chunks = self._guide.xmltv_chunks(
            None if visible is None else visible.ids["live"],
            self._address.origin(request).base,
            _days(params.get("prev_days")),
            _days(params.get("days")),
        )
        await StreamedBody(request, chunks).run()


def _days(text: str | None) -> float | None:
    """A window parameter: whole days, 0 or more; None if absent or bad."""
    if text is None or not text.strip().isdigit():
        return None
    return float(text)


@implementer(IPushProducer)
class StreamedBody:
    """Writes ``chunks`` as a 200 ``application/xml`` response, pulling the
    next chunk only while the transport takes data."""

    def __init__(self, request: Request, chunks: AsyncGenerator[bytes, None]) -> None:
        self._request = request
        self._chunks = chunks
        self._compressor = gzip_compressor() if wants_gzip(request) else None
        self._paused = False
        self._stopped = False
        self._resumed: Deferred[None] | None = None

    async def run(self) -> None:
        request = self._request
        gzip = self._compressor is not None
        if not open_stream(request, self, _XML, gzip):
            return
        try:
            await self._pump()
        except Exception:
            log.failure("building xmltv.php", Failure())
            self._stopped = True
            request.unregisterProducer()
            request.loseConnection()  # the status line is out: cut it short
        finally:
            await self._chunks.aclose()

    async def _pump(self) -> None:
        request = self._request
        async for chunk in self._chunks:
            while self._paused and not self._stopped:
                self._resumed = Deferred()
                await self._resumed
            if self._stopped:
                if not is_gone(request):
                    request.unregisterProducer()
                return
            if self._compressor is not None:
                chunk = self._compressor.compress(chunk)
            if chunk:
                request.write(chunk)
        if self._compressor is not None:
            request.write(self._compressor.flush())
        request.unregisterProducer()
        request.finish()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._wake()

    def stopProducing(self) -> None:
        self._stopped = True
        self._wake()

    def _wake(self) -> None:
        resumed, self._resumed = self._resumed, None
        if resumed is not None:
            resumed.callback(None)
