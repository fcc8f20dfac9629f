"""The catalog after a scan: what the files say, merged into what the store
holds.  Pure.

Records the scan made (``library_path`` set) follow the files: they keep
their ids and ``added`` time, take the files' current names, metadata and
media facts, and go when their file goes (bouquets forget them too).
A file found under a new name or directory takes over the record of a file
gone in the same scan when exactly one such record has its size and media
facts (a rename or a move keeps the id, so players' favourites, resume
points and bouquets follow it).  Records added by hand are left alone,
except that one whose ``source`` is a scanned file is taken over by the
scan.  Files that could not be probed are not added, and a record whose
file is not probed yet, or failed a probe for a passing reason (a
timeout), is kept as it was; so are the records under unreadable
directories.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from xrelay.models import Bouquet, Catalog, Category, Episode, Movie, Season, Series
from xrelay.vod._names import extension
from xrelay.vod._probe import MediaFacts, ProbeFailure, ProbeResult
from xrelay.vod._walk import FoundEpisode, FoundMovie, FoundShow, Library


@attrs.frozen
class Changes:
    added: int = 0
    updated: int = 0
    removed: int = 0
    total: int = 0

    def __str__(self) -> str:
        return f"{self.total} (+{self.added} ~{self.updated} -{self.removed})"


@attrs.frozen
class Planned:
    catalog: Catalog
    movies: Changes
    series: Changes
    episodes: Changes

    def unchanged(self) -> Planned:
        """The same catalog, planned again from the same files."""
        return Planned(
            self.catalog,
            Changes(total=self.movies.total),
            Changes(total=self.series.total),
            Changes(total=self.episodes.total),
        )


def plan_catalog(
    catalog: Catalog, library: Library, results: Mapping[str, ProbeResult], now: int
) -> Planned:
    kept = _KeptDirs(library.unreadable)
    categories = _Categories(catalog.categories)
    movies = _plan_movies(
        catalog.movies, library.movies, results, kept, categories, now
    )
    series, seasons, episodes = _plan_series(
        catalog, library, results, kept, categories, now
    )
    gone_movies = {m.id for m in catalog.movies} - {m.id for m in movies}
    gone_series = {s.id for s in catalog.series} - {s.id for s in series}
    new = attrs.evolve(
        catalog,
        categories=categories.all(),
        movies=tuple(sorted(movies, key=lambda m: m.id)),
        series=tuple(sorted(series, key=lambda s: s.id)),
        seasons=tuple(sorted(seasons, key=lambda s: (s.series_id, s.number))),
        episodes=tuple(sorted(episodes, key=lambda e: e.id)),
        bouquets=tuple(_forget(b, gone_movies, gone_series) for b in catalog.bouquets),
    )
    return Planned(
        new,
        _changes(catalog.movies, new.movies),
        _changes(catalog.series, new.series),
        _changes(catalog.episodes, new.episodes),
    )


class _KeptDirs:
    def __init__(self, directories: Iterable[str]) -> None:
        self._prefixes = tuple(d.rstrip(os.sep) + os.sep for d in directories)

    def __call__(self, source: str) -> bool:
        return source.startswith(self._prefixes)


class _Categories:
    """Categories by kind and name, adding the missing ones."""

    def __init__(self, existing: tuple[Category, ...]) -> None:
        self._records = list(existing)
        self._ids = {(c.kind, c.name): c.id for c in existing}
        self._next = max((c.id for c in existing), default=0) + 1

    def id(self, kind: str, name: str) -> int:
        found = self._ids.get((kind, name))
        if found is None:
            found = self._ids[(kind, name)] = self._next
            self._records.append(Category(found, kind, name))
            self._next += 1
        return found

    def all(self) -> tuple[Category, ...]:
        return tuple(self._records)


class _Moved:
    """Scanned records whose file is gone this scan, by what the file was,
    for files found under a new path; only an unambiguous match counts."""

    def __init__(
        self,
        records: Iterable[Movie | Episode],
        found: set[str],
        kept: _KeptDirs,
    ) -> None:
        self._gone: dict[tuple[int, MediaFacts], list[Movie | Episode]] = {}
        for record in records:
            if record.source not in found and not kept(record.source):
                self._gone.setdefault(_print_of(record), []).append(record)

    def take(self, size: int, facts: MediaFacts) -> Movie | Episode | None:
        key = (size, facts)
        candidates = self._gone.get(key, ())
        if size <= 0 or len(candidates) != 1:
            return None
        del self._gone[key]
        return candidates[0]


def _print_of(record: Movie | Episode) -> tuple[int, MediaFacts]:
    """What the record's file was: its size and its media facts."""
    facts = MediaFacts(
        record.duration_secs,
        record.video_codec,
        record.audio_codec,
        record.width,
        record.height,
        record.bitrate,
    )
    return record.file_size, facts


