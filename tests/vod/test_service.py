"""The scan schedule."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from tests.vod._fakes import FakeProber
from tests.vod._tree import make_tree
from xrelay.testing import MemoryStore
from xrelay.vod import LibraryScanner, LibraryService, ProbeCache, ProbeFailure


class ServiceTests(SynchronousTestCase):
    def setUp(self) -> None:
        base = Path(self.mktemp()).resolve()
        self.movies = make_tree(base / "Films", {"A (2001).mkv": b"a", "bad.mkv": b"x"})
        self.clock = Clock()
        self.prober = FakeProber({"bad.mkv": ProbeFailure("Invalid data")})
        self.store = MemoryStore()
        scanner = LibraryScanner(
            self.store,
            (str(self.movies),),
            (),
            self.prober,
            ProbeCache(str(base / "cache.sqlite3")),
            self.clock,
        )
        self.service = LibraryService(scanner, self.clock, interval=600)

    def test_scans_at_start_and_on_schedule(self) -> None:
        with capturedLogs() as events:
            self.service.startService()
            self.assertEqual(len(self.prober.calls), 2)
            (self.movies / "B (2002).mkv").write_bytes(b"b")
            self.clock.advance(599)
            self.assertEqual(len(self.prober.calls), 2)
            self.clock.advance(1)
            self.service.stopService()
        self.assertEqual(len(self.prober.calls), 3)
        self.assertEqual(len(self.successResultOf(self.store.read_catalog()).movies), 2)
        warnings = [e for e in events if e["log_level"] == LogLevel.warn]
        # the broken file is reported once, not at every scan
        self.assertEqual(
            [e["problem"] for e in warnings],
            [f"{self.movies}/bad.mkv: cannot probe: Invalid data"],
        )
        status = self.service.status()
        self.assertEqual(status["scanning"], False)
        self.assertEqual(status["last_scan"]["movies"], 2)  # type: ignore[index]
        self.assertEqual(status["last_scan"]["problem_count"], 1)  # type: ignore[index]

    def test_scans_never_overlap_and_stopping_cancels(self) -> None:
        self.prober.hold = True
        with capturedLogs() as events:
            self.service.startService()
            self.clock.advance(600 * 3)
            self.assertEqual(len(self.prober.calls), 2)  # still the first scan
            joined = self.service.scan()
            self.assertNoResult(joined)
            self.assertTrue(self.service.status()["scanning"])
            self.service.stopService()
        self.assertEqual(len(self.prober.calls), 2)
        self.assertEqual(self.successResultOf(joined), None)
        self.assertEqual([e for e in events if e["log_level"] >= LogLevel.warn], [])
        self.assertFalse(self.service.status()["scanning"])

    def test_a_failed_scan_is_logged_and_the_schedule_goes_on(self) -> None:
        self.prober.missing = "ffprobe not found"
        with capturedLogs() as events:
            self.service.startService()
            self.assertEqual(self.service.status()["error"], "ffprobe not found")
            self.prober.missing = None
            self.clock.advance(600)
            self.service.stopService()
        [error] = [e for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(error["reason"], "ffprobe not found")
        self.assertNotIn("log_failure", error)
        self.assertEqual(self.service.status()["error"], "")
        self.assertEqual(len(self.prober.calls), 2)

    def test_no_interval_scans_once(self) -> None:
        service = LibraryService(self.service._scanner, self.clock, interval=0)
        service.startService()
        self.clock.advance(86400)
        service.stopService()
        self.assertEqual(len(self.prober.calls), 2)
