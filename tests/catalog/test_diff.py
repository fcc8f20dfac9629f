"""Readable differences between catalogs."""

from __future__ import annotations

import attrs
from twisted.trial.unittest import SynchronousTestCase

from xrelay.catalog import diff_catalogs
from xrelay.models import Catalog, Channel, Season, User

from ._rich import rich_catalog


class DiffTests(SynchronousTestCase):
    def test_equal(self) -> None:
        self.assertEqual(diff_catalogs(rich_catalog(), rich_catalog()), [])

    def test_everything_added_and_removed(self) -> None:
        added = diff_catalogs(Catalog(), rich_catalog())
        removed = diff_catalogs(rich_catalog(), Catalog())
        self.assertEqual(len(added), 21)
        self.assertEqual([line[2:] for line in added], [line[2:] for line in removed])
        self.assertIn('+ channel 9 "Bare"', added)
        self.assertIn("+ season 6/1", added)
        self.assertIn("- user alice", removed)

    def test_changes(self) -> None:
        old = Catalog(
            channels=(Channel(3, 1, "A", sources=("http://a/1",)),),
            seasons=(Season(6, 1),),
            users=(User(1, "bob", "hash-1"),),
        )
        new = Catalog(
            channels=(
                Channel(3, 1, "B", sources=("http://a/1", "http://b/1"), logo="L"),
                Channel(4, 2, "New"),
            ),
            seasons=(Season(6, 1, name="One"),),
            users=(User(1, "bob", "hash-2", enabled=False),),
        )
        self.assertEqual(
            diff_catalogs(old, new),
            [
                "~ channel 3 \"A\": name 'A' -> 'B', sources ['http://a/1'] -> "
                "['http://a/1', 'http://b/1'], logo '' -> 'L'",
                '+ channel 4 "New"',
                "~ season 6/1: name '' -> 'One'",
                "~ user bob: password changed, enabled True -> False",
            ],
        )

    def test_hashes_are_never_shown(self) -> None:
        old = rich_catalog()
        new = attrs.evolve(
            old, users=tuple(attrs.evolve(u, password_hash="new") for u in old.users)
        )
        for line in diff_catalogs(old, new):
            self.assertNotIn("scrypt", line)
            self.assertNotIn("new", line)
