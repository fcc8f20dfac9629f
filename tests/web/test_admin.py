"""The admin API: bearer token, status document."""

from __future__ import annotations

import json

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site

from xrelay.cli import main
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.web import AdminApi, XRelayRoot
from xrelay.web._live import LiveStreams


def verify_now(password: str, stored: str) -> Deferred[bool]:
    return succeed(verify_password(password, stored))


class AdminApiTests(SynchronousTestCase):
    def site(self, token_hash: str) -> Site:
        status = {"node": "n1", "channels": [{"channel": 1, "viewers": []}]}
        admin = AdminApi(token_hash, verify_now, lambda: status)
        live = LiveStreams(None, None, None, None)  # type: ignore[arg-type]
        return Site(XRelayRoot(live, admin), reactor=Clock())

    def get(self, site: Site, path: str, headers: str = "") -> bytes:
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = site.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(
            f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()
        )
        return transport.value()

    def test_status_with_the_token(self) -> None:
        response = self.get(
            self.site(hash_password("t0ken")),
            "/admin/status",
            "Authorization: Bearer t0ken\r\n",
        )
        self.assertTrue(response.startswith(b"HTTP/1.1 200 "))
        body = json.loads(
            response.split(b"\r\n\r\n", 1)[1]
            .split(b"\r\n", 1)[1]
            .rsplit(b"\r\n0", 1)[0]
        )
        self.assertEqual(body["node"], "n1")

    def test_wrong_or_missing_token_is_401(self) -> None:
        site = self.site(hash_password("t0ken"))
        for headers in (
            "",
            "Authorization: Bearer nope\r\n",
            "Authorization: Basic dDB rZW4=\r\n",
        ):
            response = self.get(site, "/admin/status", headers)
            self.assertTrue(response.startswith(b"HTTP/1.1 401 "), headers)
            self.assertIn(b"WWW-Authenticate: Bearer", response)

    def test_off_without_a_configured_token(self) -> None:
        response = self.get(
            self.site(""), "/admin/status", "Authorization: Bearer x\r\n"
        )
        self.assertTrue(response.startswith(b"HTTP/1.1 404 "))


class AdminTokenCommandTests(SynchronousTestCase):
    def test_prints_a_token_and_its_hash(self) -> None:
        import io
        from contextlib import redirect_stdout

        out = io.StringIO()
        with redirect_stdout(out):
            self.assertEqual(main(["admin-token"]), 0)
        text = out.getvalue()
        token = text.split("token: ", 1)[1].split("\n", 1)[0]
        stored = text.split('token_hash = "', 1)[1].split('"', 1)[0]
        self.assertTrue(verify_password(token, stored))
