"""Trusted reverse proxies: X-Forwarded-For believed from them only."""

from __future__ import annotations

import ipaddress

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from xrelay.web._auth import client_ip
from xrelay.web._proxy import forwarded_client, request_factory

PROXIES = ["10.0.0.0/24", "fd00::1"]


def request(peer: str, *forwarded: bytes, proxies: list[str] = PROXIES) -> Request:
    address = (
        IPv6Address("TCP", peer, 5000)
        if ":" in peer
        else IPv4Address("TCP", peer, 5000)
    )
    made = request_factory(proxies)(DummyChannel(peer=address))
    if forwarded:
        made.requestHeaders.setRawHeaders(b"x-forwarded-for", list(forwarded))
    return made


class ForwardedTests(SynchronousTestCase):
    def test_a_trusted_proxy_names_the_player(self) -> None:
        self.assertEqual(client_ip(request("10.0.0.7", b"203.0.113.9")), "203.0.113.9")
        self.assertEqual(client_ip(request("fd00::1", b"2001:db8::5")), "2001:db8::5")

    def test_the_rightmost_untrusted_hop_counts(self) -> None:
        # the player claimed 1.1.1.1 itself; the first proxy saw 203.0.113.9
        # and handed it to the second (10.0.0.8), which connected to us
        chain = request("10.0.0.7", b"1.1.1.1, 203.0.113.9", b"10.0.0.8")
        self.assertEqual(client_ip(chain), "203.0.113.9")

    def test_anyone_else_cannot_claim_an_address(self) -> None:
        self.assertEqual(
            client_ip(request("198.51.100.4", b"10.0.0.9")), "198.51.100.4"
        )

    def test_no_header_or_a_garbled_one_means_the_peer(self) -> None:
        self.assertEqual(client_ip(request("10.0.0.7")), "10.0.0.7")
        self.assertEqual(client_ip(request("10.0.0.7", b"unknown")), "10.0.0.7")
        self.assertEqual(client_ip(request("10.0.0.7", b"10.0.0.9")), "10.0.0.7")

    def test_no_trusted_proxies_is_a_plain_request(self) -> None:
        self.assertIs(request_factory([]), Request)
        plain = request("10.0.0.7", b"203.0.113.9", proxies=[])
        self.assertEqual(client_ip(plain), "10.0.0.7")

    def test_forwarded_client_alone(self) -> None:
        trusted = [ipaddress.ip_network("10.0.0.0/8")]
        self.assertEqual(
            forwarded_client([b"::ffff:192.0.2.1"], trusted),
            ipaddress.ip_address("192.0.2.1"),
        )
        self.assertIsNone(forwarded_client([b""], trusted))
        self.assertIsNone(forwarded_client([b"10.1.1.1, 10.2.2.2"], trusted))
