"""``/movie/`` and ``/series/``: ranges, rights, limits, paths, backpressure."""

from __future__ import annotations

import os

from twisted.internet.error import ConnectionDone
from twisted.logger import LogLevel, capturedLogs

from tests.vod._harness import MOVIE_SIZE, SlowTransport, VodTestCase

MOVIE = "/movie/alice/pw/1.mkv"


class RangeTests(VodTestCase):
    def test_whole_file(self) -> None:
        response = self.get(MOVIE)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, self.movie_bytes)
        headers = response.headers
        self.assertEqual(headers["content-type"], "video/x-matroska")
        self.assertEqual(headers["content-length"], str(MOVIE_SIZE))
        self.assertEqual(headers["accept-ranges"], "bytes")
        self.assertTrue(headers["etag"].startswith('"2dc6c0-'))
        self.assertIn("last-modified", headers)
        self.assertNotIn("content-range", headers)

    def test_ranges_are_the_exact_slices(self) -> None:
        data, size = self.movie_bytes, MOVIE_SIZE
        for header, start, end in (
            ("bytes=0-0", 0, 0),
            ("bytes=100-199", 100, 199),
            (f"bytes={size - 1}-{size - 1}", size - 1, size - 1),  # the last byte
            (f"bytes={size - 1}-", size - 1, size - 1),
            ("bytes=-1", size - 1, size - 1),
            ("bytes=-70000", size - 70000, size - 1),  # suffix
            ("bytes=2900000-", 2900000, size - 1),  # open-ended
            ("bytes=65535-131072", 65535, 131072),  # across chunk edges
            ("bytes=10-99999999999", 10, size - 1),  # past the end: cut
            ("bytes=-99999999", 0, size - 1),
        ):
            response = self.get(MOVIE, {"Range": header})
            self.assertEqual(response.status, 206, header)
            self.assertEqual(response.body, data[start : end + 1], header)
            self.assertEqual(
                response.headers["content-range"], f"bytes {start}-{end}/{size}", header
            )
            self.assertEqual(response.headers["content-length"], str(end - start + 1))

    def test_unsatisfiable_ranges_are_416_and_take_no_slot(self) -> None:
        for header in (
            f"bytes={MOVIE_SIZE}-",
            "bytes=-0",
            f"bytes={MOVIE_SIZE}-{MOVIE_SIZE + 5}",
        ):
            response = self.get(MOVIE, {"Range": header})
            self.assertEqual(response.status, 416, header)
            self.assertEqual(response.headers["content-range"], f"bytes */{MOVIE_SIZE}")
            self.assertEqual(self.tracker.open_count("alice"), 0)

    def test_invalid_or_multiple_ranges_get_the_whole_file(self) -> None:
        for header in ("bytes=5-2", "bytes=abc", "lines=1-2", "bytes=0-1,5-6"):
            response = self.get(MOVIE, {"Range": header})
            self.assertEqual((response.status, len(response.body)), (200, MOVIE_SIZE))

    def test_if_range(self) -> None:
        etag = self.get(MOVIE, method="HEAD").headers["etag"]
        ranged = self.get(MOVIE, {"Range": "bytes=0-9", "If-Range": etag})
        self.assertEqual(ranged.status, 206)
        stale = self.get(MOVIE, {"Range": "bytes=0-9", "If-Range": '"other"'})
        self.assertEqual((stale.status, len(stale.body)), (200, MOVIE_SIZE))

    def test_head_has_the_headers_of_get_and_no_body(self) -> None:
        get = self.get(MOVIE, {"Range": "bytes=10-20"})
        head = self.get(MOVIE, {"Range": "bytes=10-20"}, method="HEAD")
        self.assertEqual((head.status, head.raw_body), (206, b""))
        for name in (
            "content-type",
            "content-length",
            "content-range",
            "accept-ranges",
            "etag",
        ):
            self.assertEqual(head.headers[name], get.headers[name])
        self.assertEqual(self.tracker.open_count("alice"), 0)

    def test_any_extension_and_episodes(self) -> None:
        response = self.get("/movie/alice/pw/1.mp4")
        self.assertEqual(response.headers["content-type"], "video/x-matroska")
        self.assertEqual(self.get("/movie/alice/pw/1").status, 200)
        episode = self.get("/series/alice/pw/10.mp4", {"Range": "bytes=5-"})
        self.assertEqual(episode.body, self.episode_bytes[5:])
        self.assertEqual(episode.headers["content-type"], "video/mp4")
        ts = self.get("/series/alice/pw/11.ts")
        self.assertEqual(
            (ts.headers["content-type"], ts.body), ("video/mp2t", b"\x47" * 188)
        )


