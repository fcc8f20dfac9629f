"""Walking the library directories: what media files there are, with their
names read and their sidecars (metadata, artwork) found.  Blocking file
I/O: the daemon runs it in a thread.

Hidden entries (``.name``) and ``sample`` clips are skipped.  A link to a
file is followed only when it leads to somewhere inside the same library
directory (serving checks that again, on every request); links to folders
are not followed (their files are found where they really are, and no
link loop can trap the walk).  A directory that cannot be read is
reported, and the records found under it before are kept as they are (a
disk that is not mounted right now must not empty the catalog).

It runs over every file at every scan, so it keeps to string operations
and one ``stat`` per media file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator

import attrs

from xrelay.vod._names import (
    IMAGE_TYPES,
    VIDEO_TYPES,
    episode_name,
    extension,
    movie_title,
    parse_title,
    season_folder,
    stem,
)
from xrelay.vod._sidecar import MAX_SIDECAR_BYTES, Metadata, parse_json, parse_nfo


@attrs.frozen
class MediaFile:
    path: str  # absolute: the library directory joined with ``relative``
    relative: str  # below the library directory, "/"-separated
    size: int
    mtime_ns: int


@attrs.frozen
class FoundMovie:
    file: MediaFile
    name: str
    year: int | None
    category: str
    plot: str = ""
    rating: str = ""
    poster: str = ""  # a URL or an absolute image path; "" for none
    backdrop: str = ""


@attrs.frozen
class FoundShow:
    key: str  # the show's folder name (or name before SxxEyy): its identity
    name: str
    year: int | None
    category: str
    plot: str = ""
    rating: str = ""
    cover: str = ""
    backdrop: str = ""
    season_covers: tuple[tuple[int, str], ...] = ()


@attrs.frozen
class FoundEpisode:
    file: MediaFile
    show: str  # FoundShow.key
    season: int
    episode: int
    title: str
    plot: str = ""


@attrs.frozen
class Problem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@attrs.frozen
class Library:
    movies: tuple[FoundMovie, ...] = ()
    shows: tuple[FoundShow, ...] = ()
    episodes: tuple[FoundEpisode, ...] = ()
    problems: tuple[Problem, ...] = ()
    unreadable: tuple[str, ...] = ()  # directories whose records are kept

    @property
    def files(self) -> Iterator[MediaFile]:
        for movie in self.movies:
            yield movie.file
        for episode in self.episodes:
            yield episode.file


_POSTERS = ("poster", "folder", "cover")
_BACKDROPS = ("fanart", "backdrop", "background")
_SIDECARS = ("json", "nfo")
_SAMPLE = re.compile(r"(?i)(?:^|[\s._-])sample$")


@attrs.frozen
class _Dir:
    """One directory's listing: its media files, and its images and
    sidecars by lower-cased name."""

    path: str
    parts: tuple[str, ...]  # below the library directory
    videos: tuple[os.DirEntry[str], ...]  # by name
    named: dict[str, str]  # images and sidecars: lower-cased name -> path

    @property
    def relative(self) -> str:
        return "/".join(self.parts)

    def find(self, stems: Iterable[str], types: Iterable[str]) -> str:
        """The first file named ``stem.type`` (any case), as a path."""
        if self.named:
            for name in stems:
                for kind in types:
                    found = self.named.get(f"{name}.{kind}".lower())
                    if found is not None:
                        return found
        return ""

    def image(self, *stems: str) -> str:
        return self.find(stems, IMAGE_TYPES)


class _Walker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.unreadable: list[str] = []

    def directories(self, root: str) -> Iterator[_Dir]:
        """Every directory below ``root`` (itself first), listed."""
        real_root = os.path.realpath(root)
        pending: list[tuple[str, tuple[str, ...]]] = [(root, ())]
        while pending:
            path, parts = pending.pop()
            try:
                with os.scandir(path) as listing:
                    entries = list(listing)
            except OSError as e:
                self.problems.append(Problem(path, f"cannot read: {e.strerror}"))
                self.unreadable.append(path)
                continue
            videos = []
            named: dict[str, str] = {}
            subdirs = []
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if entry.is_symlink() and (
                        entry.is_dir() or not _inside(entry.path, real_root)
                    ):
                        self.problems.append(Problem(entry.path, _LINK_SKIPPED))
                        continue
                    if entry.is_dir():
                        subdirs.append(entry)
                        continue
                except OSError as e:
                    self.problems.append(Problem(entry.path, f"{e.strerror}"))
                    continue
                kind = extension(name)
                if kind in VIDEO_TYPES:
                    if not _SAMPLE.search(stem(name)):
                        videos.append(entry)
                elif kind in IMAGE_TYPES or kind in _SIDECARS:
                    key = name.lower()  # "Poster.jpg" and "poster.JPG": the first
                    if key not in named or entry.path < named[key]:
                        named[key] = entry.path
            videos.sort(key=_name)
            subdirs.sort(key=_name)
            yield _Dir(path, parts, tuple(videos), named)
            for entry in reversed(subdirs):
                pending.append((entry.path, (*parts, entry.name)))

    def media_file(self, folder: _Dir, entry: os.DirEntry[str]) -> MediaFile | None:
        try:
            info = entry.stat()
        except OSError as e:  # gone meanwhile, or a dangling link
            self.problems.append(Problem(entry.path, f"{e.strerror}"))
            return None
        relative = f"{folder.relative}/{entry.name}" if folder.parts else entry.name
        return MediaFile(entry.path, relative, info.st_size, info.st_mtime_ns)

    def metadata(
        self, folder: _Dir, json_stems: tuple[str, ...], nfo_stems: tuple[str, ...]
    ) -> Metadata:
        """The JSON sidecar's values over the NFO's."""
        found = Metadata()
        if not folder.named:
            return found
        for stems, kind, parse in (
            (json_stems, "json", parse_json),
            (nfo_stems, "nfo", parse_nfo),
        ):
            path = folder.find(stems, (kind,))
            if not path:
                continue
            text = self._read(path)
            if text is None:
                continue
            metadata, problems = parse(text)
            self.problems += [Problem(path, reason) for reason in problems]
            found = found.over(metadata)
        return found

    def _read(self, path: str) -> str | None:
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_SIDECAR_BYTES + 1)
        except OSError as e:
            self.problems.append(Problem(path, f"cannot read: {e.strerror}"))
            return None
        if len(data) > MAX_SIDECAR_BYTES:
            self.problems.append(Problem(path, "larger than 1 MiB: ignored"))
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.problems.append(Problem(path, "not UTF-8 text"))
            return None

    def artwork(self, folder: _Dir, given: str | None, found: str) -> str:
        """A sidecar's image (a URL, or a file name beside it) over the
        image found by name."""
        if not given:
            return found
        if given.startswith(("http://", "https://")):
            return given
        path = folder.named.get(given.lower()) if "/" not in given else None
        if path is None or extension(given) not in IMAGE_TYPES:
            self.problems.append(
                Problem(
                    os.path.join(folder.path, given),
                    "no such image beside the sidecar"
                    " (give a file name or an http(s) URL)",
                )
            )
            return found
        return path


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


_LINK_SKIPPED = "a link to a folder, or to outside the library: skipped"


def _inside(path: str, real_root: str) -> bool:
    real = os.path.realpath(path)
    return real.startswith(real_root.rstrip(os.sep) + os.sep)


def walk(movie_dirs: Iterable[str], series_dirs: Iterable[str]) -> Library:
    walker = _Walker()
    movies: list[FoundMovie] = []
    shows: dict[str, FoundShow] = {}
    episodes: list[FoundEpisode] = []
    for root in map(os.path.abspath, movie_dirs):
        category = os.path.basename(root.rstrip(os.sep)) or root
        for folder in walker.directories(root):
            movies += _movies(walker, folder, category)
    for root in map(os.path.abspath, series_dirs):
        category = os.path.basename(root.rstrip(os.sep)) or root
        show_dirs: dict[str, list[_Dir]] = {}  # the show folder first
        for folder in walker.directories(root):
            if folder.parts:
                show_dirs.setdefault(folder.parts[0], []).append(folder)
            episodes += _episodes(walker, folder)
        for key in sorted({e.show for e in episodes} - shows.keys()):
            shows[key] = _show(walker, key, show_dirs.get(key, []), category)
    return Library(
        tuple(movies),
        tuple(shows[key] for key in sorted(shows)),
        tuple(episodes),
        tuple(walker.problems),
        tuple(walker.unreadable),
    )


def _movies(walker: _Walker, folder: _Dir, category: str) -> Iterator[FoundMovie]:
    # A folder of its own (Title (2008)/Title (2008).mkv) may hold art and
    # an NFO under generic names.
    own_folder = len(folder.videos) == 1 and folder.parts != ()
    parent = folder.parts[-1] if folder.parts else None
    for entry in folder.videos:
        name = stem(entry.name)
        file = walker.media_file(folder, entry)
        if file is None:
            continue
        title = movie_title(name, parent)
        meta = walker.metadata(
            folder, (name,), (name, "movie") if own_folder else (name,)
        )
        poster = folder.image(f"{name}-poster", name, *(_POSTERS if own_folder else ()))
        backdrop = folder.image(
            *(f"{name}-{kind}" for kind in _BACKDROPS),
            *(_BACKDROPS if own_folder else ()),
        )
        yield FoundMovie(
            file,
            name=meta.name or title.name,
            year=meta.year or title.year,
            category=meta.category or category,
            plot=meta.plot or "",
            rating=meta.rating or "",
            poster=walker.artwork(folder, meta.poster, poster),
            backdrop=walker.artwork(folder, meta.backdrop, backdrop),
        )


def _episodes(walker: _Walker, folder: _Dir) -> Iterator[FoundEpisode]:
    for entry in folder.videos:
        name = stem(entry.name)
        parsed = episode_name(name, folder.parts)
        if parsed is None:
            walker.problems.append(
                Problem(
                    entry.path,
                    "no episode number in the name (use S01E02, 1x02, or "
                    "E02 in a season folder)",
                )
            )
            continue
        file = walker.media_file(folder, entry)
        if file is None:
            continue
        meta = walker.metadata(folder, (name,), (name,))
        yield FoundEpisode(
            file,
            parsed.show,
            parsed.season,
            parsed.episode,
            meta.name or parsed.title,
            meta.plot or "",
        )


def _show(walker: _Walker, key: str, folders: list[_Dir], category: str) -> FoundShow:
    title = parse_title(key)
    if not folders:  # loose files at the top: no folder to look in
        return FoundShow(key, title.name, title.year, category)
    folder = folders[0]
    meta = walker.metadata(folder, ("series", "tvshow"), ("tvshow",))
    return FoundShow(
        key,
        name=meta.name or title.name,
        year=meta.year or title.year,
        category=meta.category or category,
        plot=meta.plot or "",
        rating=meta.rating or "",
        cover=walker.artwork(folder, meta.poster, folder.image(*_POSTERS)),
        backdrop=walker.artwork(folder, meta.backdrop, folder.image(*_BACKDROPS)),
        season_covers=_season_covers(folders),
    )


_SEASON_POSTER = re.compile(r"season(\d{1,3}|-specials)-poster\.(\w+)")


def _season_covers(folders: list[_Dir]) -> tuple[tuple[int, str], ...]:
    """Kodi's ``season01-poster.jpg`` / ``season-specials-poster.jpg`` in
    the show folder, else a poster in the season's own folder."""
    show, *below = folders
    covers: dict[int, str] = {}
    for name, path in sorted(show.named.items()):
        match = _SEASON_POSTER.fullmatch(name)
        if match and match[2] in IMAGE_TYPES:
            number = 0 if match[1] == "-specials" else int(match[1])
            covers.setdefault(number, path)
    for folder in below:
        season = season_folder(folder.parts[-1])
        image = folder.image(*_POSTERS)
        if len(folder.parts) == 2 and season is not None and image:
            covers.setdefault(season, image)
    return tuple(sorted(covers.items()))
