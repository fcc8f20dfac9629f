"""``tcp://`` sources: raw MPEG-TS over a TCP connection.

``tcp://@ADDR:PORT`` listens on ADDR:PORT (an IP address; ``@0.0.0.0`` or
``@[::]`` for every interface) for an encoder that connects and pushes TS.
One encoder at a time: while one is connected, others are refused.  When it
disconnects the source keeps listening for a reconnect.

``tcp://HOST:PORT`` connects to HOST:PORT and reads TS from it,
reconnecting whenever the connection fails or closes: 0.5 s after a
failure, doubling to at most 10 s between attempts (plus up to 1 s of
jitter).  After ``give_up_after`` seconds (default 10) with no TS, counted
from start or from the loss of a connection that was delivering, it calls
``source_ended`` once, naming the cause, and still keeps retrying: the
failover layer may switch away, and the source delivers again as soon as
the upstream is back.

Both hang up on a peer that sends nothing for ``idle_timeout`` seconds
(default 10), so a silent encoder cannot hold the single push slot and a
stuck upstream gets a fresh connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import attrs
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.endpoints import HostnameEndpoint, serverFromString
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from xrelay.ingest._errors import UnsupportedSource
from xrelay.ingest._redact import display_url
from xrelay.interfaces import IChannelSource, IPacketSink
from xrelay.mpegts import PACKET_SIZE, PacketSplitter

IDLE_TIMEOUT = 10.0
GIVE_UP_AFTER = 10.0
CONNECT_TIMEOUT = 5.0
# attempt n waits 0.25 * 2**n: 0.5, 1, 2, 4, 8, then 10 s
RETRY_POLICY = backoffPolicy(initialDelay=0.25, maxDelay=10.0, factor=2.0)


def source_from_url(url: str, reactor: Any) -> TcpPushSource | TcpPullSource:
    """``reactor`` provides IReactorTCP and IReactorTime."""

    def bad(problem: str) -> UnsupportedSource:
        return UnsupportedSource(f"{display_url(url)!r}: {problem}")

    parts = urlsplit(url)
    if parts.scheme != "tcp":
        raise bad("not a tcp:// URL")
    if parts.username or parts.password is not None:
        raise bad(
            "credentials have no meaning here "
            "(tcp://@ADDR:PORT listens, tcp://HOST:PORT connects)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise bad("unexpected text after the port")
    try:
        port = parts.port
    except ValueError:
        raise bad("bad port") from None
    if not port:
        raise bad("no port")
    host = parts.hostname
    if not host:
        raise bad("no address (listen on every interface with tcp://@0.0.0.0:PORT)")
    if "@" not in parts.netloc:
        client = HostnameEndpoint(reactor, host, port, timeout=CONNECT_TIMEOUT)
        return TcpPullSource(url, client, reactor)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise bad(f"the listen address {host!r} is not an IP address") from None
    interface = str(address).replace(":", r"\:")  # endpoint-string escaping
    server = serverFromString(reactor, f"tcp:{port}:interface={interface}")
    return TcpPushSource(url, server, reactor)


class _Stream(Protocol, TimeoutMixin):
    """One connection carrying TS: hands its bytes to the source, and hangs
    up after the source's idle timeout without data."""

    def __init__(self, source: _TcpSource) -> None:
        self._source = source
        self.lost: Deferred[None] = Deferred()

    def callLater(self, period: float, func: Callable[[], object]) -> IDelayedCall:
        return self._source.clock.callLater(period, func)  # TimeoutMixin's timer

    def connectionMade(self) -> None:
        self.setTimeout(self._source.idle_timeout)
        self._source.connection_made(self)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        self._source.data_received(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.setTimeout(None)
        self._source.connection_lost(self, reason)
        self.lost.callback(None)

    def timeoutConnection(self) -> None:
        self._source.log.warn(
            "{url}: nothing from {peer} in {seconds} s, hanging up",
            url=self._source.url,
            peer=self.peer(),
            seconds=self._source.idle_timeout,
        )
        self.transport.abortConnection()  # type: ignore[union-attr]

    def close(self) -> Deferred[None]:
        self.transport.loseConnection()  # type: ignore[union-attr]
        return self.lost

    def peer(self) -> str:
        return _host_port(self.transport.getPeer())  # type: ignore[union-attr]


def _host_port(address: IAddress | None) -> str:
    return f"{getattr(address, 'host', '?')}:{getattr(address, 'port', '?')}"


class _StreamFactory(Factory):
    noisy = False  # the source logs what matters

    def __init__(self, source: _TcpSource) -> None:
        self._source = source

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        return self._source.build_stream(addr)


class _TcpSource:
    """What pushing and pulling share: one connection at a time feeding a
    splitter, and the counters ``bytes_in`` (bytes read), ``packets_in``
    (whole packets delivered), ``garbage_bytes`` (bytes skipped as not TS)
    and ``connected``."""

    log = Logger()

    def __init__(self, url: str, clock: IReactorTime, idle_timeout: float) -> None:
        self.url = url
        self.clock = clock
        self.idle_timeout = idle_timeout
        self._sink: IPacketSink | None = None
        self._stream: _Stream | None = None
        self._splitter = PacketSplitter()
        self._old_garbage = 0  # from the splitters of earlier connections
        self.bytes_in = 0
        self.packets_in = 0

    @property
    def connected(self) -> bool:
        return self._stream is not None

    @property
    def garbage_bytes(self) -> int:
        return self._old_garbage + self._splitter.garbage_bytes

    def build_stream(self, addr: IAddress | None) -> _Stream | None:
        return _Stream(self)

    def connection_made(self, stream: _Stream) -> None:
        self._stream = stream
        # A new connection is a new byte stream: a half packet left over
        # from the last one must not be glued to its first bytes.
        self._old_garbage = self.garbage_bytes
        self._splitter = PacketSplitter()
        self.log.info(
            "{url}: connection with {peer} up", url=self.url, peer=stream.peer()
        )

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        packets = self._splitter.feed(data)
        if packets and self._sink is not None:
            self.packets_in += len(packets) // PACKET_SIZE
            self._sink.write_packets(packets)

    def connection_lost(self, stream: _Stream, reason: Failure) -> None:
        if stream is self._stream:
            self._stream = None
        self.log.info(
            "{url}: connection with {peer} closed: {why}",
            url=self.url,
            peer=stream.peer(),
            why=reason.getErrorMessage(),
        )


@implementer(IChannelSource)
class TcpPushSource(_TcpSource):
    """``tcp://@ADDR:PORT``: listens for one encoder at a time.  It ends
    (``source_ended``) only if it cannot listen; an encoder going away just
    means waiting for the next one."""

    passive = True  # failover keeps it listening while others play

    def __init__(
        self,
        url: str,
        endpoint: IStreamServerEndpoint,
        clock: IReactorTime,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        super().__init__(url, clock, idle_timeout)
        self._endpoint = endpoint
        self._port: IListeningPort | None = None
        self._listening: Deferred[None] = succeed(None)
        self._stopping = False

    def start(self, sink: IPacketSink) -> None:
        self._sink = sink
        self._listening = self._endpoint.listen(_StreamFactory(self)).addCallbacks(
            self._listened, self._listen_failed
        )

    def stop(self) -> Deferred[None]:
        self._stopping = True
        # _listening also covers a listen still under way (see _listened).
        closing = [self._listening]
        if self._stream is not None:
            closing.append(self._stream.close())
        port, self._port = self._port, None
        if port is not None:
            closing.append(_stop_listening(port))
        return gatherResults(closing).addCallback(lambda _: None)

    def build_stream(self, addr: IAddress | None) -> _Stream | None:
        if self._stream is not None:
            self.log.warn(
                "{url}: refusing encoder {new}: {active} is already connected",
                url=self.url,
                new=_host_port(addr),
                active=self._stream.peer(),
            )
            return None  # the listener closes the connection
        return _Stream(self)

    def _listened(self, port: IListeningPort) -> Deferred[None] | None:
        if self._stopping:
            return _stop_listening(port)
        self._port = port
        self.log.info("{url}: waiting for an encoder", url=self.url)
        return None

    def _listen_failed(self, failure: Failure) -> None:
        reason = f"{self.url}: cannot listen: {failure.getErrorMessage()}"
        self.log.warn("{reason}", reason=reason)
        if self._sink is not None:
            self._sink.source_ended(reason)


def _stop_listening(port: IListeningPort) -> Deferred[None]:
    stopped = port.stopListening()
    return succeed(None) if stopped is None else stopped


@implementer(IStreamClientEndpoint)
@attrs.define(repr=False)
class _NotingFailures:
    """The upstream's endpoint, telling the source why an attempt failed
    (ClientService just retries), and named by URL in ClientService's log."""

    url: str
    endpoint: IStreamClientEndpoint
    failed: Callable[[Failure], None]

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[IProtocol]:
        return self.endpoint.connect(protocolFactory).addErrback(self._note)

    def _note(self, failure: Failure) -> Failure:
        self.failed(failure)
        return failure

    def __repr__(self) -> str:
        return self.url


@implementer(IChannelSource)
class TcpPullSource(_TcpSource):
    """``tcp://HOST:PORT``: connects, and reconnects with backoff forever."""

    def __init__(
        self,
        url: str,
        endpoint: IStreamClientEndpoint,
        clock: IReactorTime,
        give_up_after: float = GIVE_UP_AFTER,
        idle_timeout: float = IDLE_TIMEOUT,
        retry_policy: Callable[[int], float] = RETRY_POLICY,
    ) -> None:
        super().__init__(url, clock, idle_timeout)
        self.give_up_after = give_up_after
        self._service = ClientService(
            _NotingFailures(url, endpoint, self._connect_failed),
            _StreamFactory(self),
            retry_policy,
            clock=clock,
        )
        self._delivering = False  # TS has flowed since the last outage began
        self._outage: IDelayedCall | None = None
        self._problem = "no connection yet"
        self._stopping = False

    def start(self, sink: IPacketSink) -> None:
        self._sink = sink
        self._outage_began()
        self._service.startService()

    def stop(self) -> Deferred[None]:
        self._stopping = True
        if self._outage is not None:
            self._outage.cancel()
            self._outage = None
        stopped: Deferred[None] = self._service.stopService()
        return stopped

    def connection_made(self, stream: _Stream) -> None:
        super().connection_made(stream)
        self._problem = "connected, but no TS arrived"

    def data_received(self, data: bytes) -> None:
        before = self.packets_in
        super().data_received(data)
        if self.packets_in > before and not self._delivering:
            self._delivering = True
            if self._outage is not None:
                self._outage.cancel()
                self._outage = None

    def connection_lost(self, stream: _Stream, reason: Failure) -> None:
        super().connection_lost(stream, reason)
        self._problem = f"connection lost: {reason.getErrorMessage()}"
        if self._delivering and not self._stopping:
            self._delivering = False
            self._outage_began()

    def _connect_failed(self, failure: Failure) -> None:
        self._problem = f"cannot connect: {failure.getErrorMessage()}"

    def _outage_began(self) -> None:
        self._outage = self.clock.callLater(self.give_up_after, self._outage_too_long)

    def _outage_too_long(self) -> None:
        self._outage = None
        reason = (
            f"{self.url}: no TS for {self.give_up_after:g} s ({self._problem}); "
            "still retrying"
        )
        self.log.warn("{reason}", reason=reason)
        if self._sink is not None:
            self._sink.source_ended(reason)
