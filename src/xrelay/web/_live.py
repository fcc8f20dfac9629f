"""``/live/U/P/ID[.ts|.m3u8]`` (and the legacy ``/U/P/ID``): a live channel;
``?profile=NAME`` asks for it transcoded by that profile (xrelay.transcode)."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, cast

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.cred.checkers import Line
from xrelay.cred.limits import IConnectionTracker
from xrelay.fanout import BodyTransport, ChannelRegistry
from xrelay.interfaces import IStore
from xrelay.web._auth import LineAuthenticator, Refusal, client_ip
from xrelay.web._responses import is_gone, send_text
from xrelay.web._streams import open_ts_stream

if TYPE_CHECKING:  # xrelay.hls imports this package: no cycle at run time
    from xrelay.hls import HlsEndpoints

_STREAM = re.compile(r"(\d{1,9})(?:\.(ts|m3u8))?")


class LiveStreams:
    """Authenticates the line, checks its rights, then attaches the request
    to the channel's hub as a viewer holding one connection slot (``.m3u8``:
    hands it to HLS, whose session holds the slot)."""

    log = Logger()

    def __init__(
        self,
        auth: LineAuthenticator,
        store: IStore,
        registry: ChannelRegistry,
        tracker: IConnectionTracker,
        profiles: Collection[str] = (),
        hls: HlsEndpoints | None = None,
    ) -> None:
        self._auth = auth
        self._store = store
        self._registry = registry
        self._tracker = tracker
        self._profiles = profiles  # the transcoding profiles configured
        self._hls = hls

    def render(
        self, request: Request, username: str, password: str, stream: str
    ) -> bytes | int:
        match = _STREAM.fullmatch(stream)
        if match is None:
            send_text(request, 404, "no such stream")
            return NOT_DONE_YET
        output = match.group(2) or "ts"
        if output == "m3u8" and self._hls is None:
            send_text(request, 404, "HLS output is not available")
            return NOT_DONE_YET
        d = Deferred.fromCoroutine(
            self._serve(request, username, password, int(match.group(1)), output)
        )
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    async def _serve(
        self,
        request: Request,
        username: str,
        password: str,
        channel_id: int,
        output: str,
    ) -> None:
        finished = request.notifyFinish()
        line = await self._auth.login(request, username, password, output)
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
        profile = _profile(request)
        if profile is not None and profile not in self._profiles:
            send_text(request, 404, "no such profile")
            return
        if is_gone(request):
            return
        if self._hls is not None and output == "m3u8":
            finished.addErrback(lambda _: None)  # HLS answers at once, no stream
            await self._hls.start(request, line.user, channel, profile)
            return
        label = f"{line.user.username}@{client_ip(request)}"

        def kick() -> None:
            self.log.info(
                "viewer {viewer} of channel {channel} disconnected: its "
                "connection slot was taken back (another stream, or its line)",
                viewer=label,
                channel=channel_id,
            )
            _body_writer(request)[0].abortConnection()

        slot = await open_ts_stream(
            request, self._tracker, line.user, "live", str(channel_id), kick
        )
        if slot is None:
            return
        request.write(b"")  # the headers go out now: players wait for them
        transport, chunked = _body_writer(request)
        try:
            viewer = self._registry.attach(
                channel, request, transport, chunked, label, variant=profile
            )
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


def _profile(request: Request) -> str | None:
    values = request.args.get(b"profile") if request.args else None
    return values[0].decode("utf-8", "replace") if values else None


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
