"""Players behind a trusted reverse proxy: their own address, not the proxy's.

Line rules (``allowed_networks``), the failed-login throttle, connection
limits and the access log all ask ``request.getClientAddress()``.  Behind
a reverse proxy (TLS offload, a CDN edge) that is the proxy, for every
player.  With ``server.trusted_proxies`` set, a request whose TCP peer is
one of them is taken to come from the address the proxy names in
``X-Forwarded-For``: the rightmost address there that is not itself a
trusted proxy (what a client wrote further left is not believed).  From
any other peer the header is ignored, so nobody can claim an address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.server import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def request_factory(trusted_proxies: Sequence[str]) -> type[Request]:
    """The ``Request`` class for a ``Site``: plain ``Request`` when no proxy
    is trusted."""
    if not trusted_proxies:
        return Request
    networks = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)

    class ForwardedRequest(Request):
        def getClientAddress(self) -> Any:
            peer = super().getClientAddress()
            host = getattr(peer, "host", None)
            if host is None or not _within(_parse(host), networks):
                return peer
            forwarded = forwarded_client(
                self.requestHeaders.getRawHeaders(b"x-forwarded-for", []), networks
            )
            if forwarded is None:
                return peer
            if isinstance(forwarded, ipaddress.IPv6Address):
                return IPv6Address("TCP", str(forwarded), 0)
            return IPv4Address("TCP", str(forwarded), 0)

    return ForwardedRequest


def forwarded_client(
    headers: Sequence[bytes], trusted: Sequence[Network]
) -> Address | None:
    """The client ``X-Forwarded-For`` names, reading from the right past the
    trusted proxies; None when it names nothing usable (absent, garbled:
    then the peer itself is the client)."""
    hops = b",".join(headers).decode("latin-1").split(",")
    for hop in reversed(hops):
        address = _parse(hop.strip())
        if address is None:
            return None
        if not _within(address, trusted):
            return address
    return None


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _within(address: Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in n for n in networks)
