"""Walking library directories: names, sidecars, artwork, links."""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.vod._tree import make_tree
from xrelay.vod._walk import FoundEpisode, FoundShow, Library, walk

SKIPPED = "a link to a folder, or to outside the library: skipped"


class WalkTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.base = Path(self.mktemp()).resolve()
        self.movies = self.base / "Movies"
        self.series = self.base / "TV Shows"
        outside = make_tree(self.base / "elsewhere", {"secret.mkv": b"s"})
        make_tree(
            self.movies,
            {
                "Big Buck Bunny (2008).mkv": b"x" * 10,
                "Big Buck Bunny (2008)-poster.JPG": b"p",
                "Sintel (2010)/movie.mp4": b"y",
                "Sintel (2010)/poster.jpg": b"p",
                "Sintel (2010)/fanart.png": b"f",
                "Sintel (2010)/movie.nfo": "<movie><plot>Dragon.</plot></movie>",
                "Kids/Up.mp4": b"u",
                "Kids/Up.json": '{"category": "Kids", "rating": "8", "poster":'
                ' "up.png", "backdrop": "http://img/up.jpg", "bogus": 1}',
                "Kids/up.png": b"p",
                "Kids/Other.json": '{"poster": "../elsewhere/secret.jpg"}',
                "Kids/Other.mkv": b"o",
                "Kids/notes.txt": b"n",
                "Kids/sample.mkv": b"s",
                "Kids/Up-sample.mkv": b"s",
                ".hidden/Hidden.mkv": b"h",
                ".Hidden (2000).mkv": b"h",
                "Linked.mkv": "->Kids/Up.mp4",
                "Escape.mkv": f"->{outside / 'secret.mkv'}",
                "Away": f"->{outside}",
            },
        )
        make_tree(
            self.series,
            {
                "Show (2020)/tvshow.nfo": "<tvshow><title>The Show</title>"
                "<plot>About it.</plot></tvshow>",
                "Show (2020)/folder.jpg": b"c",
                "Show (2020)/backdrop.jpg": b"b",
                "Show (2020)/season02-poster.png": b"2",
                "Show (2020)/Season 01/poster.jpg": b"1",
                "Show (2020)/Season 01/Show S01E02 Second.mkv": b"e2",
                "Show (2020)/Season 01/Show S01E01 Pilot.mkv": b"e1",
                "Show (2020)/Season 01/Show S01E01 Pilot.nfo": "<episodedetails>"
                "<title>The Pilot</title><plot>First.</plot></episodedetails>",
                "Show (2020)/Show.S02E01.mkv": b"e3",
                "Show (2020)/Extras/Behind the scenes.mkv": b"x",
                "Other.Show.S01E03.mkv": b"e4",
            },
        )

    def scan(self) -> Library:
        return walk([str(self.movies)], [str(self.series)])

    def test_movies(self) -> None:
        found = {m.file.relative: m for m in self.scan().movies}
        self.assertEqual(
            sorted(found),
            [
                "Big Buck Bunny (2008).mkv",
                "Kids/Other.mkv",
                "Kids/Up.mp4",
                "Linked.mkv",
                "Sintel (2010)/movie.mp4",
            ],
        )
        bunny = found["Big Buck Bunny (2008).mkv"]
        self.assertEqual(
            (bunny.name, bunny.year, bunny.category), ("Big Buck Bunny", 2008, "Movies")
        )
        self.assertEqual(
            bunny.file.path, str(self.movies / "Big Buck Bunny (2008).mkv")
        )
        self.assertEqual(bunny.file.size, 10)
        self.assertEqual(
            bunny.poster, str(self.movies / "Big Buck Bunny (2008)-poster.JPG")
        )
        sintel = found["Sintel (2010)/movie.mp4"]
        self.assertEqual(
            (sintel.name, sintel.year, sintel.plot), ("Sintel", 2010, "Dragon.")
        )
        self.assertEqual(sintel.poster, str(self.movies / "Sintel (2010)/poster.jpg"))
        self.assertEqual(sintel.backdrop, str(self.movies / "Sintel (2010)/fanart.png"))
        up = found["Kids/Up.mp4"]
        self.assertEqual((up.category, up.rating), ("Kids", "8"))
        self.assertEqual(up.poster, str(self.movies / "Kids/up.png"))
        self.assertEqual(up.backdrop, "http://img/up.jpg")
        # a folder holding several movies has no folder-wide artwork
        self.assertEqual(found["Kids/Other.mkv"].poster, "")

    def test_problems_are_named(self) -> None:
        problems = {(p.path, p.reason) for p in self.scan().problems}
        self.assertIn(
            (
                str(self.movies / "Kids/Up.json"),
                "bogus: unknown field (known: backdrop, category, name, plot, poster,"
                " rating, year)",
            ),
            problems,
        )
        self.assertIn(
            (
                str(self.movies / "Kids/../elsewhere/secret.jpg"),
                "no such image beside the sidecar (give a file name or an http(s) URL)",
            ),
            problems,
        )
        for link in ("Escape.mkv", "Away"):
            self.assertIn((str(self.movies / link), SKIPPED), problems)
        self.assertIn(
            (
                str(self.series / "Show (2020)/Extras/Behind the scenes.mkv"),
                "no episode number in the name (use S01E02, 1x02, or E02 in a"
                " season folder)",
            ),
            problems,
        )

    def test_series(self) -> None:
        library = self.scan()
        show = self.series / "Show (2020)"
        self.assertEqual(
            library.shows,
            (
                FoundShow("Other Show", "Other Show", None, "TV Shows"),
                FoundShow(
                    "Show (2020)",
                    "The Show",
                    2020,
                    "TV Shows",
                    plot="About it.",
                    cover=str(show / "folder.jpg"),
                    backdrop=str(show / "backdrop.jpg"),
                    season_covers=(
                        (1, str(show / "Season 01/poster.jpg")),
                        (2, str(show / "season02-poster.png")),
                    ),
                ),
            ),
        )
        episodes = {e.file.relative: e for e in library.episodes}
        self.assertEqual(
            episodes["Show (2020)/Season 01/Show S01E01 Pilot.mkv"],
            FoundEpisode(
                episodes["Show (2020)/Season 01/Show S01E01 Pilot.mkv"].file,
                "Show (2020)",
                1,
                1,
                "The Pilot",
                "First.",
            ),
        )
        self.assertEqual(
            sorted((e.show, e.season, e.episode, e.title) for e in episodes.values()),
            [
                ("Other Show", 1, 3, ""),
                ("Show (2020)", 1, 1, "The Pilot"),
                ("Show (2020)", 1, 2, "Second"),
                ("Show (2020)", 2, 1, ""),
            ],
        )

    def test_a_missing_directory_is_reported_and_kept(self) -> None:
        gone = self.base / "unmounted"
        library = walk([str(gone)], [])
        self.assertEqual(library.movies, ())
        self.assertEqual(library.unreadable, (str(gone),))
        [problem] = library.problems
        self.assertEqual(
            str(problem), f"{gone}: cannot read: No such file or directory"
        )

    def test_links_to_folders_are_not_followed(self) -> None:
        make_tree(self.movies, {"Kids/Loop": "->..", "Again": "->Kids"})
        library = self.scan()
        self.assertEqual(len(library.movies), 5)
        problems = {(p.path, p.reason) for p in library.problems}
        self.assertIn((str(self.movies / "Kids/Loop"), SKIPPED), problems)
        self.assertIn((str(self.movies / "Again"), SKIPPED), problems)
