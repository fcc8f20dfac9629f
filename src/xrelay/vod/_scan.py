"""One library scan: walk the directories, probe what changed, and make the
store's catalog match: one atomic write, or none when nothing changed (a
long first scan also writes what it has once a minute).

With a ``stamp`` of the store (it changes whenever the store is written),
a scanner remembers what its last scan left there: a rescan that finds the
same files, nothing to probe and the store untouched since needs neither
a catalog read nor a plan (for a large library, most of a rescan's time).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import attrs
from twisted.internet.defer import Deferred, FirstError, gatherResults, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from xrelay.interfaces import IStore
from xrelay.models import Catalog
from xrelay.store import StoreError
from xrelay.vod._cache import Cached, ProbeCache
from xrelay.vod._plan import Changes, Planned, plan_catalog
from xrelay.vod._probe import IProber, MediaFacts, ProbeResult
from xrelay.vod._walk import Library, MediaFile, Problem, walk

T = TypeVar("T")

Runner = Callable[..., Deferred[Any]]
"""Runs a blocking function with its arguments somewhere (production: a
thread of the reactor's pool); a Deferred of its result."""


def run_inline(function: Callable[..., T], *args: Any) -> Deferred[T]:
    return maybeDeferred(function, *args)


def in_threads(reactor: Any) -> Runner:
    def run(function: Callable[..., T], *args: Any) -> Deferred[T]:
        return deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)

    return run


class ScanError(Exception):
    """A scan that cannot be done at all; the message says why."""


_WRITE_ATTEMPTS = 3  # a concurrent change (the admin CLI) makes us re-plan
_BATCH = 256  # files probed between two looks at the clock (and cache writes)
_PROGRESS = 60.0  # seconds: a long first scan stores what it has this often


@attrs.frozen
class ScanReport:
    movies: Changes
    series: Changes
    episodes: Changes
    problems: tuple[Problem, ...]
    probed: int  # files ffprobe ran on
    cached: int  # files whose facts were remembered
    seconds: float
    changed: bool  # whether the catalog was written
    phases: tuple[tuple[str, float], ...] = ()  # (what, seconds), in order

    def summary(self) -> str:
        phases = ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.phases)
        return (
            f"movies {self.movies}, series {self.series}, episodes {self.episodes};"
            f" {self.probed} probed, {self.cached} unchanged,"
            f" {len(self.problems)} problems, {self.seconds:.1f} s ({phases})"
        )