class RightsTests(VodTestCase):
    def test_credentials_and_lines(self) -> None:
        self.assertEqual(self.get("/movie/alice/nope/1.mkv").status, 401)
        self.assertEqual(self.get("/movie/old/pw/1.mkv").status, 403)

    def test_unknown_ids(self) -> None:
        self.assertEqual(self.get("/movie/alice/pw/99.mkv").status, 404)
        # an episode id, never a series id or a movie id
        self.assertEqual(self.get("/series/alice/pw/1.mkv").status, 404)
        self.assertEqual(self.get("/movie/alice/pw/10.mkv").status, 404)

    def test_bouquets(self) -> None:
        self.assertEqual(self.get("/movie/bob/pw/1.mkv").status, 200)
        self.assertEqual(self.get("/movie/bob/pw/4.mp4").status, 404)
        self.assertEqual(self.get("/series/bob/pw/10.mp4").status, 404)


class PathTests(VodTestCase):
    def test_traversal_by_url_is_404(self) -> None:
        for path in (
            "/movie/alice/pw/../../../etc/passwd",
            "/movie/alice/pw/..%2F..%2F..%2Fetc%2Fpasswd",
            "/movie/alice/pw/1.mkv%2F..%2F..%2Fsecret.mkv",
            "/movie/alice/pw/%2e%2e/secret.mkv",
            "/movie/alice/pw/1.mkv/extra",
            "/movie/alice/pw/-1.mkv",
            "/movie/alice/pw/1e3.mkv",
            "/series/alice/pw/10.mp4%00.mkv",
            "/movie/alice/pw/" + "1" * 30 + ".mkv",
            "/art/movie/1/../../../../etc/passwd",
            "/art/movie/1/poster.jpg%2F..%2F..%2Fsecret.mkv",
        ):
            response = self.get(path)
            self.assertEqual(response.status, 404, path)
            self.assertNotIn(b"secret", response.body, path)

    def test_records_outside_the_library_are_404_and_logged(self) -> None:
        with capturedLogs() as events:
            for movie in (2, 3, 5, 6):  # 3: a link out of the library
                response = self.get(f"/movie/alice/pw/{movie}.mkv")
                self.assertEqual(response.status, 404, movie)
                self.assertNotIn(b"top secret", response.body)
        warnings = [
            (e["id"], e["reason"]) for e in events if e["log_level"] == LogLevel.warn
        ]
        self.assertEqual(
            warnings,
            [
                (2, "not inside a library directory"),
                (3, "not inside a library directory"),
                (5, "not a regular file"),
                (6, "not an absolute path"),
            ],
        )
        self.assertNotIn("pw", repr(events))

    def test_a_file_swapped_for_a_link_after_the_scan(self) -> None:
        film = self.library / "Movies" / "Film (2001).mkv"
        os.remove(film)
        os.symlink(self.library.parent / "outside" / "secret.mkv", film)
        self.assertEqual(self.get(MOVIE).status, 404)


class LimitTests(VodTestCase):
    def test_a_playback_holds_a_slot_until_it_ends(self) -> None:
        transport = SlowTransport()
        first = self.open(MOVIE, transport=transport, player="tv-1")
        self.assertEqual(self.tracker.open_count("alice"), 1)
        refused = self.get(MOVIE, player="tv-2")
        self.assertEqual(
            (refused.status, refused.body), (403, b"max connections reached\n")
        )
        for _ in range(100):
            transport.drain()
            self.run_due()
        self.assertEqual(first.response().body, self.movie_bytes)
        self.assertEqual(self.tracker.open_count("alice"), 0)
        self.clock.advance(5)  # the player's reconnect grace
        self.assertEqual(self.get(MOVIE, player="tv-2").status, 200)

    def test_the_same_players_range_requests_share_its_slot(self) -> None:
        # A player reading the index at the end while it plays: one stream.
        first = self.open(MOVIE, transport=SlowTransport(), player="tv-1")
        second = self.open(MOVIE, {"Range": "bytes=-10"}, player="tv-1")
        self.assertEqual(second.response().status, 206)
        self.assertFalse(first.transport.disconnecting)
        self.assertEqual(self.tracker.open_count("alice"), 1)

    def test_a_player_leaving_frees_its_slot_and_file(self) -> None:
        transport = SlowTransport()
        exchange = self.open(MOVIE, transport=transport)
        fds = len(os.listdir("/proc/self/fd"))
        exchange.protocol.connectionLost(ConnectionDone())  # type: ignore[attr-defined]
        self.run_due()
        self.assertEqual(self.tracker.open_count("alice"), 0)
        self.assertEqual(len(os.listdir("/proc/self/fd")), fds - 1)


