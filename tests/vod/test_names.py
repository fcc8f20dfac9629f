"""File names: movie titles and years, episode numbers and shows."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.vod._names import EpisodeName, Title, episode_name, movie_title, parse_title


def movie(path: str) -> Title:
    relative = PurePosixPath(path)
    return movie_title(relative.stem, relative.parent.name or None)


def episode(path: str) -> EpisodeName | None:
    relative = PurePosixPath(path)
    return episode_name(relative.stem, relative.parts[:-1])


class MovieTitleTests(SynchronousTestCase):
    def test_title_and_year_in_brackets(self) -> None:
        self.assertEqual(
            movie("Big Buck Bunny (2008).mkv"), Title("Big Buck Bunny", 2008)
        )
        self.assertEqual(movie("Sintel [2010] - 1080p.mp4"), Title("Sintel", 2010))
        self.assertEqual(
            movie("2001 A Space Odyssey (1968).mkv"),
            Title("2001 A Space Odyssey", 1968),
        )

    def test_scene_names_lose_their_release_tags(self) -> None:
        self.assertEqual(
            movie("The.Matrix.1999.1080p.BluRay.x264.mkv"), Title("The Matrix", 1999)
        )
        self.assertEqual(movie("1917.2019.2160p.mkv"), Title("1917", 2019))
        # the last year is the film's: this one is from 2017
        self.assertEqual(
            movie("Blade.Runner.2049.2017.mkv"), Title("Blade Runner 2049", 2017)
        )
        self.assertEqual(movie("Some_Film.720p.WEB-DL.mkv"), Title("Some Film"))

    def test_names_with_spaces_keep_their_dots(self) -> None:
        self.assertEqual(movie("Mr. Nobody (2009).mkv"), Title("Mr. Nobody", 2009))

    def test_a_bare_file_in_a_titled_folder_takes_the_folder(self) -> None:
        self.assertEqual(
            movie("Big Buck Bunny (2008)/movie.mkv"), Title("Big Buck Bunny", 2008)
        )
        self.assertEqual(movie("Drama/Sintel (2010).mp4"), Title("Sintel", 2010))
        self.assertEqual(movie("Drama/Untitled.mp4"), Title("Untitled"))

    @given(st.text(min_size=1, max_size=40))
    def test_any_name_gives_a_title(self, name: str) -> None:
        title = parse_title(name.replace("/", " "))
        self.assertIsInstance(title.name, str)
        if any(c.isalnum() for c in name):
            self.assertTrue(title.name)


class EpisodeNameTests(SynchronousTestCase):
    def test_show_folder_season_folder_and_code(self) -> None:
        self.assertEqual(
            episode("Show/Season 01/Show S01E02 The Title.mp4"),
            EpisodeName("Show", "The Title", 1, 2),
        )

    def test_flat_show_folder(self) -> None:
        self.assertEqual(
            episode("Show (2020)/Show.S02E10.720p.HDTV.mkv"),
            EpisodeName("Show (2020)", "", 2, 10),
        )

    def test_loose_file_names_its_show(self) -> None:
        self.assertEqual(
            episode("The.Show.S01E02.Pilot.Part.Two.mkv"),
            EpisodeName("The Show", "Pilot Part Two", 1, 2),
        )
        self.assertEqual(
            episode("The Show - s03e04 - Name.mp4"),
            EpisodeName("The Show", "Name", 3, 4),
        )

    def test_other_numberings(self) -> None:
        self.assertEqual(episode("Show/Show 1x05.mkv"), EpisodeName("Show", "", 1, 5))
        self.assertEqual(
            episode("Show/Season 3/E07 - Name.mkv"), EpisodeName("Show", "Name", 3, 7)
        )
        self.assertEqual(
            episode("Show/Show.S01E01E02.mkv"), EpisodeName("Show", "", 1, 1)
        )

    def test_specials(self) -> None:
        self.assertEqual(
            episode("Show/Specials/Episode 2.mkv"), EpisodeName("Show", "", 0, 2)
        )
        self.assertEqual(
            episode("Show/Season 00/Show S00E01.mkv"), EpisodeName("Show", "", 0, 1)
        )

    def test_names_without_an_episode_number(self) -> None:
        self.assertIsNone(episode("Show/Season 1/Pilot.mkv"))
        self.assertIsNone(episode("Pilot E02.mkv"))  # no show and no season
        self.assertIsNone(episode("S01E01.mkv"))  # no show name at all
        self.assertIsNone(episode("Show/Seasoned1x1.mkv"))
