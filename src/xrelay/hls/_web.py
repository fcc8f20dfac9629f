"""The HLS URLs: ``/live/U/P/ID.m3u8`` opens a session, ``/hls/TOKEN/...``
serves its playlist and segments."""

from __future__ import annotations

import re

from twisted.internet.defer import CancelledError, TimeoutError
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from xrelay.hls._sessions import HlsSession, HlsSessions
from xrelay.models import Channel, User
from xrelay.web._auth import client_id, client_ip
from xrelay.web._responses import is_gone, send_text

PLAYLIST = "index.m3u8"
_SEGMENT = re.compile(r"(\d{1,15})\.ts")
_MPEGURL = b"application/vnd.apple.mpegurl"
_TS = b"video/mp2t"
# A playlist changes with every segment: players must ask again.
_PLAYLIST_CACHE = b"no-cache"
_CHUNK = 128 * 1024  # what a TCP transport sends per write anyway


class HlsEndpoints:
    """Players get a redirect from the channel URL to their session's
    playlist; the token in that URL (and, relatively, in the segment
    URLs) is all later requests carry, so no password is checked again."""

    log = Logger()

    def __init__(self, sessions: HlsSessions, clock: IReactorTime) -> None:
        self._sessions = sessions
        self._clock = clock
        settings = sessions.settings
        # A segment never changes; it stays fetchable about two windows long.
        kept = round(2 * settings.window * settings.segment_seconds)
        self._segment_cache = b"private, max-age=%d" % kept

    async def start(
        self,
        request: Request,
        user: User,
        channel: Channel,
        variant: str | None = None,
    ) -> None:
        """``/live/U/P/ID.m3u8`` for a line allowed to watch ``channel`` (or
        its ``variant``, a transcoding profile): open (or continue) the
        player's session, redirect to its playlist."""
        if request.method == b"HEAD":
            _headers(request, _MPEGURL, b"no-store")
            request.finish()
            return
        session = await self._sessions.open(
            user, channel, variant, client_id(request), client_ip(request)
        )
        if session is None:
            send_text(request, 403, "max connections reached")
            return
        if is_gone(request):
            return  # the session stays for a retry, until it expires
        request.setResponseCode(302)
        request.setHeader(b"location", f"/hls/{session.token}/{PLAYLIST}".encode())
        _send(request, b"", _MPEGURL, b"no-store")

    def render(self, request: Request, token: str, name: str) -> int:
        """``/hls/TOKEN/NAME``: the playlist or one segment."""
        session = self._sessions.find(token, client_ip(request))
        if session is None:
            send_text(request, 404, "no such HLS session")
            return NOT_DONE_YET
        if name == PLAYLIST:
            self._playlist(request, session)
            return NOT_DONE_YET
        match = _SEGMENT.fullmatch(name)
        segment = session.feed.window.get(int(match[1])) if match else None
        if segment is None:
            send_text(request, 404, "no such segment")
        elif request.method == b"HEAD":
            _send(request, b"", _TS, self._segment_cache, len(segment.data))
        else:
            _headers(request, _TS, self._segment_cache)
            request.setHeader(b"content-length", b"%d" % len(segment.data))
            _SegmentBody(request, segment.data).start()
        return NOT_DONE_YET

    def _playlist(self, request: Request, session: HlsSession) -> None:
        """The playlist, once the channel has a first segment (a starting
        channel needs a few seconds; the request waits, bounded)."""
        window = session.feed.window
        d = session.feed.ready()
        if d.called:  # the usual case: answer now
            _send(request, window.playlist(), _MPEGURL, _PLAYLIST_CACHE)
            return
        d.addTimeout(self._sessions.settings.start_timeout, self._clock)
        request.notifyFinish().addErrback(lambda _: d.cancel())
        d.addCallbacks(
            lambda _: _send(request, window.playlist(), _MPEGURL, _PLAYLIST_CACHE),
            self._not_ready,
            errbackArgs=(request, session),
        )

    def _not_ready(
        self, failure: Failure, request: Request, session: HlsSession
    ) -> None:
        if failure.check(CancelledError):  # the player left
            return
        if failure.check(TimeoutError):
            self.log.warn(
                "channel {channel}: no HLS segment within {seconds} s",
                channel=session.channel_id,
                seconds=self._sessions.settings.start_timeout,
            )
            send_text(request, 503, "the channel is not ready, try again")
            return
        self.log.failure("serving an HLS playlist", failure)
        send_text(request, 500, "internal error")


def _headers(request: Request, content_type: bytes, cache_control: bytes) -> None:
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"cache-control", cache_control)
    # Browser players (hls.js) fetch across origins; the token is in the
    # URL, never in a cookie, so any origin may read it.
    request.setHeader(b"access-control-allow-origin", b"*")


def _send(
    request: Request,
    body: bytes,
    content_type: bytes,
    cache_control: bytes,
    length: int | None = None,
) -> None:
    """A whole response (``length``: of the body a HEAD is not sent)."""
    if is_gone(request):
        return
    _headers(request, content_type, cache_control)
    request.setHeader(
        b"content-length", b"%d" % (len(body) if length is None else length)
    )
    request.write(body)  # twisted.web sends no body for HEAD
    request.finish()


@implementer(IPushProducer)
class _SegmentBody:
    """Writes a segment a chunk at a time, as fast as the socket takes it.

    Written whole, each response would sit in its transport's buffer as a
    copy of the segment (joined to its headers): players fetching a new
    segment together would hold one copy each.  Chunks bound that to about
    one chunk per player, at the cost of one call per chunk.
    """

    def __init__(self, request: Request, data: bytes) -> None:
        self._request: Request | None = request
        self._data = data
        self._sent = 0
        self._paused = False

    def start(self) -> None:
        request = self._request
        assert request is not None
        try:
            request.registerProducer(self, True)
        except AttributeError:  # the player left already
            self._request = None
            return
        self.resumeProducing()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        while not self._paused and self._request is not None:
            request = self._request
            end = self._sent + _CHUNK
            request.write(self._data[self._sent : end])  # may pause us
            self._sent = end
            if end >= len(self._data) and self._request is not None:
                self._request = None
                request.unregisterProducer()
                request.finish()

    def stopProducing(self) -> None:
        self._request = None
