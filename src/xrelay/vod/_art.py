"""``/art/...``: posters and backdrops that live in the library.

The Xtream answers point at these for artwork found beside the media
(``xrelay.xtream._fields.artwork`` makes the URLs; artwork given as a URL
is handed out as that URL):

    /art/movie/ID/poster.EXT     /art/movie/ID/backdrop.EXT
    /art/series/ID/cover.EXT     /art/series/ID/backdrop.EXT
    /art/series/ID/season-N.EXT

Like real panels, artwork needs no login: it is cover art, and image
loaders in players send no credentials.  It is served with validators and
a day of caching (a changed image gets a new ETag).
"""

from __future__ import annotations

import re

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.vod._files import LibraryFiles, Refused
from xrelay.vod._names import IMAGE_TYPES, extension
from xrelay.vod._ranges import Unsatisfiable
from xrelay.vod._respond import (
    choose_range,
    not_modified,
    send_unsatisfiable,
    start_body,
)
from xrelay.vod._upstream import is_url
from xrelay.web._responses import is_gone, send_text
from xrelay.xtream import CatalogCache
from xrelay.xtream._view import CatalogView

_NAME = re.compile(r"(poster|backdrop|cover|season-(\d{1,3}))(?:\.[A-Za-z0-9]{1,5})?")
_MAX_AGE = 86400


class Artwork:
    log = Logger()

    def __init__(
        self, catalog: CatalogCache, files: LibraryFiles, clock: IReactorTime
    ) -> None:
        self._catalog = catalog
        self._files = files
        self._clock = clock

    def render(self, request: Request, parts: list[str]) -> int:
        match parts:
            case [("movie" | "series") as kind, item, name] if item.isdigit():
                found = _NAME.fullmatch(name)
                if found is not None and len(item) <= 9:
                    d = Deferred.fromCoroutine(
                        self._serve(request, kind, int(item), found[1])
                    )
                    d.addErrback(self._failed, request)
                    return NOT_DONE_YET
        send_text(request, 404, "no such image")
        return NOT_DONE_YET

    async def _serve(
        self, request: Request, kind: str, item_id: int, name: str
    ) -> None:
        image = _image(await self._catalog.view(), kind, item_id, name)
        if is_gone(request):
            return
        if not image or is_url(image):
            send_text(request, 404, "no such image")
            return
        opened = self._files.open(image)
        if isinstance(opened, Refused):
            self.log.warn(
                "{kind} {id} {name}: cannot serve it: {reason}",
                kind=kind,
                id=item_id,
                name=name,
                reason=opened.reason,
            )
            send_text(request, 404, "no such image")
            return
        request.setHeader(b"cache-control", f"public, max-age={_MAX_AGE}".encode())
        request.setHeader(b"access-control-allow-origin", b"*")
        if not_modified(request, opened):
            request.setResponseCode(http.NOT_MODIFIED)
            request.setHeader(b"etag", opened.etag.encode("ascii"))
            opened.close()
            request.finish()
            return
        chosen = choose_range(request, opened)
        if isinstance(chosen, Unsatisfiable):
            send_unsatisfiable(request, opened)
            opened.close()
            return
        content_type = IMAGE_TYPES.get(extension(image), "application/octet-stream")
        start_body(
            request, opened, chosen, content_type, self._clock, use_sendfile=False
        )

    def _failed(self, failure: Failure, request: Request) -> None:
        self.log.failure("serving library artwork", failure)
        send_text(request, 500, "internal error")


def _image(view: CatalogView, kind: str, item_id: int, name: str) -> str:
    if kind == "movie":
        movie = view.movie(item_id)
        if movie is None:
            return ""
        return {"poster": movie.poster, "backdrop": movie.backdrop}.get(name, "")
    series = view.series(item_id)
    if series is None:
        return ""
    if name.startswith("season-"):
        season = view.season(item_id, int(name.removeprefix("season-")))
        return season.cover if season is not None else ""
    return {"cover": series.cover, "backdrop": series.backdrop}.get(name, "")
