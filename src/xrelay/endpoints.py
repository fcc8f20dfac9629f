"""``reuseport:PORT[:interface=ADDR][:backlog=N]`` server endpoints.

Like ``tcp:`` but with SO_REUSEPORT, so several xrelay processes can listen
on one port and the kernel spreads new connections between them: one worker
per core.  Linux (and the BSDs) only.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import IPlugin
from zope.interface import implementer


@implementer(IStreamServerEndpoint)
class ReusePortEndpoint:
    def __init__(
        self, reactor: Any, port: int, interface: str = "127.0.0.1", backlog: int = 128
    ) -> None:
        self._reactor = reactor
        self._port = port
        self._interface = interface
        self._backlog = backlog

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        family = socket.AF_INET6 if ":" in self._interface else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self._interface, self._port))
            sock.listen(self._backlog)
            sock.setblocking(False)
            # adoptStreamPort duplicates the descriptor; ours is closed below.
            port = self._reactor.adoptStreamPort(sock.fileno(), family, factory)
        finally:
            sock.close()
        return succeed(port)


@implementer(IPlugin, IStreamServerEndpointStringParser)
class ReusePortParser:
    prefix = "reuseport"

    def parseStreamServer(
        self, reactor: Any, *args: object, **kwargs: object
    ) -> IStreamServerEndpoint:
        """``reuseport:PORT[:interface=ADDR][:backlog=N]``."""
        if not hasattr(socket, "SO_REUSEPORT"):
            raise ValueError("reuseport: SO_REUSEPORT is not available on this system")
        if len(args) != 1 or set(kwargs) - {"interface", "backlog"}:
            raise ValueError("reuseport: expected reuseport:PORT[:interface=ADDR]")
        return ReusePortEndpoint(
            reactor,
            int(str(args[0])),
            str(kwargs.get("interface", "127.0.0.1")),
            int(str(kwargs.get("backlog", "128"))),
        )