class BackpressureTests(VodTestCase):
    def test_a_slow_player_holds_a_bounded_buffer(self) -> None:
        transport = SlowTransport()
        exchange = self.open(MOVIE, transport=transport)
        sent = len(transport.value())
        self.assertLess(sent, MOVIE_SIZE)
        self.clock.advance(10)
        self.run_due()
        self.assertEqual(len(transport.value()), sent, "wrote while paused")
        received = 0
        while (
            not exchange.response().body or len(exchange.response().body) < MOVIE_SIZE
        ):
            transport.drain()
            self.run_due()
            received += 1
            self.assertLess(received, 1000)
        self.assertLessEqual(transport.most_unread, SlowTransport.limit + 2 * 65536)
        self.assertEqual(exchange.response().body, self.movie_bytes)

    def test_a_file_that_shrinks_cuts_the_connection(self) -> None:
        transport = SlowTransport()
        exchange = self.open(MOVIE, transport=transport)
        os.truncate(self.library / "Movies" / "Film (2001).mkv", 500_000)
        with capturedLogs():
            for _ in range(100):
                transport.drain()
                self.run_due()
        self.assertTrue(transport.disconnecting)
        self.assertLess(len(transport.value()), MOVIE_SIZE)
        exchange.protocol.connectionLost(ConnectionDone())  # type: ignore[attr-defined]
        self.assertEqual(self.tracker.open_count("alice"), 0)


class UpstreamTests(VodTestCase):
    def test_a_url_source_is_relayed_with_ranges(self) -> None:
        remote = (self.upstream_files / "remote.mp4").read_bytes()
        whole = self.get("/movie/alice/pw/4.mp4")
        self.assertEqual((whole.status, whole.body), (200, remote))
        self.assertNotIn("cdn.example", str(whole.headers))
        part = self.get("/movie/alice/pw/4.mp4", {"Range": "bytes=100-199"})
        self.assertEqual((part.status, part.body), (206, remote[100:200]))
        self.assertEqual(part.headers["content-range"], f"bytes 100-199/{len(remote)}")
        self.assertEqual(self.tracker.open_count("alice"), 0)

    def test_a_failing_source_is_502_without_its_url(self) -> None:
        with capturedLogs() as events:
            response = self.get("/movie/alice/pw/7.mp4")
        self.assertEqual(response.status, 502)
        self.assertNotIn(b"down.example", response.body)
        [event] = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual((event["url"], event["code"]), ("http://down.example/…", 404))


class ArtworkTests(VodTestCase):
    def test_posters_with_cache_headers(self) -> None:
        response = self.get("/art/movie/1/poster.jpg")
        self.assertEqual((response.status, response.body), (200, b"\xff\xd8poster"))
        self.assertEqual(response.headers["content-type"], "image/jpeg")
        self.assertEqual(response.headers["cache-control"], "public, max-age=86400")
        again = self.get(
            "/art/movie/1/poster.jpg", {"If-None-Match": response.headers["etag"]}
        )
        self.assertEqual((again.status, again.raw_body), (304, b""))
        since = self.get(
            "/art/movie/1/poster.jpg",
            {"If-Modified-Since": response.headers["last-modified"]},
        )
        self.assertEqual(since.status, 304)
        season = self.get("/art/series/1/season-1.png")
        self.assertEqual(
            (season.headers["content-type"], season.body),
            ("image/png", b"\x89PNGseason"),
        )

    def test_missing_artwork(self) -> None:
        for path in (
            "/art/movie/1/backdrop.jpg",  # a URL: players fetch it there
            "/art/movie/2/poster.jpg",  # none
            "/art/series/1/cover.jpg",  # the file is gone
            "/art/series/9/cover.jpg",
            "/art/series/1/season-2.jpg",
            "/art/movie/1/other.jpg",
            "/art/channel/1/poster.jpg",
        ):
            self.assertEqual(self.get(path).status, 404, path)
