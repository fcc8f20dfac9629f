"""``CatalogView``: the catalog as players see it, pre-encoded.

Built once per catalog change (off the reactor thread: see ``_cache``), so
a list response is a join of ready-made JSON fragments for the items the
line may see, and a playlist a join of ready-made lines.  Immutable apart
from small memos, so any number of requests may share one view.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from xrelay.models import Catalog, Category, Episode, Movie, Season, Series
from xrelay.xtream import _fields, _playlist
from xrelay.xtream._fields import JsonObject

KINDS = ("live", "vod", "series")
"""The three sections, named as ``Category.kind`` names them."""

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dump(value: Any) -> bytes:
    return _encode(value).encode("utf-8")


@attrs.frozen
class Item:
    """One entry of a section's list (channel, movie or series)."""

    id: int
    category_id: int | None
    json: bytes


@attrs.frozen
class Section:
    categories: tuple[Category, ...]  # display order
    category_json: Mapping[int, bytes]
    items: tuple[Item, ...]  # list order
    by_category: Mapping[int, tuple[Item, ...]]


@attrs.frozen
class Visibility:
    """What a line restricted to some bouquets may see: item ids and the
    ids of the categories holding at least one of them, per section."""

    ids: Mapping[str, frozenset[int]]
    categories: Mapping[str, frozenset[int]]


def same_source(view: CatalogView, catalog: Catalog) -> bool:
    """Whether ``view`` shows exactly ``catalog``."""
    return view.source == _source(catalog)


def _source(catalog: Catalog) -> tuple[object, ...]:
    """The parts of a catalog a view depends on (users do not matter)."""
    return (
        catalog.categories,
        catalog.channels,
        catalog.bouquets,
        catalog.movies,
        catalog.series,
        catalog.seasons,
        catalog.episodes,
    )


