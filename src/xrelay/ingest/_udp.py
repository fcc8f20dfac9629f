"""``udp://`` and ``rtp://`` sources: MPEG-TS in UDP datagrams.

| URL | receives |
| --- | --- |
| ``udp://@239.1.1.1:5000`` | multicast group 239.1.1.1, from any source |
| ``udp://10.0.0.9@232.1.1.1:5000`` | source-specific multicast: only from 10.0.0.9 |
| ``udp://@10.0.0.5:5000``, ``udp://10.0.0.5:5000`` | unicast sent to 10.0.0.5:5000 |
| ``udp://@:5000`` | unicast to port 5000 on every interface (0.0.0.0) |

Without a source the ``@`` may be left out.  ``?iface=ADDR`` joins the
group on the interface holding ADDR (multicast only; by default the routing
table picks it).  ``rtp://`` takes the same
forms for TS carried in RTP (RFC 3550): each datagram's RTP header is
stripped.  Multicast is IPv4; unicast may be IPv6 (``udp://@[::1]:5000``).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import attrs
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from xrelay.ingest._errors import UnsupportedSource
from xrelay.ingest._redact import display_url
from xrelay.interfaces import IChannelSource, IPacketSink
from xrelay.mpegts import PACKET_SIZE, PacketSplitter

# A few MiB absorb scheduling hiccups at tens of Mbit/s; the kernel caps the
# request at net.core.rmem_max.
_RECEIVE_BUFFER = 4 * 1024 * 1024
# Python < 3.12 lacks the constant; this is Linux's value.
_IP_ADD_SOURCE_MEMBERSHIP: int | None = getattr(
    socket, "IP_ADD_SOURCE_MEMBERSHIP", 39 if sys.platform == "linux" else None
)


@attrs.frozen
class UdpAddress:
    """Where a udp:// or rtp:// URL says to receive."""

    url: str
    rtp: bool
    port: int
    bind: str  # the address the socket binds: the group, or a unicast address
    group: str | None = None  # multicast group, or None for unicast
    source: str | None = None  # source-specific multicast: the only sender
    iface: str = ""  # interface address for the join; "" lets routing choose


def parse_udp_url(url: str) -> UdpAddress:
    """Check a udp:// or rtp:// URL; raise UnsupportedSource saying why."""

    def bad(problem: str) -> UnsupportedSource:
        return UnsupportedSource(f"{display_url(url)!r}: {problem}")

    parts = urlsplit(url)
    if parts.scheme not in ("udp", "rtp"):
        raise bad("not a udp:// or rtp:// URL")
    if parts.password is not None:
        raise bad("a password has no meaning here")
    if parts.path not in ("", "/") or parts.fragment:
        raise bad("unexpected path after the port")
    try:
        port = parts.port
    except ValueError:
        raise bad("bad port") from None
    if not port:
        raise bad("no port")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    if options.keys() - {"iface"}:
        raise bad(f"unknown option in {parts.query!r} (only iface=ADDR)")
    iface = options.get("iface", "")
    rtp = parts.scheme == "rtp"
    source = parts.username or None
    if parts.hostname is None:
        if "@" not in parts.netloc:
            raise bad("no address (udp://@:PORT listens on every interface)")
        if source is not None:
            raise bad("a source address needs a multicast group")
        if iface:
            raise bad("iface= applies to multicast only")
        return UdpAddress(url, rtp, port, bind="0.0.0.0")
    address = _ip(parts.hostname)
    if address is None:
        raise bad(f"bad address {parts.hostname!r}")
    if not address.is_multicast:
        if source is not None:
            raise bad(f"{address} is not a multicast group, so no source applies")
        if iface:
            raise bad("iface= applies to multicast only")
        return UdpAddress(url, rtp, port, bind=str(address))
    if address.version != 4:
        raise bad("IPv6 multicast is not supported")
    if iface and _ipv4(iface) is None:
        raise bad(f"iface={iface!r} is not an IPv4 address")
    if source is not None:
        sender = _ipv4(source)
        if sender is None or sender.is_multicast:
            raise bad(f"bad source address {source!r}")
        source = str(sender)
    group = str(address)
    return UdpAddress(url, rtp, port, group, group, source, iface)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    address = _ip(text)
    return address if isinstance(address, ipaddress.IPv4Address) else None


def rtp_payload(datagram: bytes) -> bytes | None:
    """The payload of an RTP packet (RFC 3550 section 5.1), or None if
    ``datagram`` is not one."""
    if len(datagram) < 12 or datagram[0] >> 6 != 2:
        return None
    start = 12 + 4 * (datagram[0] & 0x0F)  # fixed header, then CSRCs
    if datagram[0] & 0x10:  # an extension: 16-bit profile, 16-bit word count
        if len(datagram) < start + 4:
            return None
        start += 4 + 4 * int.from_bytes(datagram[start + 2 : start + 4], "big")
    end = len(datagram)
    if datagram[0] & 0x20:  # padding, its length in the last byte
        end -= datagram[-1]
    if end < start:
        return None
    return datagram[start:end]


