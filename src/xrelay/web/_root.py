"""The HTTP root: routes player URLs to their handlers."""

from __future__ import annotations

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.web._admin import AdminApi
from xrelay.web._live import LiveStreams
from xrelay.web._responses import send_text


class XRelayRoot(Resource):
    """Dispatches on the whole path (Xtream URLs put credentials in it)."""

    isLeaf = True

    def __init__(self, live: LiveStreams, admin: AdminApi) -> None:
        super().__init__()
        self._live = live
        self._admin = admin

    def render(self, request: Request) -> bytes | int:
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            send_text(request, 405, "method not allowed")
            return NOT_DONE_YET
        try:
            parts = [p.decode("utf-8") for p in request.postpath or ()]
        except UnicodeDecodeError:
            parts = []
        match parts:
            case ["admin", *rest]:
                return self._admin.render(request, rest)
            case ["live", username, password, stream]:
                return self._live.render(request, username, password, stream)
            case [username, password, stream] if stream[:1].isdigit():
                return self._live.render(request, username, password, stream)
        send_text(request, 404, "not found")
        return NOT_DONE_YET
