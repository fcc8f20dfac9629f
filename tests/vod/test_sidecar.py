"""Metadata sidecars: xrelay's JSON and Kodi's NFO."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.vod._sidecar import Metadata, parse_json, parse_nfo


class JsonTests(SynchronousTestCase):
    def test_every_field(self) -> None:
        metadata, problems = parse_json(
            '{"name": " Bunny ", "year": 2008, "plot": "A rabbit.", "rating": 6.4,'
            ' "category": "Kids", "poster": "p.jpg", "backdrop": "http://x/b.jpg"}'
        )
        self.assertEqual(problems, [])
        self.assertEqual(
            metadata,
            Metadata(
                "Bunny", 2008, "A rabbit.", "6.4", "Kids", "p.jpg", "http://x/b.jpg"
            ),
        )

    def test_bad_fields_are_named_and_left_out(self) -> None:
        metadata, problems = parse_json(
            '{"name": 5, "year": "2008", "rating": 11, "colour": "red", "plot": "ok"}'
        )
        self.assertEqual(metadata, Metadata(plot="ok"))
        self.assertEqual(
            problems,
            [
                "name: must be a string",
                "year: must be a whole number like 2008",
                "rating: must be a number from 0 to 10",
                "colour: unknown field (known: backdrop, category, name, plot,"
                " poster, rating, year)",
            ],
        )

    def test_not_an_object(self) -> None:
        self.assertEqual(parse_json("[1]"), (Metadata(), ["must be a JSON object"]))
        metadata, problems = parse_json("{nope")
        self.assertEqual(metadata, Metadata())
        self.assertTrue(problems[0].startswith("not JSON: "))

    def test_earlier_values_win(self) -> None:
        self.assertEqual(
            Metadata(name="A").over(Metadata(name="B", year=2000)),
            Metadata(name="A", year=2000),
        )


class NfoTests(SynchronousTestCase):
    def test_movie(self) -> None:
        metadata, problems = parse_nfo(
            """<?xml version="1.0" encoding="UTF-8"?>
            <movie><title>Sintel</title><premiered>2010-09-27</premiered>
            <plot>A girl and a dragon.</plot>
            <ratings><rating name="imdb"><value>7.4</value></rating></ratings>
            </movie>"""
        )
        self.assertEqual(problems, [])
        self.assertEqual(
            metadata, Metadata("Sintel", 2010, "A girl and a dragon.", "7.4")
        )

    def test_show_and_episode(self) -> None:
        show, _ = parse_nfo("<tvshow><title>Show</title><year>2020</year></tvshow>")
        self.assertEqual((show.name, show.year), ("Show", 2020))
        episode, _ = parse_nfo(
            "<episodedetails><title>Pilot</title><outline>Begins.</outline>"
            "</episodedetails>"
        )
        self.assertEqual((episode.name, episode.plot), ("Pilot", "Begins."))

    def test_entities_and_dtds_are_refused(self) -> None:
        bomb = (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;">]><movie><title>&lol2;</title></movie>'
        )
        self.assertEqual(
            parse_nfo(bomb),
            (Metadata(), ["has a DTD or entities, which are not allowed"]),
        )

    def test_not_an_nfo(self) -> None:
        self.assertEqual(
            parse_nfo("<html/>"),
            (Metadata(), ["<html>: expected <movie>, <tvshow> or <episodedetails>"]),
        )
        metadata, problems = parse_nfo("http://www.imdb.com/title/tt1727587/")
        self.assertEqual(metadata, Metadata())
        self.assertTrue(problems[0].startswith("not XML: "))
