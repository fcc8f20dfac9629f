"""A catalog exercising every table, field and kind of reference."""

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


def rich_catalog() -> Catalog:
    """Ids are sparse, and lists are out of order on purpose: both must
    survive a round trip exactly."""
    return Catalog(
        categories=(
            Category(1, "live", "News", sort_order=2),
            Category(2, "live", "Sport"),
            Category(10, "vod", "Films", sort_order=-1),
            Category(20, "series", "Drama"),
        ),
        channels=(
            Channel(
                3,
                101,
                "News 24",
                category_id=1,
                sources=("udp://239.0.0.1:1234", "http://b.example/n.ts", "file:///a"),
                logo="http://img.example/n.png",
                epg_id="news24.example",
                on_demand=False,
                added=1_700_000_000,
            ),
            Channel(5, 7, "Sport 1", category_id=2, sources=("http://c.example/s",)),
            Channel(9, 1000, "Uncategorised ünïcödé"),
        ),
        bouquets=(
            Bouquet(
                4, "Full", channel_ids=(9, 3, 5), movie_ids=(8, 2), series_ids=(6,)
            ),
            Bouquet(6, "Empty"),
        ),
        users=(
            User(
                2,
                "alice",
                "scrypt$16384$8$1$c2FsdA==$aGFzaA==",
                expires_at=1_800_000_000,
                max_connections=3,
                allowed_output_formats=("ts",),
                allowed_networks=("10.0.0.0/8", "2001:db8::/32"),
                allowed_user_agents=("VLC/3", "Kodi"),
                bouquet_ids=(6, 4),
                is_trial=True,
                notes="line\nbreak",
                created_at=1_600_000_000,
            ),
            User(7, "bob.b@x-y_z", "scrypt$x", enabled=False),
        ),
        movies=(
            Movie(2, "A Film", "/srv/vod/a.mkv", category_id=10, year=1999),
            Movie(
                8,
                "B Film",
                "http://vod.example/b.mp4",
                container_extension="mkv",
                plot="plot",
                poster="p.jpg",
                rating="7.5",
                duration_secs=5400,
                added=5,
            ),
        ),
        series=(
            Series(
                6, "Show", category_id=20, plot="p", cover="c", year=2020, rating="8"
            ),
            Series(11, "Other"),
        ),
        seasons=(
            Season(6, 1, "One"),
            Season(6, 2, cover="s2.jpg", plot="second"),
            Season(11, 1),
        ),
        episodes=(
            Episode(30, 6, 1, 1, "Pilot", "/srv/e1.mkv", duration_secs=3000, added=9),
            Episode(31, 6, 2, 1, "Return", "/srv/e2.mp4", container_extension="mkv"),
            Episode(40, 11, 1, 1, "Only", "http://e.example/1", plot="x"),
        ),
        epg_sources=(
            EpgSource(1, "Main", "http://epg.example/xmltv.xml.gz"),
            EpgSource(3, "Backup", "http://epg2.example/x", enabled=False, priority=5),
        ),
    )
