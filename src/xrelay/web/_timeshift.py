"""Catch-up: ``/timeshift/U/P/MINUTES/START/ID.ts`` and
``/streaming/timeshift.php?username=U&password=P&stream=ID&start=START&duration=MINUTES``,
played from the channel's recording (xrelay.archive).

START is ``YYYY-MM-DD:HH-MM`` or ``YYYY-MM-DD:HH:MM`` in the server's time
zone, which ``player_api.php`` advertises as UTC, or epoch seconds.
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Mapping

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from xrelay.archive import Archive, Playback
from xrelay.cred.limits import IConnectionTracker, Slot
from xrelay.interfaces import IStore
from xrelay.models import User
from xrelay.web._auth import LineAuthenticator, Refusal, client_ip
from xrelay.web._responses import is_gone, send_text
from xrelay.web._streams import open_ts_stream

MAX_MINUTES = 24 * 60
CHUNK = 1396 * 188  # about 256 kB of whole packets per read

_STREAM = re.compile(r"(\d{1,9})(?:\.(ts|m3u8))?")
_WALL = re.compile(r"(\d{4})-(\d{2})-(\d{2}):(\d{2})[-:](\d{2})")
_START_FORMS = "YYYY-MM-DD:HH-MM, YYYY-MM-DD:HH:MM or epoch seconds"


class BadTimeshift(Exception):
    """A request naming no recording: ``status`` and a reason for the player."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@attrs.frozen
class TimeshiftRequest:
    channel_id: int
    start: int  # epoch seconds
    minutes: int

    @property
    def end(self) -> int:
        return self.start + 60 * self.minutes


def parse_start(text: str) -> int:
    """Epoch seconds of a START (see the module); BadTimeshift if it is none."""
    if text.isascii() and text.isdigit() and len(text) <= 11:
        return int(text)
    match = _WALL.fullmatch(text)
    if match is not None:
        year, month, day, hour, minute = map(int, match.groups())
        try:
            moment = datetime.datetime(year, month, day, hour, minute)
        except ValueError as e:
            raise BadTimeshift(400, f"start: {e}") from None
        return calendar.timegm(moment.timetuple())
    raise BadTimeshift(400, f"start: expected {_START_FORMS}, got {_show(text)}")


def parse_request(minutes: str, start: str, stream: str) -> TimeshiftRequest:
    """The three parts of a catch-up URL, checked."""
    match = _STREAM.fullmatch(stream)
    if match is None:
        raise BadTimeshift(404, "no such stream")
    if match.group(2) == "m3u8":
        raise BadTimeshift(404, "catch-up is available as .ts only")
    valid = minutes.isascii() and minutes.isdigit() and len(minutes) <= 5
    if not (valid and 1 <= int(minutes) <= MAX_MINUTES):
        reason = f"expected 1 to {MAX_MINUTES} minutes, got {_show(minutes)}"
        raise BadTimeshift(400, f"duration: {reason}")
    return TimeshiftRequest(int(match.group(1)), parse_start(start), int(minutes))


