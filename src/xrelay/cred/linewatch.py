"""``LineWatch``: streams already playing follow their line's changes.

A login checks a line's rules once; a movie or a live channel can then
play for hours.  Every ``interval`` seconds this service looks up the line
behind each stream open on this node and stops the streams whose line
was deleted, disabled, has expired, or no longer allows that stream's
address or player.  Lines are looked up one at a time (through the same
short-lived caches as logins), so a node with many lines spreads the
reads instead of bursting them.
"""

from __future__ import annotations

from collections import defaultdict

from twisted.application.internet import TimerService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from xrelay.cred.limits import IConnectionTracker, Slot
from xrelay.cred.lines import LineSource, LinesUnavailable
from xrelay.cred.rules import line_verdict


class LineWatch(TimerService):
    log = Logger()

    def __init__(
        self,
        tracker: IConnectionTracker,
        lines: LineSource,
        clock: IReactorTime,
        interval: float = 5.0,
    ) -> None:
        super().__init__(interval, lambda: Deferred.fromCoroutine(self.check()))
        self.clock = self._clock = clock  # TimerService's, and typed
        self._tracker = tracker
        self._lines = lines

    async def check(self) -> int:
        """One pass; the number of streams stopped."""
        by_line: dict[str, list[Slot]] = defaultdict(list)
        for slot in self._tracker.open_slots():
            by_line[slot.username].append(slot)
        stopped = 0
        for username, slots in by_line.items():
            try:
                user = await self._lines.get_user(username)
            except LinesUnavailable:
                continue  # cannot tell now: leave its streams be
            except Exception:
                self.log.failure("line watch: looking up {username}", username=username)
                continue
            now = self._clock.seconds()
            for slot in slots:
                if slot.ended is not None:  # ended while we looked the line up
                    continue
                address, _, user_agent = slot.client.partition(" ")
                if user is None:
                    reason = "line deleted"
                else:
                    verdict = line_verdict(user, now, address, user_agent)
                    if verdict is None:
                        continue
                    reason = verdict.reason
                self.log.info(
                    "line {username}: {reason}; its {kind} stream {key} stopped",
                    username=username,
                    reason=reason,
                    kind=slot.kind,
                    key=slot.key,
                )
                slot.stop()
                stopped += 1
        return stopped
