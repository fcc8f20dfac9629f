"""Planning an M3U import into a catalog."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.catalog import Entry, ImportPlan, parse_m3u, plan_import
from xrelay.models import Catalog, Category, Channel, User

CURRENT = Catalog(
    categories=(
        Category(1, "live", "News", sort_order=4),
        Category(2, "vod", "Sport"),  # not live: never reused for channels
    ),
    channels=(
        Channel(
            3,
            10,
            "BBC One",
            category_id=1,
            sources=("http://a/bbc1", "http://b/bbc1"),
            on_demand=False,
            added=5,
        ),
        Channel(4, 20, "Old", sources=("http://a/old",)),
    ),
    users=(User(1, "bob", "hash"),),
)


def entries(text: str) -> tuple[Entry, ...]:
    playlist = parse_m3u(text.encode())
    assert not playlist.problems, playlist.problems
    return playlist.entries


class PlanImportTests(SynchronousTestCase):
    def test_new_channels_and_categories(self) -> None:
        plan = plan_import(
            CURRENT,
            entries(
                '#EXTINF:-1 tvg-id="s1" tvg-logo="http://l/s1.png" '
                'group-title="Sport",S1\n'
                "http://a/s1\n"
                '#EXTINF:-1 group-title="News",N2\n'
                "http://a/n2\n"
                "#EXTINF:-1,Loose\n"
                "http://a/loose\n"
            ),
            default_category="Misc",
            now=1000,
        )
        self.assertEqual((plan.added, plan.updated, plan.unchanged), (3, 0, 0))
        self.assertEqual(plan.categories_added, 2)
        self.assertEqual(
            plan.catalog.categories,
            (
                *CURRENT.categories,
                Category(3, "live", "Sport", sort_order=5),
                Category(4, "live", "Misc", sort_order=6),
            ),
        )
        self.assertEqual(
            plan.catalog.channels[2:],
            (
                Channel(
                    5,
                    21,
                    "S1",
                    category_id=3,
                    sources=("http://a/s1",),
                    logo="http://l/s1.png",
                    epg_id="s1",
                    on_demand=True,
                    added=1000,
                ),
                Channel(6, 22, "N2", 1, ("http://a/n2",), added=1000),
                Channel(7, 23, "Loose", 4, ("http://a/loose",), added=1000),
            ),
        )
        self.assertEqual(plan.catalog.channels[:2], CURRENT.channels)
        self.assertEqual(plan.catalog.users, CURRENT.users)

    def test_no_group_and_no_default_category(self) -> None:
        plan = plan_import(Catalog(), entries("#EXTINF:-1,X\nhttp://a/x\n"))
        self.assertIsNone(plan.catalog.channels[0].category_id)
        self.assertEqual(plan.catalog.categories, ())

    def test_tvg_chno_when_free(self) -> None:
        """Playlist numbers are handed out before the sequential ones."""
        plan = plan_import(
            CURRENT,
            entries(
                "#EXTINF:-1,A\nhttp://a/a\n"
                "#EXTINF:-1 tvg-chno=21,B\nhttp://a/b\n"
                "#EXTINF:-1 tvg-chno=20,C\nhttp://a/c\n"
            ),
        )
        self.assertEqual(
            [(c.name, c.number) for c in plan.catalog.channels[2:]],
            [("A", 22), ("B", 21), ("C", 23)],
        )

    def test_update_by_url(self) -> None:
        """Sources holding the URL stay as they are; name, logo, category
        and number come from the playlist; on_demand and added are kept."""
        plan = plan_import(
            CURRENT,
            entries(
                '#EXTINF:-1 tvg-chno=11 tvg-logo=L group-title="UK",BBC 1\n'
                "http://b/bbc1\n"
            ),
        )
        self.assertEqual((plan.added, plan.updated, plan.categories_added), (0, 1, 1))
        self.assertEqual(
            plan.catalog.channels[0],
            Channel(
                3,
                11,
                "BBC 1",
                category_id=3,
                sources=("http://a/bbc1", "http://b/bbc1"),
                logo="L",
                on_demand=False,
                added=5,
            ),
        )

    def test_update_by_name_in_category(self) -> None:
        """A new URL for a known name replaces the first source only."""
        plan = plan_import(
            CURRENT,
            entries('#EXTINF:-1 group-title="News",BBC One\nhttp://a/bbc1?token=2\n'),
        )
        self.assertEqual((plan.added, plan.updated), (0, 1))
        self.assertEqual(
            plan.catalog.channels[0].sources,
            ("http://a/bbc1?token=2", "http://b/bbc1"),
        )

    def test_same_name_in_another_category_is_a_new_channel(self) -> None:
        plan = plan_import(
            CURRENT, entries('#EXTINF:-1 group-title="UK",BBC One\nhttp://c/bbc1\n')
        )
        self.assertEqual((plan.added, plan.updated), (1, 0))

    def test_one_channel_is_updated_by_one_entry_at_most(self) -> None:
        plan = plan_import(
            CURRENT,
            entries(
                '#EXTINF:-1 group-title="News",BBC One\nhttp://x/1\n'
                '#EXTINF:-1 group-title="News",BBC One\nhttp://x/2\n'
            ),
        )
        self.assertEqual((plan.added, plan.updated), (1, 1))

    def test_absent_attributes_keep_fields(self) -> None:
        current = Catalog(
            categories=(Category(1, "live", "News"),),
            channels=(Channel(1, 1, "A", 1, ("http://a/a",), logo="L", epg_id="e"),),
        )
        plan = plan_import(current, entries("#EXTINF:-1,A\nhttp://a/a\n"))
        self.assertEqual(plan, ImportPlan(current, 0, 0, 1, 0))

    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["A", "B", "C"]),
                st.sampled_from(["", "G1", "G2"]),
                st.none() | st.integers(1, 30),
            ),
            max_size=15,
        ),
        st.sampled_from(["", "Default"]),
    )
    def test_reimport_is_idempotent(
        self, rows: list[tuple[str, str, int | None]], default: str
    ) -> None:
        playlist = tuple(
            Entry(i + 1, name, f"http://h/{i}", group, chno=chno)
            for i, (name, group, chno) in enumerate(rows)
        )
        first = plan_import(CURRENT, playlist, default_category=default, now=1)
        again = plan_import(first.catalog, playlist, default_category=default, now=2)
        self.assertEqual(again.catalog, first.catalog)
        self.assertEqual(
            (again.added, again.updated, again.categories_added), (0, 0, 0)
        )
        self.assertEqual(again.unchanged, len(playlist))
        numbers = [c.number for c in first.catalog.channels]
        self.assertEqual(len(numbers), len(set(numbers)))
