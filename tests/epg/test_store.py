"""The guide database: imports replace a source's guide atomically, keep
the window, drop duplicates, and record what was refused."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.epg._samples import HOUR, NOW, guide, hourly, programme
from xrelay.epg import InlineDatabase, XmltvError, _sql, import_guide
from xrelay.epg._sql import ChannelSetting, SourceState
from xrelay.epg._xmltv import Event, GuideChannel, Programme

DAY = 86400
WINDOW = (NOW - 2 * DAY, NOW + 14 * DAY)


class ImportTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp()).resolve() / "epg.sqlite3")
        self.db = InlineDatabase(self.path)
        self.addCleanup(self.db.close)

    def file(self, data: bytes) -> str:
        path = Path(self.mktemp())
        path.write_bytes(data)
        return str(path)

    def load(self, data: bytes, source_id: int = 1) -> object:
        return self.db.run(
            import_guide, SourceState(source_id), self.file(data), WINDOW, 10**9
        )

    def listed(self, source_id: int, channel: str) -> list[str]:
        rows = self.db.run(_sql.programmes, source_id, channel, 0, 2**40)
        return [p.title for p in rows]

    def test_a_guide_is_stored_with_its_channels_and_counts(self) -> None:
        result = self.load(
            gzip.compress(
                guide(
                    *hourly("a", NOW, 3),
                    *hourly("b", NOW, 2),
                    programme("a", NOW, NOW + 60, "Duplicate slot"),
                    programme("a", NOW - 10 * DAY, NOW - 9 * DAY, "Long ago"),
                    programme("a", NOW, NOW - 1, "Backwards"),
                    channels=(("a", "Channel A"), ("c", "No programmes")),
                )
            )
        )
        self.assertEqual(self.listed(1, "a"), ["Show 0", "Show 1", "Show 2"])
        rows = {r.id: r for r in self.db.run(_sql.guide_channels)}
        self.assertEqual(rows["a"].names, ("Channel A",))
        self.assertEqual(rows["a"].programmes, 3)
        self.assertEqual(rows["b"].names, ())  # known only from its programmes
        self.assertEqual(rows["c"].programmes, 0)
        state = self.db.run(_sql.get_states)[1]
        self.assertEqual((state.channels, state.programmes), (3, 5))
        self.assertEqual(
            state.rejects, {"duplicate programme": 1, "stop is not after start": 1}
        )
        self.assertIn("5 programmes", result.describe())  # type: ignore[attr-defined]
        self.assertIn("1 outside the window", result.describe())  # type: ignore[attr-defined]

    def test_a_refresh_replaces_the_whole_guide_of_its_source_only(self) -> None:
        self.load(guide(*hourly("a", NOW, 3, "Old")), source_id=1)
        self.load(guide(*hourly("a", NOW, 2, "Other")), source_id=2)
        self.load(guide(*hourly("a", NOW, 1, "New")), source_id=1)
        self.assertEqual(self.listed(1, "a"), ["New 0"])
        self.assertEqual(self.listed(2, "a"), ["Other 0", "Other 1"])

    def test_a_broken_guide_leaves_the_last_good_one(self) -> None:
        self.load(guide(*hourly("a", NOW, 3, "Good")))
        broken = guide(*hourly("a", NOW, 50, "Bad"))[:-200]
        with self.assertRaises(XmltvError):
            self.load(broken)
        self.assertEqual(self.listed(1, "a"), ["Good 0", "Good 1", "Good 2"])
        self.assertEqual(self.db.run(_sql.get_states)[1].programmes, 3)

    def test_readers_see_the_old_guide_until_the_new_one_commits(self) -> None:
        self.load(guide(*hourly("a", NOW, 2, "Old")))
        reader = sqlite3.connect(self.path)
        self.addCleanup(reader.close)
        seen: list[int] = []

        def events() -> Iterator[list[Event]]:
            yield [GuideChannel("a", ())]
            for i in range(3000):
                start = NOW + i * 60
                yield [Programme("a", start, start + 60, f"New {i}")]
                if i == 2500:  # half written: the reader still sees the old
                    (count,) = reader.execute(
                        "SELECT count(*) FROM programmes"
                    ).fetchone()
                    seen.append(count)

        self.db.run(_sql.replace_guide, 1, events(), WINDOW)
        self.assertEqual(seen, [2])
        (count,) = reader.execute("SELECT count(*) FROM programmes").fetchone()
        self.assertEqual(count, 3000)

    def test_programmes_query_by_window_and_limit(self) -> None:
        self.load(guide(*hourly("a", NOW - 2 * HOUR, 6)))
        rows = self.db.run(_sql.programmes, 1, "a", NOW, NOW + DAY, 2)
        self.assertEqual([p.title for p in rows], ["Show 2", "Show 3"])
        rows = self.db.run(_sql.programmes, 1, "a", NOW - 90 * 60, NOW + 30 * 60)
        self.assertEqual([p.title for p in rows], ["Show 0", "Show 1", "Show 2"])


class StateAndSettingsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.db = InlineDatabase(":memory:")

    def test_settings_round_trip_and_defaults_vanish(self) -> None:
        pinned = ChannelSetting(4, "bbc.uk", 2, -3600)
        self.db.run(_sql.put_setting, pinned)
        self.assertEqual(self.db.run(_sql.get_settings), {4: pinned})
        self.db.run(_sql.put_setting, ChannelSetting(4))
        self.assertEqual(self.db.run(_sql.get_settings), {})

    def test_source_offset_and_due_keep_the_rest_of_the_state(self) -> None:
        self.db.run(_sql.put_state, SourceState(1, "http://x", etag="e", next_at=99))
        self.db.run(_sql.set_source_offset, 1, 7200)
        self.db.run(_sql.due_now, 1)
        self.assertEqual(
            self.db.run(_sql.get_states)[1],
            SourceState(1, "http://x", etag="e", offset_seconds=7200),
        )

    def test_forgetting_removed_sources(self) -> None:
        for source_id in (1, 2):
            self.db.run(_sql.put_state, SourceState(source_id))
            self.db.run(
                _sql.replace_guide,
                source_id,
                iter([[Programme("a", NOW, NOW + 60, "T")]]),
                WINDOW,
            )
        self.assertEqual(self.db.run(_sql.forget_sources, [2]), 1)
        self.assertEqual(list(self.db.run(_sql.get_states)), [2])
        self.assertEqual([r.source_id for r in self.db.run(_sql.guide_channels)], [2])
        self.assertEqual(self.db.run(_sql.programmes, 1, "a", 0, 2**40), [])

    def test_a_newer_schema_is_refused(self) -> None:
        path = Path(self.mktemp())
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
        with self.assertRaises(sqlite3.DatabaseError) as caught:
            InlineDatabase(str(path))
        self.assertIn("upgrade xrelay", str(caught.exception))
