"""The HTTP root: routes player URLs to their handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.web._admin import AdminApi
from xrelay.web._live import LiveStreams
from xrelay.web._responses import send_text
from xrelay.web._timeshift import Timeshift

if TYPE_CHECKING:  # these import this package: no cycle at run time
    from xrelay.epg import XmltvEndpoint
    from xrelay.hls import HlsEndpoints
    from xrelay.vod import Vod
    from xrelay.xtream import XtreamApi

# Players POST these with a form body (IPTV Smarters, some Android apps).
_POST_PATHS = frozenset({"player_api.php", "panel_api.php", "get.php"})


class XRelayRoot(Resource):
    """Dispatches on the whole path (Xtream URLs put credentials in it)."""

    isLeaf = True

    def __init__(
        self,
        live: LiveStreams,
        admin: AdminApi,
        xtream: XtreamApi | None = None,
        hls: HlsEndpoints | None = None,
        timeshift: Timeshift | None = None,
        vod: Vod | None = None,
        xmltv: XmltvEndpoint | None = None,
    ) -> None:
        super().__init__()
        self._live = live
        self._admin = admin
        self._xtream = xtream
        self._hls = hls
        self._timeshift = timeshift
        self._vod = vod
        self._xmltv = xmltv

    def render(self, request: Request) -> bytes | int:
        try:
            parts = [p.decode("utf-8") for p in request.postpath or ()]
        except UnicodeDecodeError:
            parts = []
        allowed = (b"GET", b"HEAD", b"POST") if _posts(parts) else (b"GET", b"HEAD")
        if request.method not in allowed:
            request.setHeader(b"allow", b", ".join(allowed))
            send_text(request, 405, "method not allowed")
            return NOT_DONE_YET
        match parts:
            case ["admin", *rest]:
                return self._admin.render(request, rest)
            case ["live", username, password, stream]:
                return self._live.render(request, username, password, stream)
            case ["hls", token, name] if self._hls is not None:
                return self._hls.render(request, token, name)
            case ["timeshift", username, password, minutes, start, stream] if (
                self._timeshift is not None
            ):
                return self._timeshift.render_path(
                    request, username, password, minutes, start, stream
                )
            case ["streaming", "timeshift.php"] if self._timeshift is not None:
                return self._timeshift.render_query(request)
            case [("movie" | "series") as kind, username, password, stream] if (
                self._vod is not None
            ):
                return self._vod.streams.render(
                    request, kind, username, password, stream
                )
            case ["art", *rest] if self._vod is not None:
                return self._vod.artwork.render(request, rest)
            case ["xmltv.php"] if self._xmltv is not None:
                return self._xmltv.render(request)
            case [username, password, stream] if stream[:1].isdigit():
                return self._live.render(request, username, password, stream)
        if self._xtream is not None:
            match parts:
                case ["player_api.php"]:
                    return self._xtream.player_api(request)
                case ["panel_api.php"]:
                    return self._xtream.panel_api(request)
                case ["get.php"]:
                    return self._xtream.playlist(request)
        send_text(request, 404, "not found")
        return NOT_DONE_YET


def _posts(parts: list[str]) -> bool:
    return len(parts) == 1 and parts[0] in _POST_PATHS
