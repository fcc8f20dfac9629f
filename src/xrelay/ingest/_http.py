"""``http://`` and ``https://`` pull, and what all reconnecting sources share.

``ReconnectingSource`` holds the policy the exec source uses too: whole
packets to the sink, one ``source_ended`` per outage, and retries with
backoff until ``stop()``.
"""

from __future__ import annotations

from base64 import b64encode
from typing import Any, cast
from urllib.parse import unquote, urlsplit, urlunsplit

from OpenSSL import SSL
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import (
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IPushProducer,
    IStreamClientEndpoint,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from twisted.web import error as web_error
from twisted.web.client import (
    URI,
    Agent,
    BrowserLikePolicyForHTTPS,
    BrowserLikeRedirectAgent,
    RequestGenerationFailed,
    RequestTransmissionFailed,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory, IPolicyForHTTPS, IResponse
from zope.interface import implementer

from xrelay import __version__
from xrelay.ingest._errors import UnsupportedSource
from xrelay.ingest._redact import display_url
from xrelay.ingest._retry import ReconnectingSource
from xrelay.interfaces import IChannelSource


class _TrackedProtocol(ProtocolWrapper):
    factory: _TrackingFactory

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        self.factory.connections.closed(self)


class _TrackingFactory(WrappingFactory[_TrackedProtocol]):
    protocol = _TrackedProtocol
    noisy = False

    def __init__(self, wrapped: IProtocolFactory, connections: _Connections) -> None:
        super().__init__(wrapped)
        self.connections = connections

    def registerProtocol(self, p: _TrackedProtocol) -> None:
        super().registerProtocol(p)
        self.connections.opened(p)


@implementer(IStreamClientEndpoint)
class _TrackedEndpoint:
    def __init__(
        self, endpoint: IStreamClientEndpoint, connections: _Connections
    ) -> None:
        self._endpoint = endpoint
        self._connections = connections

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        d = self._endpoint.connect(_TrackingFactory(factory, self._connections))
        return d.addCallback(_unwrap)


def _unwrap(wrapper: IProtocol) -> IProtocol:
    """Agent expects its own protocol from connect(), not our wrapper."""
    assert isinstance(wrapper, ProtocolWrapper)
    return wrapper.wrappedProtocol


@implementer(IAgentEndpointFactory)
class _Connections:
    """The agent's endpoints, made as Agent makes them (TCP, and TLS with
    ``tls`` for https), counting their open connections: Agent closes a
    finished response's socket on its own time, and ``stop()`` must wait
    for that (and can cut a redirect's unread body short)."""

    def __init__(self, reactor: Any, tls: IPolicyForHTTPS) -> None:
        self._reactor = reactor
        self._tls = tls
        self._open: set[ProtocolWrapper] = set()
        self._waiting: list[Deferred[None]] = []

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        endpoint = HostnameEndpoint(self._reactor, uri.host, uri.port)
        if uri.scheme == b"https":
            tls = self._tls.creatorForNetloc(uri.host, uri.port)
            return _TrackedEndpoint(wrapClientTLS(tls, endpoint), self)
        return _TrackedEndpoint(endpoint, self)

    def opened(self, p: ProtocolWrapper) -> None:
        self._open.add(p)

    def closed(self, p: ProtocolWrapper) -> None:
        self._open.discard(p)
        if not self._open:
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(None)

    def abort_all(self) -> Deferred[None]:
        """Close every connection now; fire when they are all gone."""
        if not self._open:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiting.append(d)
        for p in list(self._open):
            cast(ITCPTransport, p.transport).abortConnection()
        return d


class _Body(Protocol):
    def __init__(self, source: HttpSource) -> None:
        self._source = source

    def dataReceived(self, data: bytes) -> None:
        self._source._received(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._source._body_lost(reason)


class _Discard(Protocol):
    """Takes a body nobody wants, and closes its connection."""

    def connectionMade(self) -> None:
        cast(IPushProducer, self.transport).stopProducing()


_WRAPPERS = (
    ResponseFailed,
    ResponseNeverReceived,
    RequestGenerationFailed,
    RequestTransmissionFailed,
)


def _describe(failure: Failure) -> str:
    """Why an attempt ended, in a few words."""
    exc = failure.value
    while isinstance(exc, _WRAPPERS) and exc.reasons:
        exc = exc.reasons[0].value
    if isinstance(exc, ResponseDone | PotentialDataLoss):
        return "the server ended the stream"
    if isinstance(exc, web_error.Error):
        # A redirect gone wrong; its message may hold the (tokenised) location.
        return f"HTTP {exc.status.decode('latin-1')} ({type(exc).__name__})"
    if isinstance(exc, SSL.Error) and exc.args and isinstance(exc.args[0], list):
        # pyOpenSSL's (library, function, reason) triples
        return "TLS: " + ", ".join(str(e[-1]) for e in exc.args[0])
    return f"{type(exc).__name__}: {exc}"


@implementer(IChannelSource)
class HttpSource(ReconnectingSource):
    """Streams a response body as TS, and asks again whenever it ends.

    Credentials in the URL go out as Basic authentication (and not to
    another origin a redirect leads to).  ``timeout`` bounds each wait:
    connecting and the response headers, then every gap between body
    bytes.  ``tls`` decides which certificates are trusted; the default is
    the system's trust store, with the hostname checked.
    """

    def __init__(
        self,
        url: str,
        reactor: Any,  # IReactorTime, IReactorTCP, IReactorPluggableNameResolver
        tls: IPolicyForHTTPS | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(display_url(url), reactor)
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 -- raises ValueError for a bad port
            netloc = parts.netloc.rpartition("@")[2]
            target = urlunsplit(parts._replace(netloc=netloc, fragment=""))
            self._target = target.encode("ascii")
        except (ValueError, UnicodeEncodeError) as e:
            raise UnsupportedSource(f"{self.name}: {e}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UnsupportedSource(f"{self.name}: not an http(s) URL with a host")
        self._headers = Headers({b"User-Agent": [f"xrelay/{__version__}".encode()]})
        if parts.username is not None:
            userpass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            basic = b"Basic " + b64encode(userpass.encode())
            self._headers.addRawHeader(b"Authorization", basic)
        self._timeout = timeout
        self._connections = _Connections(reactor, tls or BrowserLikePolicyForHTTPS())
        self._agent = BrowserLikeRedirectAgent(
            Agent.usingEndpointFactory(reactor, self._connections)
        )
        self._pending: Deferred[IResponse] | None = None  # waiting for headers
        self._body: _Body | None = None  # streaming
        self._deadline: IDelayedCall | None = None
        self._cause: str | None = None  # why we cut the attempt short

    def _attempt(self) -> None:
        self._progress()
        d = self._agent.request(b"GET", self._target, self._headers)
        self._pending = d
        d.addCallbacks(self._got_response, self._request_failed)
        d.addErrback(lambda f: self.log.failure("bug in {source}", f, source=self.name))

    def _release(self) -> Deferred[None]:
        self._stop_deadline()
        if self._pending is not None:
            self._pending.cancel()
        return self._connections.abort_all()

    def _got_response(self, response: IResponse) -> None:
        self._pending = None
        previous = response.previousResponse
        while previous is not None:  # the redirects that led here
            previous.deliverBody(_Discard())
            previous = previous.previousResponse
        if not 200 <= response.code < 300:
            response.deliverBody(_Discard())
            phrase = response.phrase.decode("latin-1")
            self._end(f"HTTP {response.code} {phrase}")
            return
        self.connected = True
        self._progress()
        self._body = _Body(self)
        response.deliverBody(self._body)

    def _request_failed(self, failure: Failure) -> None:
        self._pending = None
        self._end(self._cause or _describe(failure))

    def _received(self, data: bytes) -> None:
        self._progress()
        super()._received(data)

    def _body_lost(self, reason: Failure) -> None:
        self._body = None
        self._end(self._cause or _describe(reason))

    def _end(self, cause: str) -> None:
        self._stop_deadline()
        self._cause = None
        self._attempt_failed(cause)

    def _progress(self) -> None:
        """Something arrived: push the deadline back."""
        if self._stopped:
            return
        if self._deadline is not None and self._deadline.active():
            self._deadline.reset(self._timeout)
        else:
            self._deadline = self._clock.callLater(self._timeout, self._timed_out)

    def _stop_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self._pending is not None:
            self._cause = f"no response in {self._timeout:g} s"
            self._pending.cancel()
        elif self._body is not None:
            self._cause = f"no data for {self._timeout:g} s"
            cast(IPushProducer, self._body.transport).stopProducing()


def source_from_url(url: str, reactor: Any) -> IChannelSource:
    return HttpSource(url, reactor)
