"""``get.php``: the M3U playlist over a real Site."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

import attrs
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from tests.xtream._harness import Response, XtreamTestCase, parse_response
from xrelay.models import Channel
from xrelay.xtream import ServerAddress, _fields

BASE = "http://tv.example.org:8080"
GUIDE = f"{BASE}/xmltv.php?username=alice&password=pw"


class PlaylistTests(XtreamTestCase):
    def playlist(self, user: str = "alice", **params: str) -> Response:
        query = urlencode({"username": user, "password": "pw", **params})
        return self.request(f"/get.php?{query}")

    def test_m3u_plus_is_the_default(self) -> None:
        response = self.playlist()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers["content-type"], "audio/x-mpegurl")
        self.assertEqual(
            response.headers["content-disposition"],
            'attachment; filename="tv_channels_alice.m3u"',
        )
        self.assertEqual(response.headers["access-control-allow-origin"], "*")
        self.assertEqual(
            response.text.splitlines(),
            [
                f'#EXTM3U x-tvg-url="{GUIDE}" url-tvg="{GUIDE}"',
                '#EXTINF:-1 tvg-id="n.uk" tvg-name="News 24" tvg-logo="http://l/1.png"'
                ' group-title="News" tvg-chno="101",News 24',
                f"{BASE}/live/alice/pw/1.ts",
                '#EXTINF:-1 tvg-id="" tvg-name="Sport \'Live\' HD" tvg-logo=""'
                ' group-title="Sports" tvg-chno="102",Sport "Live" HD',
                f"{BASE}/live/alice/pw/2.ts",
                '#EXTINF:-1 tvg-id="" tvg-name="Loose" tvg-logo="" group-title=""'
                ' tvg-chno="103",Loose',
                f"{BASE}/live/alice/pw/3.ts",
                '#EXTINF:-1 tvg-id="" tvg-name="Big Buck Bunny"'
                ' tvg-logo="http://p/1.jpg" group-title="Movies",Big Buck Bunny',
                f"{BASE}/movie/alice/pw/1.mp4",
                '#EXTINF:-1 tvg-id="" tvg-name="Sintel" tvg-logo=""'
                ' group-title="Movies",Sintel',
                f"{BASE}/movie/alice/pw/2.mkv",
                '#EXTINF:-1 tvg-id="" tvg-name="Show S00E01 Special"'
                ' tvg-logo="http://c/1.jpg" group-title="Drama",Show S00E01 Special',
                f"{BASE}/series/alice/pw/10.mp4",
                '#EXTINF:-1 tvg-id="" tvg-name="Show S01E01 Pilot"'
                ' tvg-logo="http://c/1.jpg" group-title="Drama",Show S01E01 Pilot',
                f"{BASE}/series/alice/pw/11.mkv",
                '#EXTINF:-1 tvg-id="" tvg-name="Show S01E02 Second"'
                ' tvg-logo="http://c/1.jpg" group-title="Drama",Show S01E02 Second',
                f"{BASE}/series/alice/pw/12.mkv",
            ],
        )
        self.assertTrue(response.text.endswith(".mkv\n"))

    def test_bare_m3u(self) -> None:
        lines = self.playlist(type="m3u").text.splitlines()
        self.assertEqual(lines[1], "#EXTINF:-1,News 24")
        self.assertEqual(lines[2], f"{BASE}/live/alice/pw/1.ts")
        self.assertEqual(lines[3], '#EXTINF:-1,Sport "Live" HD')

    def test_output_formats(self) -> None:
        for output, extension in (
            ("ts", ".ts"),
            ("mpegts", ".ts"),
            ("m3u8", ".m3u8"),
            ("hls", ".m3u8"),
        ):
            text = self.playlist(output=output).text
            self.assertIn(f"/live/alice/pw/1{extension}\n", text, output)
            self.assertIn("/movie/alice/pw/1.mp4\n", text, output)

    def test_catch_up_attributes(self) -> None:
        # Seam: no Channel field holds an archive yet (see archive_days).
        self.patch(_fields, "archive_days", lambda c: 7 if c.id == 1 else 0)
        source = f"{BASE}/timeshift/alice/pw/{{duration:60}}/{{utc}}/1"
        for output, extension in (("ts", "ts"), ("hls", "m3u8")):
            lines = self.playlist(output=output).text.splitlines()
            self.assertEqual(
                lines[1:4],
                [
                    '#EXTINF:-1 tvg-id="n.uk" tvg-name="News 24"'
                    ' tvg-logo="http://l/1.png" group-title="News" tvg-chno="101"'
                    ' catchup="default" catchup-days="7"'
                    f' catchup-source="{source}.{extension}",News 24',
                    f"{BASE}/live/alice/pw/1.{extension}",
                    '#EXTINF:-1 tvg-id="" tvg-name="Sport \'Live\' HD" tvg-logo=""'
                    ' group-title="Sports" tvg-chno="102",Sport "Live" HD',
                ],
                output,
            )
        bare = self.playlist(type="m3u").text.splitlines()
        self.assertEqual(
            bare[1:3], ["#EXTINF:-1,News 24", f"{BASE}/live/alice/pw/1.ts"]
        )

    def test_output_must_be_allowed_for_the_line(self) -> None:
        self.assertEqual(self.playlist("hls", output="ts").status, 403)
        self.assertEqual(self.playlist("hls").status, 403, "ts is the default")
        self.assertEqual(self.playlist("hls", output="hls").status, 200)

    def test_unsupported_type_or_output(self) -> None:
        self.assertEqual(self.playlist(type="enigma2").status, 400)
        self.assertEqual(self.playlist(output="rtmp").status, 400)

    def test_refusals_are_text(self) -> None:
        for path, status in (
            ("/get.php?username=alice&password=wrong", 401),
            ("/get.php?username=mallory&password=pw", 401),
            ("/get.php", 401),
            ("/get.php?username=old&password=pw", 403),
            ("/get.php?username=off&password=pw", 403),
        ):
            response = self.request(path)
            self.assertEqual(response.status, status, path)
            self.assertTrue(
                response.headers["content-type"].startswith("text/plain"), path
            )
            self.assertNotIn(b"#EXTM3U", response.body)

    def test_bouquets(self) -> None:
        urls = [
            line
            for line in self.playlist("bob").text.splitlines()
            if line.startswith("http")
        ]
        self.assertEqual(
            urls,
            [
                "http://tv.example.org:8080/live/bob/pw/1.ts",
                "http://tv.example.org:8080/movie/bob/pw/1.mp4",
                "http://tv.example.org:8080/series/bob/pw/10.mp4",
                "http://tv.example.org:8080/series/bob/pw/11.mkv",
                "http://tv.example.org:8080/series/bob/pw/12.mkv",
            ],
        )

    def test_post_form(self) -> None:
        body = urlencode({"username": "alice", "password": "pw", "output": "m3u8"})
        response = self.request(
            "/get.php",
            "POST",
            {"content-type": "application/x-www-form-urlencoded"},
            body.encode(),
        )
        self.assertEqual(response.status, 200)
        self.assertIn("/live/alice/pw/1.m3u8\n", response.text)

    def test_gzip_only_when_asked(self) -> None:
        plain = self.playlist()
        self.assertNotIn("content-encoding", plain.headers)
        zipped = self.request(
            "/get.php?username=alice&password=pw", headers={"Accept-Encoding": "gzip"}
        )
        self.assertEqual(zipped.headers["content-encoding"], "gzip")
        self.assertEqual(zipped.body, plain.body)

    def test_public_host(self) -> None:
        self.address = ServerAddress.from_config("tv.example.net:81", ["tcp:8080"])
        self.setUp_site()
        text = self.playlist().text
        self.assertIn('x-tvg-url="http://tv.example.net:81/xmltv.php?', text)
        self.assertIn("http://tv.example.net:81/live/alice/pw/1.ts\n", text)

    def test_https_urls(self) -> None:
        text = self.request(
            "/get.php?username=alice&password=pw",
            headers={"Host": "tv.example.org"},
            secure=True,
        ).text
        self.assertIn("https://tv.example.org/live/alice/pw/1.ts\n", text)

    def test_host_header_garbage_falls_back_to_our_address(self) -> None:
        text = self.request(
            "/get.php?username=alice&password=pw", headers={"Host": 'x" y'}
        ).text
        self.assertIn("http://10.0.0.1:8080/live/alice/pw/1.ts\n", text)

    def test_head(self) -> None:
        response = self.request("/get.php?username=alice&password=pw", "HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers["content-type"], "audio/x-mpegurl")
        self.assertEqual(response.body, b"")


class SlowClientTransport(StringTransport):
    """Pauses its producer once ``limit`` bytes wait unsent, as a real
    transport does when the kernel buffer is full."""

    limit = 100_000

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(self.value()) > self.limit and self.producer is not None:
            self.producer.pauseProducing()

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))


class StreamingTests(XtreamTestCase):
    """The playlist goes out a slice per reactor turn, and never while the
    client's connection is full."""

    def seed(self) -> None:
        super().seed()
        catalog = self.successResultOf(self.store.read_catalog())
        more = tuple(
            Channel(i, i + 1000, f"C{i}", None, (f"fake://{i}",))
            for i in range(4, 10_004)
        )
        catalog = attrs.evolve(catalog, channels=catalog.channels + more)
        self.successResultOf(self.store.replace_catalog(catalog))

    def test_a_full_connection_pauses_the_playlist(self) -> None:
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = self.site.buildProtocol(address)
        transport = SlowClientTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(
            b"GET /get.php?username=alice&password=pw HTTP/1.1\r\nHost: tv\r\n\r\n"
        )
        received, turns = b"", 0
        while True:
            self.clock.advance(0)
            sent = transport.value()
            self.assertLess(len(sent), transport.limit + 300_000, "one slice over")
            received += sent
            transport.clear()
            if received.endswith(b"0\r\n\r\n"):
                break
            turns += 1
            self.assertLess(turns, 100)
            transport.producer.resumeProducing()  # the kernel took it all
        self.assertGreater(turns, 3, "it had to wait for the client")
        text = parse_response(received).text
        self.assertEqual(text.count("#EXTINF"), 10_008)
        self.assertTrue(text.endswith("/series/alice/pw/12.mkv\n"))

    def test_a_client_leaving_stops_it(self) -> None:
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = self.site.buildProtocol(address)
        transport = SlowClientTransport(peerAddress=address)
        protocol.makeConnection(transport)
        protocol.dataReceived(
            b"GET /get.php?username=alice&password=pw HTTP/1.1\r\nHost: tv\r\n\r\n"
        )
        self.clock.advance(0)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.clock.getDelayedCalls(), [])
