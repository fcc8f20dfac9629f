"""Where players should reach this server: ``server_info`` and the base
of every URL a playlist hands out."""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs
from twisted.web.server import Request

_AUTHORITY = re.compile(r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")
_PLAIN_ENDPOINTS = ("tcp", "tcp6", "reuseport")
_TLS_ENDPOINTS = ("ssl",)


@attrs.frozen
class Origin:
    """This server as seen by one request's client."""

    scheme: str  # "http" or "https": how the request arrived
    host: str  # no port; an IPv6 address keeps its brackets
    port: int  # the port of ``scheme``
    http_port: int
    https_port: int

    @property
    def base(self) -> str:
        """``scheme://host[:port]``, for absolute URLs."""
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


@attrs.frozen
class ServerAddress:
    """``public_host`` (host or host:port; "" = each request's Host
    header) and the ports of the configured plain and TLS listeners."""

    public_host: str = ""
    http_port: int | None = None
    https_port: int | None = None

    @classmethod
    def from_config(cls, public_host: str, endpoints: Iterable[str]) -> ServerAddress:
        plain: list[int] = []
        tls: list[int] = []
        for description in endpoints:
            kind, port = endpoint_port(description)
            if port is not None and kind in _PLAIN_ENDPOINTS:
                plain.append(port)
            elif port is not None and kind in _TLS_ENDPOINTS:
                tls.append(port)
        return cls(public_host, plain[0] if plain else None, tls[0] if tls else None)

    def origin(self, request: Request) -> Origin:
        secure = request.isSecure()
        host, port = split_authority(
            self.public_host or request.getHeader("host") or ""
        )
        if not host:  # no usable Host header (HTTP/1.0, garbage): our socket
            local = request.getHost()
            address = str(getattr(local, "host", "localhost"))
            host = f"[{address}]" if ":" in address else address
            port = int(getattr(local, "port", 0)) or None
        if port is None:
            port = 443 if secure else 80
        return Origin(
            scheme="https" if secure else "http",
            host=host,
            port=port,
            http_port=(self.http_port or port) if secure else port,
            https_port=port if secure else (self.https_port or port),
        )


def split_authority(authority: str) -> tuple[str, int | None]:
    """``("host", port or None)``; ``("", None)`` unless it is a plain
    host[:port] (a Host header is the client's to fill with anything)."""
    match = _AUTHORITY.fullmatch(authority.strip())
    if match is None:
        return "", None
    port = int(match.group(2)) if match.group(2) else None
    if port is not None and not 0 < port < 65536:
        return "", None
    return match.group(1), port


def endpoint_port(description: str) -> tuple[str, int | None]:
    """The type and the port of a server endpoint string
    (``tcp:8080:interface=...``, ``ssl:port=8443:...``); None if it has none."""
    kind, *arguments = re.split(r"(?<!\\):", description)
    positional = [a for a in arguments if "=" not in a]
    named = dict(a.split("=", 1) for a in arguments if "=" in a)
    text = named.get("port", positional[0] if positional else "")
    return kind.strip().lower(), int(text) if text.isdigit() else None
