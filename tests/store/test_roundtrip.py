"""replace_catalog(c); read_catalog() == c, for any valid catalog c."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.models import (
    CATEGORY_KINDS,
    OUTPUT_FORMATS,
    Bouquet,
    Catalog,
    Category,
    Channel,
    EpgSource,
    Episode,
    Movie,
    Season,
    Series,
    User,
)
from xrelay.store import open_sync

Draw = Callable[[st.SearchStrategy[Any]], Any]

ints = st.integers(-(2**63), 2**63 - 1)
texts = st.text(max_size=12)
flags = st.booleans()


def tuples(items: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(items, max_size=4).map(tuple)


def keys(size: int) -> st.SearchStrategy[list[int]]:
    """Sorted distinct ids, as Catalog holds them."""
    return st.lists(st.integers(1, 2**40), unique=True, max_size=size).map(sorted)


def refs(ids: list[int]) -> st.SearchStrategy[tuple[int, ...]]:
    """Some of ``ids``, in any order, repeats allowed."""
    return tuples(st.sampled_from(ids)) if ids else st.just(())


def ref_or_none(ids: list[int]) -> st.SearchStrategy[int | None]:
    return st.none() | st.sampled_from(ids) if ids else st.none()


@st.composite
def catalogs(draw: Draw) -> Catalog:
    categories = tuple(
        Category(i, draw(st.sampled_from(CATEGORY_KINDS)), draw(texts), draw(ints))
        for i in draw(keys(6))
    )

    def category(kind: str) -> st.SearchStrategy[int | None]:
        return ref_or_none([c.id for c in categories if c.kind == kind])

    channel_ids = draw(keys(6))
    numbers = draw(st.lists(ints, unique=True, min_size=len(channel_ids)))
    channels = tuple(
        draw(
            st.builds(
                Channel,
                id=st.just(i),
                number=st.just(number),
                name=texts,
                category_id=category("live"),
                sources=tuples(texts),
                logo=texts,
                epg_id=texts,
                on_demand=flags,
                added=ints,
            )
        )
        for i, number in zip(channel_ids, numbers, strict=False)
    )
    movies = tuple(
        draw(
            st.builds(
                Movie,
                id=st.just(i),
                name=texts,
                source=texts,
                category_id=category("vod"),
                container_extension=texts,
                year=st.none() | ints,
                plot=texts,
                poster=texts,
                rating=texts,
                duration_secs=ints,
                added=ints,
            )
        )
        for i in draw(keys(4))
    )
    series = tuple(
        draw(
            st.builds(
                Series,
                id=st.just(i),
                name=texts,
                category_id=category("series"),
                plot=texts,
                cover=texts,
                year=st.none() | ints,
                rating=texts,
                added=ints,
            )
        )
        for i in draw(keys(4))
    )
    series_ids = [s.id for s in series]
    season_keys = (
        draw(st.sets(st.tuples(st.sampled_from(series_ids), ints)))
        if series_ids
        else set()
    )
    seasons = tuple(
        Season(series_id, number, draw(texts), draw(texts), draw(texts))
        for series_id, number in sorted(season_keys)
    )
    episodes = tuple(
        draw(
            st.builds(
                Episode,
                id=st.just(i),
                series_id=st.sampled_from(series_ids),
                season_number=ints,
                episode_number=ints,
                title=texts,
                source=texts,
                container_extension=texts,
                plot=texts,
                duration_secs=ints,
                added=ints,
            )
        )
        for i in (draw(keys(4)) if series_ids else [])
    )
    bouquets = tuple(
        Bouquet(
            i,
            draw(texts),
            draw(refs(channel_ids)),
            draw(refs([m.id for m in movies])),
            draw(refs(series_ids)),
        )
        for i in draw(keys(3))
    )
    user_ids = draw(keys(4))
    usernames = st.from_regex(r"[A-Za-z0-9._@-]{1,64}", fullmatch=True)
    names = draw(st.lists(usernames, unique=True, min_size=len(user_ids)))
    users = tuple(
        draw(
            st.builds(
                User,
                id=st.just(i),
                username=st.just(name),
                password_hash=texts,
                enabled=flags,
                expires_at=st.none() | ints,
                max_connections=ints,
                allowed_output_formats=tuples(st.sampled_from(OUTPUT_FORMATS)),
                allowed_networks=tuples(st.sampled_from(["10.0.0.0/8", "::1"])),
                allowed_user_agents=tuples(texts),
                bouquet_ids=refs([b.id for b in bouquets]),
                is_trial=flags,
                notes=texts,
                created_at=ints,
            )
        )
        for i, name in zip(user_ids, names, strict=False)
    )
    epg_sources = tuple(
        draw(
            st.builds(
                EpgSource,
                id=st.just(i),
                name=texts,
                url=texts,
                enabled=flags,
                priority=ints,
                refresh_seconds=ints,
            )
        )
        for i in draw(keys(3))
    )
    return Catalog(
        categories=categories,
        channels=channels,
        bouquets=bouquets,
        users=users,
        movies=movies,
        series=series,
        seasons=seasons,
        episodes=episodes,
        epg_sources=epg_sources,
    )


class RoundTripTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.db = open_sync(":memory:")
        self.addCleanup(self.db.close)

    @settings(max_examples=60, deadline=None)
    @given(catalogs(), catalogs())
    def test_replace_then_read_is_exact(self, first: Catalog, second: Catalog) -> None:
        self.db.replace_catalog(first)
        self.assertEqual(self.db.read_catalog(), first)
        self.db.replace_catalog(second)
        self.assertEqual(self.db.read_catalog(), second)
