"""Server address pieces: endpoint strings and Host headers."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.xtream import ServerAddress
from xrelay.xtream._address import endpoint_port, split_authority


class AddressTests(SynchronousTestCase):
    def test_endpoint_port(self) -> None:
        for description, expected in (
            ("tcp:8080:interface=127.0.0.1", ("tcp", 8080)),
            ("tcp:port=81", ("tcp", 81)),
            ("tcp6:8080:interface=\\:\\:1", ("tcp6", 8080)),
            ("ssl:8443:privateKey=k.pem:certKey=c.pem", ("ssl", 8443)),
            ("reuseport:9000", ("reuseport", 9000)),
            ("unix:/run/x.sock", ("unix", None)),
            ("systemd:domain=INET:index=0", ("systemd", None)),
        ):
            self.assertEqual(endpoint_port(description), expected, description)

    def test_from_config(self) -> None:
        address = ServerAddress.from_config(
            "", ["unix:/s", "ssl:443:privateKey=k", "tcp:80", "tcp:8080"]
        )
        self.assertEqual((address.http_port, address.https_port), (80, 443))
        address = ServerAddress.from_config("h", ["tcp:8080"])
        self.assertEqual((address.http_port, address.https_port), (8080, None))

    def test_split_authority(self) -> None:
        for authority, expected in (
            ("tv.example.org", ("tv.example.org", None)),
            ("tv.example.org:8080", ("tv.example.org", 8080)),
            ("10.0.0.1:80", ("10.0.0.1", 80)),
            ("[::1]:8080", ("[::1]", 8080)),
            ("[::1]", ("[::1]", None)),
            ("::1", ("", None)),
            ("host:99999", ("", None)),
            ('x"y', ("", None)),
            ("a b", ("", None)),
            ("", ("", None)),
        ):
            self.assertEqual(split_authority(authority), expected, authority)
