"""``LibraryService``: scans the library at start and then on a schedule."""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from xrelay.vod._scan import LibraryScanner, ScanError, ScanReport
from xrelay.vod._walk import Problem

_STATUS_PROBLEMS = 100  # problems listed in the admin status (all are counted)


class LibraryService(Service):
    """Runs ``scanner`` when started and every ``interval`` seconds after
    (0: only at start).  A scan never overlaps another; a failed one is
    logged and the schedule goes on.  Problems are logged as warnings the
    first time a scan finds them, so an hourly scan does not repeat them."""

    log = Logger()

    def __init__(
        self, scanner: LibraryScanner, clock: IReactorTime, interval: float
    ) -> None:
        self._scanner = scanner
        self._clock = clock
        self._interval = interval
        self._loop: LoopingCall | None = None
        self._scanning: Deferred[ScanReport | None] | None = None
        self._known: frozenset[Problem] = frozenset()
        self.last: ScanReport | None = None
        self.last_error = ""

    def startService(self) -> None:
        super().startService()
        if self._interval > 0:
            self._loop = LoopingCall(self.scan)
            self._loop.clock = self._clock
            self._loop.start(self._interval, now=True)
        else:
            self.scan()

    def stopService(self) -> None:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._scanning is not None:
            self._scanning.cancel()  # kills the ffprobes under way

    def scan(self) -> Deferred[ScanReport | None]:
        """Scan now, or join the scan under way; fires with its report
        (None if it failed: the failure is logged)."""
        scanning = self._scanning
        if scanning is None:
            scanning = Deferred.fromCoroutine(self._scanner.scan())
            scanning.addCallbacks(self._scanned, self._failed)
            scanning.addBoth(self._done)
            if not scanning.called:  # it may finish at once (tests)
                self._scanning = scanning
        return _follow(scanning)

    def _scanned(self, report: ScanReport) -> ScanReport:
        self.last, self.last_error = report, ""
        for problem in report.problems:
            if problem not in self._known:
                self.log.warn("library: {problem}", problem=str(problem))
        self._known = frozenset(report.problems)
        self.log.info("library scan done: {summary}", summary=report.summary())
        return report

    def _failed(self, failure: Failure) -> None:
        if failure.check(CancelledError):
            return None
        self.last_error = failure.getErrorMessage()
        if failure.check(ScanError):
            self.log.error("library scan failed: {reason}", reason=self.last_error)
        else:
            self.log.failure("library scan failed", failure)
        return None

    def _done(self, result: Any) -> Any:
        self._scanning = None
        return result

    def status(self) -> dict[str, object]:
        """For the admin status API."""
        last = self.last
        return {
            "scanning": self._scanning is not None,
            "error": self.last_error,
            "last_scan": None
            if last is None
            else {
                "movies": last.movies.total,
                "series": last.series.total,
                "episodes": last.episodes.total,
                "seconds": round(last.seconds, 3),
                "problem_count": len(last.problems),
                "problems": [str(p) for p in last.problems[:_STATUS_PROBLEMS]],
            },
        }


def _follow(d: Deferred[ScanReport | None]) -> Deferred[ScanReport | None]:
    """A Deferred firing with ``d``'s result, leaving ``d``'s own chain
    alone: cancelling it does not cancel the scan."""
    follower: Deferred[ScanReport | None] = Deferred()

    def relay(result: ScanReport | None) -> ScanReport | None:
        follower.callback(result)
        return result

    d.addBoth(relay)
    return follower