class _Ids:
    """Ids for new records: after the largest one in use."""

    def __init__(self, existing: Iterable[int]) -> None:
        self._next = max(existing, default=0) + 1

    def __call__(self) -> int:
        self._next += 1
        return self._next - 1


def _plan_movies(
    existing: tuple[Movie, ...],
    found: tuple[FoundMovie, ...],
    results: Mapping[str, ProbeResult],
    kept: _KeptDirs,
    categories: _Categories,
    now: int,
) -> list[Movie]:
    scanned = {m.source: m for m in existing if m.library_path}
    by_hand = {m.source: m for m in existing if not m.library_path}
    new_id = _Ids(m.id for m in existing)
    moved = _Moved(scanned.values(), {item.file.path for item in found}, kept)
    movies: list[Movie] = []
    for item in found:
        path = item.file.path
        before = scanned.pop(path, None) or by_hand.pop(path, None)
        result = results.get(path)
        if not isinstance(result, MediaFacts):
            if before is not None and not _lasting(result):
                movies.append(before)  # not probed this time: as it was
            continue
        if before is None:
            taken = moved.take(item.file.size, result)
            if isinstance(taken, Movie):
                before = scanned.pop(taken.source)
        movies.append(
            Movie(
                id=before.id if before else new_id(),
                name=item.name,
                source=path,
                category_id=categories.id("vod", item.category),
                container_extension=extension(path),
                year=item.year,
                plot=item.plot,
                poster=item.poster,
                rating=item.rating,
                duration_secs=result.duration_secs,
                added=before.added if before else now,
                backdrop=item.backdrop,
                **_media(result, item.file.size),
                library_path=item.file.relative,
            )
        )
    movies += by_hand.values()
    movies += (m for m in scanned.values() if kept(m.source))
    return movies


def _lasting(result: ProbeResult | None) -> bool:
    """Whether a file that is not playable now will stay so (None: it was
    not probed yet, during a long first scan)."""
    return isinstance(result, ProbeFailure) and result.lasting


def _media(facts: MediaFacts, size: int) -> dict[str, Any]:
    return {
        "video_codec": facts.video_codec,
        "audio_codec": facts.audio_codec,
        "width": facts.width,
        "height": facts.height,
        "bitrate": facts.bitrate,
        "file_size": size,
    }