class CatalogView:
    def __init__(self, catalog: Catalog) -> None:
        self.source = _source(catalog)
        categories = sorted(catalog.categories, key=lambda c: (c.sort_order, c.id))
        names = {c.id: c.name for c in categories}
        self._bouquets = {b.id: b for b in catalog.bouquets}
        self._movies = {m.id: m for m in catalog.movies}
        self._series = {s.id: s for s in catalog.series}
        self._seasons: dict[int, list[Season]] = {}
        for season in catalog.seasons:
            self._seasons.setdefault(season.series_id, []).append(season)
        self._episodes = _episodes_by_series(catalog.episodes)
        self._episode_ids = {e.id: e for e in catalog.episodes}
        # Whether answers hold _fields.ORIGIN, for the request to fill in.
        self.local_art = any(
            image and not image.startswith(("http://", "https://"))
            for image in (
                *(i for m in catalog.movies for i in (m.poster, m.backdrop)),
                *(i for s in catalog.series for i in (s.cover, s.backdrop)),
                *(s.cover for s in catalog.seasons),
            )
        )

        channels = sorted(catalog.channels, key=lambda c: (c.number, c.id))
        movies = sorted(catalog.movies, key=lambda m: m.id)
        series = sorted(catalog.series, key=lambda s: s.id)
        self.sections = {
            "live": _section(
                categories,
                "live",
                ((c.id, c.category_id, _fields.live_stream(c)) for c in channels),
            ),
            "vod": _section(
                categories,
                "vod",
                (
                    (m.id, m.category_id, _fields.vod_stream(m, num))
                    for num, m in enumerate(movies, 1)
                ),
            ),
            "series": _section(
                categories,
                "series",
                (
                    (
                        s.id,
                        s.category_id,
                        _fields.series_entry(s, num, self.episodes(s)),
                    )
                    for num, s in enumerate(series, 1)
                ),
            ),
        }
        self.playlist = _playlist.PlaylistEntries.build(
            channels, movies, series, self._episodes, names
        )
        self._visibility: dict[tuple[int, ...], Visibility] = {}

    def episodes(self, series: Series) -> tuple[Episode, ...]:
        return self._episodes.get(series.id, ())

    # Lookups by id for the stream and artwork URLs.
    def movie(self, movie_id: int, visible: Visibility | None = None) -> Movie | None:
        movie = self._movies.get(movie_id)
        return movie if movie is not None and _sees(visible, "vod", movie_id) else None

    def series(
        self, series_id: int, visible: Visibility | None = None
    ) -> Series | None:
        found = self._series.get(series_id)
        return (
            found if found is not None and _sees(visible, "series", series_id) else None
        )

    def episode(
        self, episode_id: int, visible: Visibility | None = None
    ) -> Episode | None:
        """An episode whose series ``visible`` includes."""
        episode = self._episode_ids.get(episode_id)
        if episode is None or not _sees(visible, "series", episode.series_id):
            return None
        return episode

    def season(self, series_id: int, number: int) -> Season | None:
        seasons = self._seasons.get(series_id, ())
        return next((s for s in seasons if s.number == number), None)

    def visibility(self, bouquet_ids: tuple[int, ...]) -> Visibility | None:
        """None (everything) for a line without bouquets."""
        if not bouquet_ids:
            return None
        key = tuple(sorted(set(bouquet_ids)))
        found = self._visibility.get(key)
        if found is None:
            if len(self._visibility) >= 1024:
                self._visibility.clear()  # bounded; bouquet sets are few
            found = self._visibility[key] = self._compute_visibility(key)
        return found

    def _compute_visibility(self, bouquet_ids: tuple[int, ...]) -> Visibility:
        bouquets = [self._bouquets[i] for i in bouquet_ids if i in self._bouquets]
        ids = {
            "live": frozenset(i for b in bouquets for i in b.channel_ids),
            "vod": frozenset(i for b in bouquets for i in b.movie_ids),
            "series": frozenset(i for b in bouquets for i in b.series_ids),
        }
        categories = {
            kind: frozenset(
                item.category_id
                for item in self.sections[kind].items
                if item.id in ids[kind] and item.category_id is not None
            )
            for kind in KINDS
        }
        return Visibility(ids, categories)

    def categories_json(self, kind: str, visible: Visibility | None) -> bytes:
        section = self.sections[kind]
        ids = [c.id for c in section.categories]
        if visible is not None:
            ids = [i for i in ids if i in visible.categories[kind]]
        return b"[" + b",".join(section.category_json[i] for i in ids) + b"]"

    def items(
        self, kind: str, visible: Visibility | None, category_id: str | None = None
    ) -> list[Item]:
        """The section's items this line sees; ``category_id`` as the
        client sent it (absent or empty: all; unknown: none)."""
        section = self.sections[kind]
        if category_id:
            chosen = section.by_category.get(_int(category_id), ())
        else:
            chosen = section.items
        if visible is None:
            return list(chosen)
        ids = visible.ids[kind]
        return [item for item in chosen if item.id in ids]

    def streams_json(
        self, kind: str, visible: Visibility | None, category_id: str | None = None
    ) -> bytes:
        items = self.items(kind, visible, category_id)
        return b"[" + b",".join([item.json for item in items]) + b"]"

    def vod_info(self, movie_id: str, visible: Visibility | None) -> JsonObject:
        movie = self._movies.get(_int(movie_id))
        if movie is None or not _sees(visible, "vod", movie.id):
            return _fields.EMPTY_VOD_INFO
        return _fields.vod_info(movie)

    def series_info(self, series_id: str, visible: Visibility | None) -> JsonObject:
        series = self._series.get(_int(series_id))
        if series is None or not _sees(visible, "series", series.id):
            return _fields.EMPTY_SERIES_INFO
        return _fields.series_info(
            series, tuple(self._seasons.get(series.id, ())), self.episodes(series)
        )


def _section(
    categories: list[Category],
    kind: str,
    entries: Iterable[tuple[int, int | None, JsonObject]],
) -> Section:
    mine = tuple(c for c in categories if c.kind == kind)
    items = tuple(Item(i, category, dump(obj)) for i, category, obj in entries)
    by_category: dict[int, list[Item]] = {c.id: [] for c in mine}
    for item in items:
        if item.category_id in by_category:
            by_category[item.category_id].append(item)
    return Section(
        mine,
        {c.id: dump(_fields.category(c)) for c in mine},
        items,
        {i: tuple(group) for i, group in by_category.items()},
    )


def _episodes_by_series(
    episodes: tuple[Episode, ...],
) -> dict[int, tuple[Episode, ...]]:
    grouped: dict[int, list[Episode]] = {}
    for episode in episodes:
        grouped.setdefault(episode.series_id, []).append(episode)
    return {
        series_id: tuple(
            sorted(group, key=lambda e: (e.season_number, e.episode_number, e.id))
        )
        for series_id, group in grouped.items()
    }


def _sees(visible: Visibility | None, kind: str, item_id: int) -> bool:
    return visible is None or item_id in visible.ids[kind]


def _int(text: str) -> int:
    """An id as a client sent it; -1 (no such id) unless it is all digits."""
    return int(text) if text.isascii() and text.isdigit() else -1
