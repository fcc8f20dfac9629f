"""One refresh of one guide source: fetch (conditionally), then parse and
store, then record the outcome and the next attempt's time.

Shared by the daemon's loop and ``xrelay epg refresh``.  A failure at any
step leaves the source's last good guide in place and is recorded as its
error, with the next attempt backed off (doubling from
``retry_seconds``); success schedules the next refresh a period later.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import attrs
from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from xrelay.epg._db import GuideDatabase
from xrelay.epg._fetch import FetchError, Validators, fetch_once
from xrelay.epg._import import ImportResult, import_guide
from xrelay.epg._sql import SourceState, put_state
from xrelay.models import EpgSource

DAY = 86400


@attrs.frozen
class EpgSettings:
    """The ``[epg]`` configuration, as the loop uses it."""

    spool_dir: str
    past_days: float = 2.0
    future_days: float = 14.0
    refresh_seconds: int = 43200
    timeout: float = 60.0
    retry_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    max_bytes: int = 1_000_000_000

    def window(self, now: float) -> tuple[int, int]:
        """The programmes kept: those overlapping this span (epoch seconds)."""
        return int(now - self.past_days * DAY), int(now + self.future_days * DAY)

    def period(self, source: EpgSource) -> int:
        """Seconds between refreshes (a source's 0 means the default)."""
        return max(60, source.refresh_seconds or self.refresh_seconds)

    def backoff(self, failures: int, source: EpgSource) -> float:
        delay = self.retry_seconds * 2.0 ** min(failures - 1, 20)
        return min(delay, self.retry_max_seconds, self.period(source))


@attrs.frozen
class Refreshed:
    state: SourceState
    imported: ImportResult | None = None  # None: unchanged, or failed
    failure: Failure | None = None  # set when the error was unexpected

    @property
    def ok(self) -> bool:
        return not self.state.error


async def refresh_source(
    source: EpgSource,
    state: SourceState | None,
    db: GuideDatabase,
    http: Any,
    clock: IReactorTime,
    settings: EpgSettings,
) -> Refreshed:
    """Refresh ``source`` whose stored state is ``state``; never raises
    (but for cancellation)."""
    now = int(clock.seconds())
    state = state or SourceState(source.id)
    same_url = state.url == source.url
    checked = attrs.evolve(
        state,
        url=source.url,
        etag=state.etag if same_url else "",
        last_modified=state.last_modified if same_url else "",
        checked_at=now,
    )
    previous = Validators(state.url, state.etag, state.last_modified)
    spool = os.path.join(settings.spool_dir, f"source-{source.id}.download")
    unexpected = None
    try:
        fetched = await fetch_once(
            http,
            clock,
            source.url,
            previous,
            spool,
            settings.timeout,
            settings.max_bytes,
        )
        good = attrs.evolve(
            checked,
            ok_at=now,
            failures=0,
            error="",
            next_at=now + settings.period(source),
        )
        if fetched is None:
            await db.write(put_state, good)
            return Refreshed(good)
        good = attrs.evolve(
            good,
            etag=fetched.validators.etag,
            last_modified=fetched.validators.last_modified,
            imported_at=now,
        )
        try:
            imported = await db.write(
                import_guide,
                good,
                fetched.path,
                settings.window(now),
                settings.max_bytes,
            )
        finally:
            if fetched.temporary:
                _remove(fetched.path)
        return Refreshed(imported.state, imported)
    except CancelledError:
        raise
    except (FetchError, ValueError, OSError) as e:  # ValueError: bad XML or file
        error = str(e) or type(e).__name__
    except Exception as e:
        unexpected = Failure()
        error = f"{type(e).__name__}: {e}"
    failures = state.failures + 1
    failed = attrs.evolve(
        checked,
        failures=failures,
        error=error[:500],
        next_at=int(now + settings.backoff(failures, source)),
    )
    await db.write(put_state, failed)
    return Refreshed(failed, failure=unexpected)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