def _plan_series(
    catalog: Catalog,
    library: Library,
    results: Mapping[str, ProbeResult],
    kept: _KeptDirs,
    categories: _Categories,
    now: int,
) -> tuple[list[Series], list[Season], list[Episode]]:
    scanned_series = {s.library_path: s for s in catalog.series if s.library_path}
    scanned_ids = {s.id for s in scanned_series.values()}
    new_series_id = _Ids(s.id for s in catalog.series)
    new_episode_id = _Ids(e.id for e in catalog.episodes)
    scanned_episodes = {
        e.source: e for e in catalog.episodes if e.series_id in scanned_ids
    }
    shows = {show.key: show for show in library.shows}
    moved = _Moved(
        scanned_episodes.values(), {e.file.path for e in library.episodes}, kept
    )

    # Episodes first: a show is listed only if it has one to play.
    playable: dict[str, list[tuple[FoundEpisode, Episode | None, ProbeResult]]] = {}
    episodes: list[Episode] = []
    for item in library.episodes:
        before = scanned_episodes.pop(item.file.path, None)
        result = results.get(item.file.path)
        if isinstance(result, MediaFacts):
            if before is None:
                taken = moved.take(item.file.size, result)
                if isinstance(taken, Episode):
                    before = scanned_episodes.pop(taken.source)
            playable.setdefault(item.show, []).append((item, before, result))
        elif before is not None and not _lasting(result):
            episodes.append(before)  # not probed this time: as it was
    episodes += (e for e in scanned_episodes.values() if kept(e.source))

    series: list[Series] = []
    seasons: list[Season] = []
    for key, group in sorted(playable.items()):
        show = shows[key]
        before_series = scanned_series.pop(key, None)
        record = _series(show, before_series, new_series_id, categories, now)
        series.append(record)
        for item, before, result in group:
            assert isinstance(result, MediaFacts)
            episodes.append(
                Episode(
                    id=before.id if before else new_episode_id(),
                    series_id=record.id,
                    season_number=item.season,
                    episode_number=item.episode,
                    title=item.title,
                    source=item.file.path,
                    container_extension=extension(item.file.path),
                    plot=item.plot,
                    duration_secs=result.duration_secs,
                    added=before.added if before else now,
                    **_media(result, item.file.size),
                    library_path=item.file.relative,
                )
            )
    # Shows found no more keep their record only for episodes kept above.
    still_used = {e.series_id for e in episodes}
    series += (s for s in scanned_series.values() if s.id in still_used)

    made = {s.id for s in series} - {s.id for s in scanned_series.values()}
    covers = {
        s.id: dict(shows[s.library_path].season_covers)
        for s in series
        if s.id in made and s.library_path in shows
    }
    numbers = {(e.series_id, e.season_number) for e in episodes if e.series_id in made}
    seasons += (
        Season(
            series_id,
            number,
            name="Specials" if number == 0 else "",
            cover=covers.get(series_id, {}).get(number, ""),
        )
        for series_id, number in numbers
    )
    # Series added by hand stay as they are, and so do the seasons of
    # scanned series kept as they were.
    by_hand = [s for s in catalog.series if not s.library_path]
    manual = {s.id for s in by_hand}
    untouched = manual | ({s.id for s in scanned_series.values()} & still_used)
    seasons += (s for s in catalog.seasons if s.series_id in untouched)
    episodes += (e for e in catalog.episodes if e.series_id in manual)
    return by_hand + series, seasons, episodes


def _series(
    show: FoundShow,
    before: Series | None,
    new_id: Callable[[], int],
    categories: _Categories,
    now: int,
) -> Series:
    return Series(
        id=before.id if before else new_id(),
        name=show.name,
        category_id=categories.id("series", show.category),
        plot=show.plot,
        cover=show.cover,
        year=show.year,
        rating=show.rating,
        added=before.added if before else now,
        backdrop=show.backdrop,
        library_path=show.key,
    )


def _forget(bouquet: Bouquet, movies: set[int], series: set[int]) -> Bouquet:
    if not (movies & set(bouquet.movie_ids) or series & set(bouquet.series_ids)):
        return bouquet
    return attrs.evolve(
        bouquet,
        movie_ids=tuple(i for i in bouquet.movie_ids if i not in movies),
        series_ids=tuple(i for i in bouquet.series_ids if i not in series),
    )


def _changes(old: Iterable[Any], new: Iterable[Any]) -> Changes:
    before = {r.id: r for r in old}
    after = {r.id: r for r in new}
    return Changes(
        added=len(after.keys() - before.keys()),
        updated=sum(1 for i, r in after.items() if i in before and before[i] != r),
        removed=len(before.keys() - after.keys()),
        total=len(after),
    )
