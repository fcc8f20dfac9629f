"""One connection slot per player and item, however many range requests.

Players read a file's index (an MP4's ``moov`` at its end) while the
playback request is still open, and seek by opening a new request before
closing the old.  Counting each request would refuse or kick the player's
own playback on a line with ``max_connections = 1``; so concurrent requests
of one client (address and User-Agent) for one item share one slot, taken
by the first and released with the last.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from twisted.web.server import Request

from xrelay.cred.limits import IConnectionTracker, Slot
from xrelay.web._responses import is_gone

Key = tuple[str, str, str, str]  # username, client, kind, item


@attrs.define(eq=False)
class _Shared:
    slot: Slot | None = None  # None while the tracker is being asked
    requests: set[Request] = attrs.Factory(set)


class Playbacks:
    def __init__(self, tracker: IConnectionTracker) -> None:
        self._tracker = tracker
        self._shared: dict[Key, _Shared] = {}

    async def take(
        self,
        request: Request,
        username: str,
        limit: int,
        kind: str,
        item: str,
        client: str,
        kick: Callable[[Request], None],
    ) -> bool:
        """Whether ``request`` may play (False: the line is full, or the
        client left meanwhile).  The request's share ends when it finishes."""
        key = (username, client, kind, item)
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = _Shared()
            slot = await self._tracker.acquire(
                username, limit, kind, item, client, lambda: self._kick(key, kick)
            )
            if slot is None:
                del self._shared[key]
                return False
            shared.slot = slot
        shared.requests.add(request)
        if is_gone(request):  # its finish was before we could listen for it
            self._leave(key, shared, request)
            return False
        request.notifyFinish().addBoth(lambda _: self._leave(key, shared, request))
        return True

    def _leave(self, key: Key, shared: _Shared, request: Request) -> None:
        shared.requests.discard(request)
        if shared.requests or self._shared.get(key) is not shared:
            return
        del self._shared[key]
        if shared.slot is not None:
            shared.slot.release()

    def _kick(self, key: Key, kick: Callable[[Request], None]) -> None:
        shared = self._shared.pop(key, None)
        if shared is not None:
            for request in list(shared.requests):
                kick(request)
