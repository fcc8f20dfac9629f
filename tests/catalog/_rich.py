"""A catalog with something in every table and every field set somewhere."""

from __future__ import annotations

from xrelay.models import (
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


def rich_catalog(text: str = "Ünïcode \"quoted\" 'single' \\ back\nslash") -> Catalog:
    """``text`` goes into the free-text fields."""
    return Catalog(
        categories=(
            Category(1, "live", "News", sort_order=2),
            Category(2, "live", text),
            Category(5, "vod", "Films", sort_order=-1),
            Category(7, "series", "Drama"),
        ),
        channels=(
            Channel(
                1,
                101,
                "BBC One",
                category_id=1,
                sources=("http://up.example/bbc1.ts", "udp://@239.1.1.1:1234"),
                logo="http://img.example/bbc1.png",
                epg_id="bbc1.uk",
                on_demand=False,
                added=1_700_000_000,
            ),
            Channel(2, 102, text, category_id=2, sources=("exec:ffmpeg -i x -",)),
            Channel(9, 1, "Bare"),
        ),
        movies=(
            Movie(
                3,
                "Heat",
                "/srv/vod/heat.mkv",
                category_id=5,
                container_extension="mkv",
                year=1995,
                plot=text,
                poster="http://img.example/heat.jpg",
                rating="8.3",
                duration_secs=10_200,
                added=1_600_000_000,
            ),
            Movie(4, "Short", "http://vod.example/short.mp4"),
        ),
        series=(
            Series(
                6,
                "Lost",
                category_id=7,
                plot=text,
                cover="c.jpg",
                year=2004,
                rating="8",
                added=3,
            ),
            Series(8, "Plain"),
        ),
        seasons=(
            Season(6, 1, name="Season 1", cover="s1.jpg", plot=text),
            Season(6, 2),
        ),
        episodes=(
            Episode(
                11,
                6,
                1,
                1,
                "Pilot",
                "/srv/lost/s1e1.mkv",
                container_extension="mkv",
                plot=text,
                duration_secs=2_580,
                added=4,
            ),
            Episode(12, 6, 2, 1, "Next", "/srv/lost/s2e1.mp4"),
        ),
        bouquets=(
            Bouquet(1, "Full", channel_ids=(1, 2), movie_ids=(3,), series_ids=(6,)),
            Bouquet(2, "Empty"),
        ),
        users=(
            User(
                1,
                "alice",
                "scrypt$16384$8$1$c2FsdA==$aGFzaA==",
                enabled=False,
                expires_at=1_800_000_000,
                max_connections=3,
                allowed_output_formats=("ts",),
                allowed_networks=("10.0.0.0/8", "2001:db8::/32"),
                allowed_user_agents=("VLC/3.0",),
                bouquet_ids=(1, 2),
                is_trial=True,
                notes=text,
                created_at=1_650_000_000,
            ),
            User(2, "bob", "scrypt$16384$8$1$YWJj$ZGVm", expires_at=0),
        ),
        epg_sources=(
            EpgSource(1, "UK", "http://epg.example/uk.xml", priority=1),
            EpgSource(
                2, "Off", "file:///srv/epg.xml", enabled=False, refresh_seconds=60
            ),
        ),
    )
