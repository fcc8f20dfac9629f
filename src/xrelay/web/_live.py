"""``/live/U/P/ID[.ts]`` (and the legacy ``/U/P/ID``): a live channel."""

from __future__ import annotations

import re
from typing import cast

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.cred.checkers import Line
from xrelay.cred.limits import ConnectionTracker
from xrelay.fanout import BodyTransport, ChannelRegistry
from xrelay.interfaces import IStore
from xrelay.web._auth import LineAuthenticator, Refusal, client_ip
from xrelay.web._responses import is_gone, send_text

_STREAM = re.compile(r"(\d{1,9})(?:\.(ts|m3u8))?")


class LiveStreams:
    """Authenticates the line, checks its rights, then attaches the request
    to the channel's hub as a viewer holding one connection slot."""

    log = Logger()

    def __init__(
        self,
        auth: LineAuthenticator,
        store: IStore,
        registry: ChannelRegistry,
        tracker: ConnectionTracker,
    ) -> None:
        self._auth = auth
        self._store = store
        self._registry = registry
        self._tracker = tracker

    def render(
        self, request: Request, username: str, password: str, stream: str
    ) -> bytes | int:
        match = _STREAM.fullmatch(stream)
        if match is None:
            send_text(request, 404, "no such stream")
            return NOT_DONE_YET
        if match.group(2) == "m3u8":
            send_text(request, 404, "HLS output is not available")
            return NOT_DONE_YET
        d = Deferred.fromCoroutine(
            self._serve(request, username, password, int(match.group(1)))
        )
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    async def _serve(
        self, request: Request, username: str, password: str, channel_id: int
    ) -> None:
        finished = request.notifyFinish()
        line = await self._auth.login(request, username, password, "ts")
        if isinstance(line, Refusal):
            send_text(request, line.status, line.reason)
            return
        if line.user.bouquet_ids and not await self._in_bouquets(line, channel_id):
            send_text(request, 404, "no such channel")
            return
        channel = await self._store.get_channel(channel_id)
        if channel is None:
            send_text(request, 404, "no such channel")
            return
        if is_gone(request):
            return
        request.setHeader(b"content-type", b"video/mp2t")
        request.setHeader(b"cache-control", b"no-store")
        if request.method == b"HEAD":
            request.finish()
            return
        slot = self._tracker.acquire(line.user.username, line.user.max_connections)
        if slot is None:
            send_text(request, 403, "max connections reached")
            return
        label = f"{line.user.username}@{client_ip(request)}"
        request.write(b"")  # the headers go out now: players wait for them
        transport, chunked = _body_writer(request)
        try:
            viewer = self._registry.attach(channel, request, transport, chunked, label)
        except Exception:
            slot.release()
            raise
        try:
            request.registerProducer(viewer, True)
        except AttributeError:  # the client left while we were attaching
            viewer.detach()
            slot.release()
            return

        def ended(_: object) -> None:
            viewer.detach()
            slot.release()
            self.log.info(
                "viewer {viewer} left channel {channel} after {bytes} bytes, "
                "{drops} packets dropped",
                viewer=label,
                channel=channel_id,
                bytes=viewer.bytes_out,
                drops=viewer.dropped_packets,
            )

        finished.addBoth(ended)
        self.log.info(
            "viewer {viewer} joined channel {channel}", viewer=label, channel=channel_id
        )

    async def _in_bouquets(self, line: Line, channel_id: int) -> bool:
        wanted = set(line.user.bouquet_ids)
        for bouquet in await self._store.list_bouquets():
            if bouquet.id in wanted and channel_id in bouquet.channel_ids:
                return True
        return False

    def _failed(self, failure: Failure, request: Request) -> None:
        self.log.failure("serving a live stream", failure)
        send_text(request, 500, "internal error")


class _ThroughRequest:
    """Body writes through twisted.web, for channels that are not plain
    HTTP/1.x connections (HTTP/2 streams frame the body themselves)."""

    def __init__(self, request: Request) -> None:
        self._request = request

    def write(self, data: bytes) -> None:
        self._request.write(data)

    def abortConnection(self) -> None:
        self._request.loseConnection()


def _body_writer(request: Request) -> tuple[BodyTransport, bool]:
    """Where a viewer writes its body bytes, and whether to chunk-frame them."""
    channel = request.channel
    if isinstance(channel, http.HTTPChannel) and channel.transport is not None:
        # TCP and TLS transports both have write() and abortConnection().
        return cast(BodyTransport, channel.transport), bool(request.chunked)
    return _ThroughRequest(request), False
