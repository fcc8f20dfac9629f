"""Per-line connection accounting (single node, in memory)."""

from __future__ import annotations

from collections import Counter

import attrs


@attrs.define(eq=False)
class Slot:
    """One open stream held by a line; release it exactly once."""

    _tracker: ConnectionTracker
    username: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._tracker._release(self.username)


class ConnectionTracker:
    """Counts open streams per line and refuses past ``max_connections``."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def active(self, username: str) -> int:
        return self._open[username]

    def acquire(self, username: str, limit: int) -> Slot | None:
        """A slot, or None when the line already has ``limit`` streams."""
        if self._open[username] >= limit:
            return None
        self._open[username] += 1
        return Slot(self, username)

    def _release(self, username: str) -> None:
        self._open[username] -= 1
        if self._open[username] <= 0:
            del self._open[username]
