"""The start every MPEG-TS stream URL shares: headers, then a slot."""

from __future__ import annotations

from collections.abc import Callable

from twisted.web.server import Request

from xrelay.cred.limits import IConnectionTracker, Slot
from xrelay.models import User
from xrelay.web._auth import client_id
from xrelay.web._responses import is_gone, send_text


async def open_ts_stream(
    request: Request,
    tracker: IConnectionTracker,
    user: User,
    kind: str,
    key: str,
    kick: Callable[[], None],
) -> Slot | None:
    """Send an MPEG-TS stream's headers and take one of ``user``'s
    connection slots for it (``kind``, ``key`` and ``kick`` as in
    ``IConnectionTracker.acquire``).  None when there is nothing to stream:
    the client left, a HEAD was answered, or the line is full (403)."""
    if is_gone(request):
        return None
    request.setHeader(b"content-type", b"video/mp2t")
    request.setHeader(b"cache-control", b"no-store")
    if request.method == b"HEAD":
        request.finish()
        return None
    slot = await tracker.acquire(
        user.username, user.max_connections, kind, key, client_id(request), kick
    )
    if slot is None:
        send_text(request, 403, "max connections reached")
        return None
    if is_gone(request):  # left while its slot was being counted
        slot.release()
        return None
    return slot
