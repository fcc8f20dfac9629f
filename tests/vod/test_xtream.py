"""What players see of the library through the Xtream API (§4.4-4.6, §6)."""

from __future__ import annotations

import json
from typing import Any

import attrs

from tests.vod._harness import VodTestCase

BASE = "http://tv.example.org:8080"


class XtreamVodTests(VodTestCase):
    def api(self, **params: str) -> Any:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        response = self.get(f"/player_api.php?username=alice&password=pw&{query}")
        self.assertEqual(response.status, 200)
        self.assertNotIn(b"\\u0000", response.body)
        self.raw = response.body
        return json.loads(response.body)

    def test_vod_info_carries_the_media_facts(self) -> None:
        catalog = self.successResultOf(self.store.read_catalog())
        film = attrs.evolve(
            catalog.movies[0],
            duration_secs=5400,
            video_codec="hevc",
            audio_codec="eac3",
            width=3840,
            height=2160,
            bitrate=16000,
            file_size=123,
        )
        self.successResultOf(
            self.store.replace_catalog(
                attrs.evolve(catalog, movies=(film, *catalog.movies[1:]))
            )
        )
        self.clock.advance(10)
        self.api(action="get_vod_info", vod_id="1")  # the view refreshes
        info = self.api(action="get_vod_info", vod_id="1")["info"]
        self.assertEqual(
            info["video"],
            {
                "codec_type": "video",
                "codec_name": "hevc",
                "width": 3840,
                "height": 2160,
            },
        )
        self.assertEqual(info["audio"], {"codec_type": "audio", "codec_name": "eac3"})
        self.assertEqual(
            (info["bitrate"], info["duration_secs"], info["duration"]),
            (16000, 5400, "01:30:00"),
        )
        self.assertEqual(info["cover_big"], f"{BASE}/art/movie/1/poster.jpg")
        self.assertEqual(info["movie_image"], info["cover_big"])
        self.assertEqual(info["backdrop_path"], ["http://img.example/film.jpg"])

    def test_unknown_facts_are_empty_objects(self) -> None:
        info = self.api(action="get_vod_info", vod_id="2")["info"]
        self.assertEqual((info["video"], info["audio"], info["bitrate"]), ({}, {}, 0))
        self.assertIn(b'"video":{},"audio":{}', self.raw)
        self.assertEqual((info["cover_big"], info["backdrop_path"]), ("", []))

    def test_stream_list_icons_are_absolute(self) -> None:
        streams = {s["stream_id"]: s for s in self.api(action="get_vod_streams")}
        self.assertEqual(streams[1]["stream_icon"], f"{BASE}/art/movie/1/poster.jpg")
        self.assertEqual(streams[1]["container_extension"], "mkv")
        self.assertEqual(streams[1]["stream_type"], "movie")

    def test_series_info_shapes(self) -> None:
        empty = self.api(action="get_series_info", series_id="2")
        self.assertEqual((empty["seasons"], empty["episodes"]), ([], {}))
        self.assertIn(b'"episodes":{}', self.raw)
        show = self.api(action="get_series_info", series_id="1")
        self.assertEqual(list(show["episodes"]), ["1"])
        [season] = show["seasons"]
        self.assertEqual(
            (season["season_number"], season["cover"]),
            (1, f"{BASE}/art/series/1/season-1.png"),
        )
        first, second = show["episodes"]["1"]
        self.assertEqual((first["id"], second["id"]), ("10", "11"))
        self.assertEqual((second["container_extension"], second["season"]), ("ts", 1))
        self.assertEqual(first["info"]["movie_image"], season["cover"])
        self.assertEqual((first["info"]["video"], first["info"]["audio"]), ({}, {}))

    def test_playlist_lists_movies_and_episodes(self) -> None:
        response = self.get("/get.php?username=alice&password=pw")
        text = response.body.decode()
        self.assertNotIn("\x00", text)
        self.assertIn(
            f'tvg-logo="{BASE}/art/movie/1/poster.jpg" group-title="Films",Film\n'
            f"{BASE}/movie/alice/pw/1.mkv\n",
            text,
        )
        self.assertIn(f"{BASE}/series/alice/pw/10.mp4\n", text)
        self.assertIn(f"{BASE}/series/alice/pw/11.ts\n", text)
        self.assertIn(f"{BASE}/movie/alice/pw/4.mp4\n", text)
