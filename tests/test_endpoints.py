"""The reuseport: endpoint: two listeners share one port."""

from __future__ import annotations

import socket

from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase

from tests.integration._daemon import free_port


class ReusePortTests(TestCase):
    async def test_two_listeners_share_a_port_on_loopback(self) -> None:
        port = free_port()
        description = f"reuseport:{port}:interface=127.0.0.1"
        factory = Factory.forProtocol(Protocol)
        listening = await gatherResults(
            [serverFromString(reactor, description).listen(factory) for _ in range(2)]
        )
        for listener in listening:
            self.addCleanup(listener.stopListening)
            self.assertEqual(listener.getHost().port, port)
            self.assertEqual(listener.getHost().host, "127.0.0.1")
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass

    def test_bad_descriptions_are_refused(self) -> None:
        for bad in ("reuseport:", "reuseport:80:colour=red", "reuseport:x"):
            with self.assertRaises(ValueError, msg=bad):
                serverFromString(reactor, bad)
