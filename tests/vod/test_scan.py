"""Whole scans: walk, probe (a fake ffprobe), plan and store."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from pathlib import Path

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.vod._fakes import FACTS, FakeProber
from tests.vod._tree import make_tree
from xrelay.catalog import dump_document, parse_document
from xrelay.models import Bouquet, Catalog, Movie, User
from xrelay.testing import MemoryStore
from xrelay.vod import (
    LibraryScanner,
    MediaFacts,
    ProbeCache,
    ProbeFailure,
    ScanError,
    ScanReport,
)
from xrelay.vod._plan import Changes

NOW = 1_700_000_000


@attrs.define
class CountingStore(MemoryStore):
    """Counts catalog writes; ``meddle`` runs before the next one."""

    writes: int = 0
    reads: int = 0
    meddle: list[object] = attrs.Factory(list)

    def read_catalog(self) -> Deferred[Catalog]:
        self.reads += 1
        return super().read_catalog()

    def replace_catalog(
        self, catalog: Catalog, expected: Catalog | None = None
    ) -> Deferred[None]:
        self.writes += 1
        while self.meddle:
            self.meddle.pop()
            super().put_user(User(0, f"sneaky{self.writes}", "x"))
        return super().replace_catalog(catalog, expected)


class ScanTests(SynchronousTestCase):
    def setUp(self) -> None:
        base = Path(self.mktemp()).resolve()
        self.movies = make_tree(
            base / "Films",
            {
                "Big Buck Bunny (2008).mkv": b"b" * 100,
                "Sintel (2010).mp4": b"s" * 200,
                "broken.avi": b"not media",
            },
        )
        self.series = make_tree(
            base / "Shows",
            {
                "Show/Season 1/Show S01E01.mkv": b"1",
                "Show/Season 1/Show S01E02.mkv": b"2",
                "Show/Season 2/Show S02E01.mkv": b"3",
                "Show/Season 2/poster.jpg": b"p",
                "Lone/Lone.S01E01.mkv": b"4",
            },
        )
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = CountingStore()
        self.prober = FakeProber({"broken.avi": ProbeFailure("Invalid data")})
        self.cache = ProbeCache(str(base / "data" / "probe-cache.sqlite3"))
        self.scanner = self.new_scanner()

    def new_scanner(
        self, stamp: Callable[[], Hashable] | None = None
    ) -> LibraryScanner:
        return LibraryScanner(
            self.store,
            (str(self.movies),),
            (str(self.series),),
            self.prober,
            self.cache,
            self.clock,
            stamp=stamp,
        )

    def scan(self, write: bool = True) -> ScanReport:
        self.prober.calls.clear()
        return self.successResultOf(Deferred.fromCoroutine(self.scanner.scan(write)))

    def catalog(self) -> Catalog:
        return self.successResultOf(self.store.read_catalog())

    def test_first_scan(self) -> None:
        report = self.scan()
        self.assertEqual(
            (report.movies.added, report.series.added, report.episodes.added), (2, 2, 4)
        )
        self.assertEqual((report.probed, report.cached, report.changed), (7, 0, True))
        self.assertEqual(
            [str(p) for p in report.problems],
            [f"{self.movies}/broken.avi: cannot probe: Invalid data"],
        )
        catalog = self.catalog()
        self.assertEqual(
            [(c.kind, c.name) for c in catalog.categories],
            [("vod", "Films"), ("series", "Shows")],
        )
        bunny = catalog.movies[0]
        self.assertEqual(
            bunny,
            Movie(
                id=1,
                name="Big Buck Bunny",
                source=f"{self.movies}/Big Buck Bunny (2008).mkv",
                category_id=1,
                container_extension="mkv",
                year=2008,
                duration_secs=FACTS.duration_secs,
                added=NOW,
                video_codec="h264",
                audio_codec="aac",
                width=1920,
                height=1080,
                bitrate=4000,
                file_size=100,
                library_path="Big Buck Bunny (2008).mkv",
            ),
        )
        self.assertEqual(
            [(s.name, s.library_path) for s in catalog.series],
            [("Lone", "Lone"), ("Show", "Show")],
        )
        show = catalog.series[1].id
        self.assertEqual(
            [(s.series_id, s.number, s.cover) for s in catalog.seasons],
            [
                (catalog.series[0].id, 1, ""),
                (show, 1, ""),
                (show, 2, f"{self.series}/Show/Season 2/poster.jpg"),
            ],
        )
        self.assertEqual(
            sorted(
                (e.series_id, e.season_number, e.episode_number)
                for e in catalog.episodes
            ),
            [(1, 1, 1), (2, 1, 1), (2, 1, 2), (2, 2, 1)],
        )

    def test_rescanning_an_unchanged_library_probes_and_writes_nothing(self) -> None:
        self.scan()
        before, writes = self.catalog(), self.store.writes
        self.clock.advance(3600)
        report = self.scan()
        self.assertEqual(self.prober.calls, [])
        self.assertEqual((report.probed, report.cached, report.changed), (0, 7, False))
        self.assertEqual(self.store.writes, writes)
        self.assertEqual(self.catalog(), before)
        # a file that could not be probed is still listed, from the cache
        self.assertEqual(len(report.problems), 1)

    def test_a_changed_file_is_probed_again_and_keeps_its_id(self) -> None:
        self.scan()
        sintel = self.movies / "Sintel (2010).mp4"
        sintel.write_bytes(b"longer" * 100)
        self.prober.results["Sintel (2010).mp4"] = MediaFacts(
            888, "vp9", "opus", 640, 360, 99
        )
        self.clock.advance(60)
        report = self.scan()
        self.assertEqual(self.prober.calls, [str(sintel)])
        self.assertEqual((report.movies.updated, report.movies.added), (1, 0))
        movie = self.catalog().movies[1]
        self.assertEqual(
            (
                movie.id,
                movie.file_size,
                movie.video_codec,
                movie.duration_secs,
                movie.added,
            ),
            (2, 600, "vp9", 888, NOW),
        )

    def test_deleted_and_renamed_files(self) -> None:
        self.scan()
        catalog = self.catalog()
        bouquet = Bouquet(1, "All", movie_ids=(1, 2), series_ids=(1, 2))
        self.successResultOf(
            self.store.replace_catalog(attrs.evolve(catalog, bouquets=(bouquet,)))
        )
        os.remove(self.movies / "Big Buck Bunny (2008).mkv")
        os.rename(
            self.movies / "Sintel (2010).mp4", self.movies / "Sintel (2010) 4K.mp4"
        )
        for name in ("Show S02E01.mkv", "poster.jpg"):
            os.remove(self.series / "Show/Season 2" / name)
        os.remove(self.series / "Lone/Lone.S01E01.mkv")
        report = self.scan()
        self.assertEqual(
            (report.movies.added, report.movies.removed, report.movies.total), (0, 1, 1)
        )
        self.assertEqual((report.series.removed, report.episodes.removed), (1, 2))
        after = self.catalog()
        [movie] = after.movies
        # the renamed file keeps its record: id, added time, bouquets
        self.assertEqual(
            (movie.id, movie.library_path, movie.added),
            (2, "Sintel (2010) 4K.mp4", NOW),
        )
        self.assertEqual([s.name for s in after.series], ["Show"])
        self.assertEqual([(s.series_id, s.number) for s in after.seasons], [(2, 1)])
        self.assertEqual(
            after.bouquets, (Bouquet(1, "All", movie_ids=(2,), series_ids=(2,)),)
        )

    def test_a_moved_episode_keeps_its_id(self) -> None:
        self.scan()
        before = {e.library_path: e.id for e in self.catalog().episodes}
        (self.series / "Show/Season 3").mkdir()
        os.rename(
            self.series / "Show/Season 1/Show S01E02.mkv",
            self.series / "Show/Season 3/Show S03E05.mkv",
        )
        self.clock.advance(60)
        report = self.scan()
        self.assertEqual((report.episodes.added, report.episodes.removed), (0, 0))
        [episode] = [e for e in self.catalog().episodes if e.season_number == 3]
        self.assertEqual(
            (episode.id, episode.episode_number, episode.added),
            (before["Show/Season 1/Show S01E02.mkv"], 5, NOW),
        )

    def test_an_ambiguous_rename_makes_a_new_record(self) -> None:
        for name in ("Copy A (2001).mkv", "Copy B (2002).mkv"):
            (self.movies / name).write_bytes(b"c" * 300)
        self.scan()
        ids = {m.name: m.id for m in self.catalog().movies}
        os.remove(self.movies / "Copy A (2001).mkv")
        os.rename(self.movies / "Copy B (2002).mkv", self.movies / "Copy C (2003).mkv")
        report = self.scan()
        self.assertEqual((report.movies.added, report.movies.removed), (1, 2))
        names = {m.name: m.id for m in self.catalog().movies}
        self.assertNotIn(names["Copy C"], ids.values())

    def test_a_settled_rescan_reads_no_catalog(self) -> None:
        outside = [0]  # writes the store's stamp sees beside the scanner's
        scanner = self.new_scanner(lambda: (self.store.writes, outside[0]))

        def scan() -> ScanReport:
            return self.successResultOf(Deferred.fromCoroutine(scanner.scan()))

        first = scan()
        reads = self.store.reads
        again = scan()
        self.assertEqual(self.store.reads, reads, "no catalog read")
        self.assertEqual(
            (again.movies, again.series, again.episodes, again.changed),
            (Changes(total=2), Changes(total=2), Changes(total=4), False),
        )
        self.assertEqual(again.problems, first.problems)

        outside[0] += 1  # someone else wrote to the store: read it again
        scan()
        self.assertEqual(self.store.reads, reads + 1)
        scan()
        self.assertEqual(self.store.reads, reads + 1)

        os.remove(self.movies / "Big Buck Bunny (2008).mkv")  # the files changed
        gone = scan()
        self.assertEqual((gone.movies.removed, gone.movies.total), (1, 1))
        self.assertEqual(self.store.reads, reads + 2)
        self.assertEqual(len(self.catalog().movies), 1)

    def test_records_made_by_hand_are_left_alone(self) -> None:
        mine = Movie(7, "Remote", "http://cdn.example/remote.mp4", plot="by hand")
        adopted = Movie(9, "Mine", f"{self.movies}/Sintel (2010).mp4", added=5)
        catalog = self.catalog()
        self.successResultOf(
            self.store.replace_catalog(attrs.evolve(catalog, movies=(mine, adopted)))
        )
        self.scan()
        movies = {m.id: m for m in self.catalog().movies}
        self.assertEqual(movies[7], mine)
        self.assertEqual(
            (movies[9].name, movies[9].library_path, movies[9].added),
            ("Sintel", "Sintel (2010).mp4", 5),
        )
        self.assertEqual(len(movies), 3)

    def test_a_missing_directory_keeps_its_records(self) -> None:
        self.scan()
        before = self.catalog()
        self.movies.rename(self.movies.with_name("Films-unmounted"))
        report = self.scan()
        self.assertEqual(self.catalog().movies, before.movies)
        self.assertIn(
            f"{self.movies}: cannot read: No such file or directory",
            [str(p) for p in report.problems],
        )

    def test_a_passing_failure_keeps_the_record_and_is_tried_again(self) -> None:
        self.scan()
        before = self.catalog().movies[0]
        (self.movies / "Big Buck Bunny (2008).mkv").write_bytes(b"changed")
        self.prober.results["Big Buck Bunny (2008).mkv"] = ProbeFailure(
            "ffprobe took too long", lasting=False
        )
        self.scan()
        self.assertEqual(self.catalog().movies[0], before)
        self.scan()
        self.assertEqual(
            self.prober.calls, [f"{self.movies}/Big Buck Bunny (2008).mkv"]
        )

    def test_a_concurrent_change_is_merged_not_undone(self) -> None:
        self.store.meddle.append(object())
        report = self.scan()
        self.assertTrue(report.changed)
        catalog = self.catalog()
        self.assertEqual([u.username for u in catalog.users], ["sneaky1"])
        self.assertEqual(len(catalog.movies), 2)
        self.assertEqual(self.store.writes, 2)

    def test_dry_run(self) -> None:
        report = self.scan(write=False)
        self.assertEqual((report.movies.added, report.changed), (2, False))
        self.assertEqual((self.store.writes, self.catalog().movies), (0, ()))

    def test_without_ffprobe_nothing_happens(self) -> None:
        self.prober.missing = "ffprobe not found"
        failure = self.failureResultOf(Deferred.fromCoroutine(self.scanner.scan()))
        failure.trap(ScanError)
        self.assertEqual(failure.getErrorMessage(), "ffprobe not found")
        self.assertEqual(self.store.writes, 0)

    def test_export_and_apply_round_trip(self) -> None:
        self.scan()
        catalog = self.catalog()
        text = dump_document(catalog)
        self.assertIn('library_path = "Show/Season 2/Show S02E01.mkv"', text)
        self.assertEqual(parse_document(text, "doc.toml", lambda *_: "x"), catalog)


class LongScanTests(SynchronousTestCase):
    """A first scan of many files stores what it has as it goes."""

    def setUp(self) -> None:
        base = Path(self.mktemp()).resolve()
        movies = make_tree(
            base / "Films", {f"Film {i:03d} (2000).mkv": b"f" for i in range(300)}
        )
        self.clock = Clock()
        self.store = CountingStore()
        self.prober = FakeProber()
        self.prober.hold = True
        self.cache = ProbeCache(str(base / "cache.sqlite3"))
        self.scanner = LibraryScanner(
            self.store, (str(movies),), (), self.prober, self.cache, self.clock
        )

    def movies(self) -> int:
        return len(self.successResultOf(self.store.read_catalog()).movies)

    def test_progress_is_stored_once_a_minute(self) -> None:
        scan = Deferred.fromCoroutine(self.scanner.scan())
        self.assertEqual(len(self.prober.calls), 256)  # one batch at a time
        self.clock.advance(61)
        self.prober.release()
        self.assertEqual(self.movies(), 256)
        self.assertNoResult(scan)
        self.prober.release()
        report = self.successResultOf(scan)
        self.assertEqual(
            (self.movies(), report.probed, report.changed), (300, 300, True)
        )
        self.assertEqual(self.store.writes, 2)

    def test_probes_are_remembered_batch_by_batch(self) -> None:
        scan = Deferred.fromCoroutine(self.scanner.scan())
        self.prober.release()
        scan.cancel()
        self.failureResultOf(scan)
        self.prober.calls.clear()
        self.prober.hold = False
        report = self.successResultOf(Deferred.fromCoroutine(self.scanner.scan()))
        self.assertEqual((report.probed, report.cached), (44, 256))
