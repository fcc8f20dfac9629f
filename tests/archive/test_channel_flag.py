"""``archive_days`` on a channel: the CLI, the store and the catalog document."""

from __future__ import annotations

import os

import attrs
from twisted.trial.unittest import SynchronousTestCase

from tests.cli.test_crud import CliTestCase
from xrelay.catalog import DocumentError, dump_document, parse_document
from xrelay.models import Catalog, Category, Channel
from xrelay.store import StoreError, open_sync


class ArchiveDaysCliTests(CliTestCase):
    def test_add_set_show(self) -> None:
        self.ok("channels", "add", "News", "--number", "1", "--archive-days", "7")
        channel = self.db().get_channel(1)
        assert channel is not None
        self.assertEqual(channel.archive_days, 7)
        self.assertIn("archive:  7 days\n", self.ok("channels", "show", "1"))
        self.ok("channels", "set", "1", "--archive-days", "0")
        self.assertEqual(
            self.db().get_channel(1), attrs.evolve(channel, archive_days=0)
        )
        self.assertIn("archive:  -\n", self.ok("channels", "show", "1"))

    def test_bad_days_are_refused(self) -> None:
        self.ok("channels", "add", "News", "--number", "1")
        for bad in ("-1", "x", "4000"):
            err = self.fails("channels", "set", "1", "--archive-days", bad, status=2)
            self.assertIn("not a number of days (0-3650)", err)


class ArchiveDaysStoreTests(SynchronousTestCase):
    def test_migrated_and_checked(self) -> None:
        path = os.path.join(self.mktemp() + ".sqlite3")
        db = open_sync(path)
        self.addCleanup(db.close)
        db.put_channel(Channel(0, 1, "A", archive_days=3))
        self.assertEqual([c.archive_days for c in db.list_channels()], [3])
        with self.assertRaises(StoreError) as caught:
            db.put_channel(Channel(0, 2, "B", archive_days=-2))
        self.assertEqual(
            str(caught.exception), "channels.archive_days: -2 is negative (channel 2)"
        )


class ArchiveDaysDocumentTests(SynchronousTestCase):
    def test_round_trip(self) -> None:
        catalog = Catalog(
            categories=(Category(1, "live", "News"),),
            channels=(
                Channel(1, 1, "A", category_id=1, archive_days=5),
                Channel(2, 2, "B", category_id=1),
            ),
        )
        text = dump_document(catalog)
        self.assertIn("archive_days = 5", text)
        self.assertEqual(text.count("archive_days"), 1, "the default is left out")
        self.assertEqual(parse_document(text, "c.toml", lambda i, p: p), catalog)

    def test_negative_days_are_named(self) -> None:
        text = (
            'version = 1\n[[channels]]\nid = 1\nnumber = 1\nname = "A"\n'
            "archive_days = -1\n"
        )
        with self.assertRaises(DocumentError) as caught:
            parse_document(text, "c.toml", lambda i, p: p)
        self.assertIn(
            "c.toml: channels[0].archive_days: must be 0 or more, not -1",
            str(caught.exception),
        )