def _join_source_specific(
    sock: socket.socket, group: str, source: str, iface: str
) -> None:
    if _IP_ADD_SOURCE_MEMBERSHIP is None:
        raise OSError("IP_ADD_SOURCE_MEMBERSHIP is not available here")
    group_b, source_b = socket.inet_aton(group), socket.inet_aton(source)
    iface_b = socket.inet_aton(iface or "0.0.0.0")
    # struct ip_mreq_source: Linux puts the interface second, BSDs and
    # Windows put the source second.
    if sys.platform == "linux":
        request = group_b + iface_b + source_b
    else:
        request = group_b + source_b + iface_b
    sock.setsockopt(socket.IPPROTO_IP, _IP_ADD_SOURCE_MEMBERSHIP, request)


def source_from_url(url: str, reactor: Any) -> UdpSource:
    """``reactor`` provides IReactorUDP and IReactorMulticast."""
    return UdpSource(parse_udp_url(url), reactor)


class _Receiver(DatagramProtocol):
    noisy = False

    def __init__(self, source: UdpSource) -> None:
        self._source = source

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self._source.datagram_received(datagram, addr[0])


@implementer(IChannelSource)
class UdpSource:
    """Receives datagrams and hands their whole TS packets to the sink, one
    call per datagram.  Binding a multicast socket to its group (not
    0.0.0.0) keeps another group on the same port out.

    Counters: ``bytes_in`` (datagram bytes accepted), ``packets_in`` (whole
    packets delivered), ``garbage_bytes`` (bytes that were not TS, including
    datagrams that are not RTP on an rtp:// source) and
    ``foreign_datagrams`` (from a sender other than the SSM source).
    """

    log = Logger()
    _small_buffer_logged: ClassVar[bool] = False  # say it once per process
    passive = True  # failover keeps it bound (and joined) while others play

    def __init__(self, address: UdpAddress, reactor: Any) -> None:
        self.address = address
        self._reactor = reactor
        self._sink: IPacketSink | None = None
        self._port: IListeningPort | None = None
        self._splitter = PacketSplitter()
        self._not_rtp_bytes = 0
        self.bytes_in = 0
        self.packets_in = 0
        self.foreign_datagrams = 0

    @property
    def garbage_bytes(self) -> int:
        return self._splitter.garbage_bytes + self._not_rtp_bytes

    def start(self, sink: IPacketSink) -> None:
        self._sink = sink
        a = self.address
        protocol = _Receiver(self)
        try:
            if a.group is None:
                port = self._reactor.listenUDP(a.port, protocol, a.bind)
            else:
                port = self._reactor.listenMulticast(
                    a.port, protocol, a.group, listenMultiple=True
                )
        except CannotListenError as e:
            self._end(f"cannot listen: {e.socketError}")
            return
        self._port = port
        self._grow_receive_buffer(port.socket)
        if a.group is not None:
            self._join(port, a.group)

    def stop(self) -> Deferred[None]:
        port, self._port = self._port, None
        if port is None:
            return succeed(None)
        return maybeDeferred(port.stopListening).addCallback(lambda _: None)

    def datagram_received(self, datagram: bytes, sender: str) -> None:
        if self.address.source is not None and sender != self.address.source:
            # The kernel filters these when the SSM join worked; this covers
            # the any-source fallback.
            self.foreign_datagrams += 1
            if self.foreign_datagrams == 1:
                self.log.warn(
                    "{url}: ignoring datagrams from {sender}",
                    url=self.address.url,
                    sender=sender,
                )
            return
        self.bytes_in += len(datagram)
        if self.address.rtp:
            payload = rtp_payload(datagram)
            if payload is None:
                self._not_rtp_bytes += len(datagram)
                return
            datagram = payload
        packets = self._splitter.feed(datagram)
        if packets and self._sink is not None:
            self.packets_in += len(packets) // PACKET_SIZE
            self._sink.write_packets(packets)

    def _join(self, port: Any, group: str) -> None:
        a = self.address
        if a.source is not None:
            try:
                _join_source_specific(port.socket, group, a.source, a.iface)
                return
            except OSError as e:
                self.log.warn(
                    "{url}: source-specific join failed ({error}); joining "
                    "any-source and dropping datagrams from other senders",
                    url=a.url,
                    error=e,
                )
        port.joinGroup(group, a.iface).addErrback(self._join_failed)

    def _join_failed(self, failure: Failure) -> None:
        self._end(f"cannot join the group: {failure.getErrorMessage()}")

    def _grow_receive_buffer(self, sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError:
            granted = 0
        if granted < _RECEIVE_BUFFER and not UdpSource._small_buffer_logged:
            UdpSource._small_buffer_logged = True
            self.log.info(
                "UDP receive buffers get {granted} bytes, not {wanted}: raise "
                "net.core.rmem_max to avoid losses at high bitrates",
                granted=granted,
                wanted=_RECEIVE_BUFFER,
            )

    def _end(self, cause: str) -> None:
        reason = f"{self.address.url}: {cause}"
        self.log.warn("{reason}", reason=reason)
        self.stop().addErrback(lambda f: self.log.failure("closing", f))
        if self._sink is not None:
            self._sink.source_ended(reason)
