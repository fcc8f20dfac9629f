"""A prober that needs no ffprobe."""

from __future__ import annotations

import os

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from xrelay.vod import IProber, MediaFacts, ProbeResult

FACTS = MediaFacts(5400, "h264", "aac", 1920, 1080, 4000)


@implementer(IProber)
class FakeProber:
    """Facts for every file, ``results`` (by file name) for some; records
    the paths it was asked about.  With ``hold``, probes wait until
    ``release()``."""

    def __init__(self, results: dict[str, ProbeResult] | None = None) -> None:
        self.results = results or {}
        self.calls: list[str] = []
        self.missing: str | None = None
        self.hold = False
        self._held: list[tuple[Deferred[ProbeResult], ProbeResult]] = []

    def unavailable(self) -> str | None:
        return self.missing

    def probe(self, path: str, size: int) -> Deferred[ProbeResult]:
        self.calls.append(path)
        result = self.results.get(os.path.basename(path), FACTS)
        if not self.hold:
            return succeed(result)
        d: Deferred[ProbeResult] = Deferred()
        self._held.append((d, result))
        return d

    def release(self) -> None:
        held, self._held = self._held, []
        for d, result in held:
            if not d.called:
                d.callback(result)
