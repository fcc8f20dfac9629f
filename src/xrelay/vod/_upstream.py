"""Movies and episodes whose source is an http(s) URL: relayed, not
redirected, so the URL (which often carries a provider's credentials)
never reaches players.  Range requests pass through, and the upstream body
is paused whenever the player's connection is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse
from twisted.web.server import Request
from zope.interface import implementer

from xrelay.ingest import display_url
from xrelay.vod._body import abort
from xrelay.web._responses import is_gone, send_text

_FORWARDED_REQUEST = (b"range", b"if-range")
_FORWARDED_RESPONSE = (
    b"content-type",
    b"content-length",
    b"content-range",
    b"accept-ranges",
    b"last-modified",
    b"etag",
)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


class Upstream:
    log = Logger()

    def __init__(self, agent: IAgent, clock: IReactorTime, timeout: float = 15.0):
        self._agent = agent
        self._clock = clock
        self._timeout = timeout

    async def relay(
        self, request: Request, url: str, take_slot: Callable[[], Awaitable[bool]]
    ) -> None:
        """Answer ``request`` from ``url``.  ``take_slot`` is awaited before
        any body byte goes out (it answers the request itself if refused)."""
        headers = Headers({b"user-agent": [b"xrelay"]})
        for name in _FORWARDED_REQUEST:
            value = request.requestHeaders.getRawHeaders(name)
            if value:
                headers.setRawHeaders(name, value[:1])
        method = b"HEAD" if request.method == b"HEAD" else b"GET"
        asked: Deferred[IResponse] = self._agent.request(method, url.encode(), headers)
        asked.addTimeout(self._timeout, self._clock)
        try:
            response = await asked
        except Exception as e:
            reason = "no answer in time" if isinstance(e, TimeoutError) else str(e)
            self.log.warn(
                "VOD source {url} failed: {reason}", url=display_url(url), reason=reason
            )
            send_text(request, 502, "the source of this item is unavailable")
            return
        if response.code not in (200, 206, 416):
            self.log.warn(
                "VOD source {url} answered {code}",
                url=display_url(url),
                code=response.code,
            )
            _discard(response)
            send_text(request, 502, "the source of this item is unavailable")
            return
        if response.code != 416 and method == b"GET" and not await take_slot():
            _discard(response)
            return
        if is_gone(request):
            _discard(response)
            return
        request.setResponseCode(response.code)
        for name in _FORWARDED_RESPONSE:
            value = response.headers.getRawHeaders(name)
            if value:
                request.responseHeaders.setRawHeaders(name, value[:1])
        request.setHeader(b"cache-control", b"no-store")
        if method == b"HEAD":
            _discard(response)
            request.finish()
            return
        request.write(b"")
        response.deliverBody(_Pipe(request))


def _discard(response: IResponse) -> None:
    response.deliverBody(_Discard())


class _Discard(Protocol):
    def connectionMade(self) -> None:
        self.transport.stopProducing()  # type: ignore[union-attr]


@implementer(IPushProducer)
class _Pipe(Protocol):
    """The upstream body into the player's response; the player's
    backpressure pauses the upstream connection."""

    def __init__(self, request: Request) -> None:
        self._request = request

    def connectionMade(self) -> None:
        try:
            self._request.registerProducer(self, True)
        except AttributeError:  # the player left meanwhile
            self.stopProducing()
            return
        self._request.notifyFinish().addErrback(lambda _: self.stopProducing())

    def dataReceived(self, data: bytes) -> None:
        if not is_gone(self._request):
            self._request.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if is_gone(self._request):
            return
        self._request.unregisterProducer()
        if reason.check(ResponseDone, PotentialDataLoss):
            self._request.finish()
        else:  # cut off mid-body: the player must see the cut
            abort(self._request)

    def pauseProducing(self) -> None:
        self.transport.pauseProducing()  # type: ignore[union-attr]

    def resumeProducing(self) -> None:
        self.transport.resumeProducing()  # type: ignore[union-attr]

    def stopProducing(self) -> None:
        self.transport.stopProducing()  # type: ignore[union-attr]