def _show(text: str) -> str:
    """User input quoted in an answer, kept short."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


class Timeshift:
    """Authenticates the line and checks its rights like a live stream,
    finds the recording, then streams it holding one connection slot
    (kind "timeshift")."""

    log = Logger()

    def __init__(
        self,
        auth: LineAuthenticator,
        store: IStore,
        archive: Archive,
        tracker: IConnectionTracker,
    ) -> None:
        self._auth = auth
        self._store = store
        self._archive = archive
        self._tracker = tracker

    def render_query(self, request: Request) -> int:
        """``timeshift.php``: the same parts as query parameters."""
        params = _query(request.args or {})
        return self.render_path(
            request,
            params.get("username", ""),
            params.get("password", ""),
            params.get("duration", ""),
            params.get("start", ""),
            params.get("stream", ""),
        )

    def render_path(
        self,
        request: Request,
        username: str,
        password: str,
        minutes: str,
        start: str,
        stream: str,
    ) -> int:
        try:
            wanted = parse_request(minutes, start, stream)
        except BadTimeshift as e:
            send_text(request, e.status, e.reason)
            return NOT_DONE_YET
        d = Deferred.fromCoroutine(self._serve(request, username, password, wanted))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    async def _serve(
        self, request: Request, username: str, password: str, wanted: TimeshiftRequest
    ) -> None:
        finished = request.notifyFinish()
        line = await self._auth.login(request, username, password, "ts")
        if isinstance(line, Refusal):
            send_text(request, line.status, line.reason)
            return
        channel_id = wanted.channel_id
        channel = await self._store.get_channel(channel_id)
        if channel is None or not await self._may_watch(line.user, channel_id):
            send_text(request, 404, "no such channel")
            return
        playback = await self._archive.playback(channel_id, wanted.start, wanted.end)
        if playback is None:
            send_text(request, 404, "not recorded: nothing of that time is archived")
            return
        label = f"{line.user.username}@{client_ip(request)}"

        def kick() -> None:
            self.log.info(
                "catch-up viewer {viewer} of channel {channel} disconnected: its "
                "connection slot was taken back (another stream, or its line)",
                viewer=label,
                channel=channel_id,
            )
            request.loseConnection()

        slot = await open_ts_stream(
            request, self._tracker, line.user, "timeshift", str(channel_id), kick
        )
        if slot is None:
            return
        sender = _Sender(request, playback, slot)
        finished.addBoth(sender.ended)
        self.log.info(
            "catch-up viewer {viewer}: channel {channel} from {start} for "
            "{minutes} min",
            viewer=label,
            channel=channel_id,
            start=wanted.start,
            minutes=wanted.minutes,
        )
        sender.start()

    async def _may_watch(self, user: User, channel_id: int) -> bool:
        if not user.bouquet_ids:
            return True
        wanted = set(user.bouquet_ids)
        return any(
            bouquet.id in wanted and channel_id in bouquet.channel_ids
            for bouquet in await self._store.list_bouquets()
        )

    def _failed(self, failure: Failure, request: Request) -> None:
        self.log.failure("serving catch-up", failure)
        send_text(request, 500, "internal error")


def _query(args: Mapping[bytes, list[bytes]]) -> dict[str, str]:
    return {
        name.decode("utf-8", "replace"): values[0].decode("utf-8", "replace")
        for name, values in args.items()
        if values
    }


@implementer(IPushProducer)
class _Sender:
    """Streams a playback to its request, one read at a time: at most one
    chunk is in flight, and none while the client's socket is full
    (twisted.web pauses us), so a slow player costs one chunk of memory."""

    log = Logger()

    def __init__(self, request: Request, playback: Playback, slot: Slot) -> None:
        self._request = request
        self._playback = playback
        self._slot = slot
        self._reading: Deferred[bytes] | None = None
        self._paused = False
        self._done = False
        self.sent = 0

    def start(self) -> None:
        try:
            self._request.registerProducer(self, True)
        except AttributeError:  # the client left meanwhile
            self.ended(None)
            return
        self._pump()

    def _pump(self) -> None:
        if self._paused or self._done or self._reading is not None:
            return
        self._reading = Deferred.fromCoroutine(self._playback.read(CHUNK))
        self._reading.addCallbacks(self._got, self._broken)

    def _got(self, data: bytes) -> None:
        self._reading = None
        if self._done:
            return
        if not data:
            self._finish()
            return
        self.sent += len(data)
        self._request.write(data)
        self._pump()

    def _broken(self, failure: Failure) -> None:
        self._reading = None
        if not self._done:
            self.log.failure("reading a recording", failure)
            self._finish()

    def _finish(self) -> None:
        self._done = True
        self._request.unregisterProducer()
        if not is_gone(self._request):
            self._request.finish()

    def ended(self, _: object) -> None:
        """The response is over (finished, or the client left)."""
        self._done = True
        if self._reading is not None:
            self._reading.cancel()
        self._slot.release()

    # IPushProducer
    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._pump()

    def stopProducing(self) -> None:
        self.ended(None)
