"""The ffprobe result cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from xrelay.vod import MediaFacts, ProbeCache, ProbeFailure
from xrelay.vod._cache import Cached


class ProbeCacheTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp()) / "data" / "probe-cache.sqlite3")

    def test_results_come_back(self) -> None:
        cache = ProbeCache(self.path)
        self.assertEqual(cache.load(), {})
        facts = MediaFacts(60, "h264", "aac", 1280, 720, 3000)
        cache.update(
            [
                ("/a.mkv", 10, 111, facts),
                ("/b.mkv", 20, 222, ProbeFailure("not media")),
                ("/c.mkv", 30, 333, ProbeFailure("ffprobe took too long", False)),
            ],
            forget=[],
        )
        self.assertEqual(
            ProbeCache(self.path).load(),
            {
                "/a.mkv": Cached(10, 111, facts),
                "/b.mkv": Cached(20, 222, ProbeFailure("not media")),
            },
        )

    def test_update_replaces_and_forgets(self) -> None:
        cache = ProbeCache(self.path)
        cache.update(
            [("/a.mkv", 1, 1, ProbeFailure("x")), ("/b.mkv", 1, 1, ProbeFailure("y"))],
            [],
        )
        cache.update([("/a.mkv", 2, 2, MediaFacts(1))], forget=["/b.mkv"])
        self.assertEqual(cache.load(), {"/a.mkv": Cached(2, 2, MediaFacts(1))})

    def test_an_old_layout_is_started_over(self) -> None:
        Path(self.path).parent.mkdir(parents=True)
        with sqlite3.connect(self.path) as conn:
            conn.execute("CREATE TABLE probes (path TEXT, junk TEXT)")
            conn.execute("INSERT INTO probes VALUES ('/a', 'x')")
        self.assertEqual(ProbeCache(self.path).load(), {})

    def test_another_process_writing_is_seen(self) -> None:
        mine, theirs = ProbeCache(self.path), ProbeCache(self.path)
        mine.update([("/a.mkv", 1, 1, MediaFacts(1))], [])
        self.assertEqual(list(mine.load()), ["/a.mkv"])
        theirs.update([("/b.mkv", 2, 2, MediaFacts(2))], [])
        self.assertEqual(sorted(mine.load()), ["/a.mkv", "/b.mkv"])
        mine.update([], forget=["/b.mkv"])
        self.assertEqual(list(mine.load()), ["/a.mkv"])
        self.assertEqual(list(theirs.load()), ["/a.mkv"])