class LibraryScanner:
    log = Logger()

    def __init__(
        self,
        store: IStore,
        movie_dirs: tuple[str, ...],
        series_dirs: tuple[str, ...],
        prober: IProber,
        cache: ProbeCache,
        clock: IReactorTime,
        run: Runner = run_inline,
        stamp: Callable[[], Hashable] | None = None,
    ) -> None:
        self._store = store
        self.movie_dirs = movie_dirs
        self.series_dirs = series_dirs
        self._prober = prober
        self._cache = cache
        self._clock = clock
        self._run = run
        self._stamp = stamp
        self._settled: _Settled | None = None

    async def scan(self, write: bool = True) -> ScanReport:
        """Scan, and (unless ``write`` is false) store the result."""
        started = self._clock.seconds()
        reason = self._prober.unavailable()
        if reason is not None:
            raise ScanError(reason)
        # The catalog is read while the files are walked (a change made
        # meanwhile only makes the write try again), unless the last scan's
        # may do.
        settled = self._settled
        if settled is not None and not self._still(settled):
            settled = None
        reading = None if settled is not None else self._store.read_catalog()
        try:
            library: Library = await self._run(walk, self.movie_dirs, self.series_dirs)
            walked = self._clock.seconds()
            remembered = await self._run(self._cache.load)
            results, missing = _remembered(library, remembered)
            changed = False
            last_write = self._clock.seconds()
            if missing:
                self.log.info("library scan: probing {count} files", count=len(missing))
            for start in range(0, len(missing), _BATCH):
                batch = missing[start : start + _BATCH]
                await self._probe(batch, results)
                more = start + _BATCH < len(missing)
                if more and write and self._clock.seconds() - last_write >= _PROGRESS:
                    # A first scan may take hours: show what is probed so far.
                    _, wrote = await self._store_catalog(library, results, reading)
                    reading, changed = None, changed or wrote
                    last_write = self._clock.seconds()
                    self.log.info(
                        "library scan: {done} of {count} files probed",
                        done=start + len(batch),
                        count=len(missing),
                    )
        except BaseException:
            if reading is not None:
                reading.addErrback(lambda _: None)  # not wanted any more
            raise
        kept = tuple(d.rstrip(os.sep) + os.sep for d in library.unreadable)
        forget = [p for p in remembered if p not in results and not p.startswith(kept)]
        await self._run(self._cache.update, [], forget)
        probed_at = self._clock.seconds()
        if write:
            if settled is not None and not missing and self._still(settled):
                same = await self._run(settled.holds, library, results)
            else:
                same = False
            if same and settled is not None:
                planned, wrote = settled.planned.unchanged(), False
            else:
                planned, wrote = await self._store_catalog(library, results, reading)
            if self._stamp is not None:
                self._settled = _Settled(self._stamp(), library, results, planned)
        else:
            catalog = await (reading or self._store.read_catalog())
            planned, _ = await self._run(
                _plan, catalog, library, results, int(probed_at)
            )
            wrote = False
        ended = self._clock.seconds()
        failures = tuple(
            Problem(file.path, f"cannot probe: {result.reason}")
            for file in library.files
            if not isinstance(result := results[file.path], MediaFacts)
        )
        return ScanReport(
            planned.movies,
            planned.series,
            planned.episodes,
            library.problems + failures,
            len(missing),
            len(results) - len(missing),
            ended - started,
            changed or wrote,
            (
                ("walk", walked - started),
                ("probe", probed_at - walked),
                ("plan and store", ended - probed_at),
            ),
        )

    def _still(self, settled: _Settled) -> bool:
        """Whether the store is as the last scan left it."""
        return self._stamp is not None and self._stamp() == settled.stamp

    async def _probe(
        self, files: list[MediaFile], results: dict[str, ProbeResult]
    ) -> None:
        """Probe ``files`` into ``results``, and remember what was found."""
        try:
            probes = await gatherResults(
                [self._prober.probe(file.path, file.size) for file in files],
                consumeErrors=True,
            )
        except FirstError as e:  # probes never fail, but may be cancelled
            e.subFailure.raiseException()
        results.update(zip((file.path for file in files), probes, strict=True))
        fresh = [(f.path, f.size, f.mtime_ns, results[f.path]) for f in files]
        await self._run(self._cache.update, fresh, ())

    async def _store_catalog(
        self,
        library: Library,
        results: dict[str, ProbeResult],
        reading: Deferred[Catalog] | None,
    ) -> tuple[Planned, bool]:
        """Make the store hold the plan; whether it had to change.
        ``reading`` is a read of the catalog made earlier (or None)."""
        now = int(self._clock.seconds())
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            catalog = await (reading or self._store.read_catalog())
            reading = None
            planned, same = await self._run(_plan, catalog, library, results, now)
            if same:
                return planned, False
            try:
                await self._store.replace_catalog(planned.catalog, catalog)
            except StoreError:
                if attempt == _WRITE_ATTEMPTS:
                    raise
                self.log.info("library scan: the catalog changed meanwhile; again")
                continue
            return planned, True
        raise AssertionError("unreachable")


@attrs.frozen(eq=False)
class _Settled:
    """What a scan left the store holding, and the store's stamp then."""

    stamp: Hashable
    library: Library
    results: dict[str, ProbeResult]
    planned: Planned

    def holds(self, library: Library, results: dict[str, ProbeResult]) -> bool:
        """Whether a scan finding ``library`` and ``results`` would plan the
        same catalog (slow for a large library: run it off the reactor)."""
        return library == self.library and results == self.results


def _remembered(
    library: Library, remembered: dict[str, Cached]
) -> tuple[dict[str, ProbeResult], list[MediaFile]]:
    """The results the cache has for unchanged files, and the other files."""
    results: dict[str, ProbeResult] = {}
    missing: list[MediaFile] = []
    for file in library.files:
        hit = remembered.get(file.path)
        if hit is not None and (hit.size, hit.mtime_ns) == (file.size, file.mtime_ns):
            results[file.path] = hit.result
        else:
            missing.append(file)
    return results, missing


def _plan(
    catalog: Catalog, library: Library, results: dict[str, ProbeResult], now: int
) -> tuple[Planned, bool]:
    planned = plan_catalog(catalog, library, results, now)
    return planned, planned.catalog == catalog
