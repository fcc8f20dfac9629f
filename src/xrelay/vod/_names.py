"""What a library file's name says: movie title and year, or show, season,
episode and title.  Pure.

Movies: ``Title (Year).mkv`` (also ``[Year]``), the scene form
``Title.Year.1080p.x264.mkv``, or a bare name in a ``Title (Year)`` folder.
Episodes: ``Show/Season 01/Show S01E02 Title.mp4``, ``Show/Show.S01E02.mkv``,
``Show.S01E02.mkv`` at the top, ``1x02``, or ``E02`` in a season folder;
``Specials`` or ``Season 0`` folders are season 0.
"""

from __future__ import annotations

import functools
import re

import attrs

VIDEO_TYPES = {
    "avi": "video/x-msvideo",
    "flv": "video/x-flv",
    "m2ts": "video/mp2t",
    "m4v": "video/mp4",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "mp4": "video/mp4",
    "mpeg": "video/mpeg",
    "mpg": "video/mpeg",
    "ts": "video/mp2t",
    "webm": "video/webm",
    "wmv": "video/x-ms-wmv",
}
"""Extensions of the files a scan takes, and their Content-Type."""

IMAGE_TYPES = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}


def extension(name: str) -> str:
    """``name``'s extension, lower-cased, without the dot ("" for none)."""
    base = name.rpartition("/")[2]
    dot = base.rfind(".")
    return base[dot + 1 :].lower() if dot > 0 else ""


def stem(name: str) -> str:
    """``name`` without its extension."""
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


_YEAR_IN_BRACKETS = re.compile(r"^(?P<title>.+?)\s*[(\[](?P<year>(?:19|20)\d\d)[)\]]")
# Greedy: "Blade Runner 2049 2017" is the 2017 film.
_YEAR_WORD = re.compile(r"^(?P<title>.+)\s(?P<year>(?:19|20)\d\d)(?=\s|$)")
_RELEASE_TAGS = re.compile(
    r"(?i)\s(?:\d{3,4}p|[xh]\s?26[45]|hevc|avc|bluray|blu-ray|bdrip|brrip|"
    r"web-?dl|webrip|hdtv|dvdrip|remux|uhd|4k|hdr|proper|repack)(?:\s|$).*"
)
_SPACES = re.compile(r"\s+")


@attrs.frozen
class Title:
    name: str
    year: int | None = None


def _words(text: str) -> str:
    """Dots and underscores are spaces in scene names (not in names that
    already have spaces: "Mr. Robot")."""
    if " " not in text:
        text = text.replace(".", " ").replace("_", " ")
    return _SPACES.sub(" ", text).strip(" -")


def parse_title(text: str) -> Title:
    """A movie or show title with its year, release tags dropped."""
    text = _words(text)
    match = _YEAR_IN_BRACKETS.match(text) or _YEAR_WORD.match(text)
    if match is not None:
        return Title(match["title"].strip(" -"), int(match["year"]))
    name = _RELEASE_TAGS.sub("", text).strip(" -")
    return Title(name or text)


def movie_title(stem: str, folder: str | None) -> Title:
    """A movie's title from its file name (without extension) and the
    folder it is in (None at the top of the library): a name without a
    year takes its folder's name when that has one."""
    own = parse_title(stem)
    if own.year is None and folder is not None:
        from_folder = parse_title(folder)
        if from_folder.year is not None:
            return from_folder
    return own


_SEASON_EPISODE = re.compile(
    r"(?i)(?:^|[\s._-])s(?P<season>\d{1,3})[\s._-]*e(?P<episode>\d{1,4})"
    r"(?:[\s._-]*e\d{1,4})*(?=$|[^0-9a-z])"
)
_CROSS = re.compile(
    r"(?:^|[\s._-])(?P<season>\d{1,2})x(?P<episode>\d{2,3})(?=$|[\s._-])"
)
_EPISODE_ONLY = re.compile(
    r"(?i)(?:^|[\s._-])(?:e|ep|episode)[\s._-]?(?P<episode>\d{1,4})(?=$|[\s._-])"
)
_SEASON_FOLDER = re.compile(
    r"(?i)^(?:season|series|staffel|saison|s)[\s._-]*(?P<season>\d{1,3})$"
)
_SPECIALS_FOLDERS = frozenset({"specials", "special"})


@attrs.frozen
class EpisodeName:
    show: str  # the show's key: its folder name, or the name before SxxEyy
    title: str  # the episode's own title ("" if the name has none)
    season: int
    episode: int


@functools.lru_cache(maxsize=4096)  # a few names, asked for every episode
def season_folder(name: str) -> int | None:
    """The season a folder holds ("Season 01", "S2", "Specials": 0)."""
    if name.lower() in _SPECIALS_FOLDERS:
        return 0
    match = _SEASON_FOLDER.match(name.strip())
    return int(match["season"]) if match else None


def episode_name(stem: str, folders: tuple[str, ...]) -> EpisodeName | None:
    """Show, season and episode from a file name (without extension) and
    the folders it is in below the series directory; None when the name
    carries no episode number."""
    folder_season = next(
        (s for s in map(season_folder, reversed(folders)) if s is not None), None
    )
    match = _SEASON_EPISODE.search(stem) or _CROSS.search(stem)
    if match is not None:
        season, episode = int(match["season"]), int(match["episode"])
    else:
        match = _EPISODE_ONLY.search(stem)
        if match is None or (folder_season is None and not folders):
            return None
        season = 1 if folder_season is None else folder_season
        episode = int(match["episode"])
    before, after = stem[: match.start()], stem[match.end() :]
    show = folders[0] if folders else _words(before)
    if not show:
        return None
    title = _RELEASE_TAGS.sub("", " " + _words(after)).strip(" -")
    return EpisodeName(show, title, season, episode)
