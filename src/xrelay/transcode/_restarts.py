"""When a transcoded channel's ffmpeg may start again after it died."""

from __future__ import annotations

import attrs


@attrs.define
class Restarts:
    """The backoff of one derived channel's ffmpeg, kept across sources.

    A dead ffmpeg fails its source; the failover around the derived channel
    plays the slate and makes a new source every ``retry_interval``.  This
    spaces out the ffmpeg starts behind those tries: after ``failures``
    quick deaths in a row the next start waits ``first_delay * 2**(n-1)``
    (up to ``max_delay``) from the last death.  A run that lasted
    ``healthy`` seconds starts the count over.
    """

    first_delay: float = 2.0
    max_delay: float = 60.0
    healthy: float = 30.0
    starts: int = 0
    failures: int = 0  # in a row
    not_before: float = 0.0

    def wait(self, now: float) -> float:
        """Seconds before ffmpeg may start again (0: now)."""
        return max(0.0, self.not_before - now)

    def started(self) -> None:
        self.starts += 1

    def died(self, started_at: float, now: float) -> None:
        """ffmpeg started at ``started_at`` exited by itself at ``now``."""
        if now - started_at >= self.healthy:
            self.failures = 0
        self.failures += 1
        delay = min(self.first_delay * 2 ** (self.failures - 1), self.max_delay)
        self.not_before = now + delay
