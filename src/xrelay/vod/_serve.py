"""``/movie/U/P/ID.EXT`` and ``/series/U/P/EPISODE_ID.EXT``: VOD playback.

Authenticates the line, finds the item in the catalog view (the line's
bouquets must include it), opens its file inside the library, and sends
the requested range while holding one of the line's connection slots.
Any extension is accepted for an existing id (§5.3); the Content-Type is
the file's own.  HEAD and refused ranges (416) take no slot.
"""

from __future__ import annotations

import re

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.cred.limits import IConnectionTracker
from xrelay.models import Episode, Movie
from xrelay.vod._body import abort
from xrelay.vod._files import LibraryFiles, Refused
from xrelay.vod._names import VIDEO_TYPES, extension
from xrelay.vod._playbacks import Playbacks
from xrelay.vod._ranges import Unsatisfiable
from xrelay.vod._respond import choose_range, send_unsatisfiable, start_body
from xrelay.vod._upstream import Upstream, is_url
from xrelay.web._auth import LineAuthenticator, Refusal, client_id, client_ip
from xrelay.web._responses import is_gone, send_text
from xrelay.xtream import CatalogCache

_STREAM = re.compile(r"(\d{1,9})(?:\.[A-Za-z0-9]{1,8})?")
KINDS = ("movie", "series")


class VodStreams:
    log = Logger()

    def __init__(
        self,
        auth: LineAuthenticator,
        catalog: CatalogCache,
        tracker: IConnectionTracker,
        files: LibraryFiles,
        upstream: Upstream,
        clock: IReactorTime,
        use_sendfile: bool = True,
    ) -> None:
        self._auth = auth
        self._catalog = catalog
        self._playbacks = Playbacks(tracker)
        self._files = files
        self._upstream = upstream
        self._clock = clock
        self._sendfile = use_sendfile

    def render(
        self, request: Request, kind: str, username: str, password: str, stream: str
    ) -> int:
        """``kind`` is "movie" or "series" (the URL's first part)."""
        match = _STREAM.fullmatch(stream)
        if match is None:
            send_text(request, 404, "no such stream")
            return NOT_DONE_YET
        d = Deferred.fromCoroutine(
            self._serve(request, kind, username, password, int(match.group(1)))
        )
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    async def _serve(
        self, request: Request, kind: str, username: str, password: str, item_id: int
    ) -> None:
        line = await self._auth.login(request, username, password)
        if isinstance(line, Refusal):
            send_text(request, line.status, line.reason)
            return
        view = await self._catalog.view()
        visible = view.visibility(line.user.bouquet_ids)
        item: Movie | Episode | None = (
            view.movie(item_id, visible)
            if kind == "movie"
            else view.episode(item_id, visible)
        )
        if item is None:
            send_text(request, 404, f"no such {kind}")
            return
        user = line.user

        async def take_slot() -> bool:
            """One of the line's connections, for as long as the request
            lasts; False (refused, answered) when the line is full."""
            if not await self._playbacks.take(
                request,
                user.username,
                user.max_connections,
                kind,
                str(item_id),
                client_id(request),
                lambda r: self._kicked(r, user.username, kind, item_id),
            ):
                if not is_gone(request):
                    send_text(request, 403, "max connections reached")
                return False
            return True

        if is_url(item.source):
            await self._upstream.relay(request, item.source, take_slot)
            return
        opened = self._files.open(item.source)
        if isinstance(opened, Refused):
            self.log.warn(
                "{kind} {id}: cannot serve its file: {reason}",
                kind=kind,
                id=item_id,
                reason=opened.reason,
            )
            send_text(request, 404, f"no such {kind}")
            return
        try:
            chosen = choose_range(request, opened)
            if isinstance(chosen, Unsatisfiable):
                send_unsatisfiable(request, opened)
                opened.close()
                return
            if request.method != b"HEAD" and not await take_slot():
                opened.close()
                return
        except BaseException:
            opened.close()
            raise
        content_type = VIDEO_TYPES.get(
            extension(item.source), "application/octet-stream"
        )
        request.setHeader(b"cache-control", b"no-store")
        try:
            start_body(
                request, opened, chosen, content_type, self._clock, self._sendfile
            )
        except BaseException:
            opened.close()
            raise

    def _kicked(self, request: Request, username: str, kind: str, item_id: int) -> None:
        self.log.info(
            "{viewer} lost {kind} {id}: its connection slot was taken back "
            "(another stream, or its line)",
            viewer=f"{username}@{client_ip(request)}",
            kind=kind,
            id=item_id,
        )
        abort(request)

    def _failed(self, failure: Failure, request: Request) -> None:
        self.log.failure("serving a VOD stream", failure)
        if request.startedWriting:
            abort(request)  # mid-body: only a cut tells the player
        else:
            send_text(request, 500, "internal error")
