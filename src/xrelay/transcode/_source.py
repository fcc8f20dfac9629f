"""The source of a transcoded channel: the parent channel through ffmpeg."""

from __future__ import annotations

import shlex
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProcessTransport
from twisted.python.failure import Failure
from twisted.web.server import Request
from zope.interface import implementer

from xrelay.config import TranscodeProfile
from xrelay.fanout import ChannelRegistry, Viewer
from xrelay.ingest import ExecSource
from xrelay.interfaces import IChannelSource, IStore
from xrelay.models import Channel
from xrelay.transcode._args import ffmpeg_args
from xrelay.transcode._probe import EncoderCheck
from xrelay.transcode._progress import ProgressParser
from xrelay.transcode._restarts import Restarts
from xrelay.transcode._url import SCHEME

_MAX_LINE = 1000


class _Stdin:
    """ffmpeg's stdin as the body transport of the viewer that feeds it."""

    def __init__(self, process: IProcessTransport, source: TranscodeSource) -> None:
        self._process = process
        self._source = source

    def write(self, data: bytes) -> None:
        self._process.write(data)

    def abortConnection(self) -> None:
        # The parent's hub gave up on us: ffmpeg took nothing for its
        # stall timeout.
        self._source._stuck()


class _Feed:
    """What a Viewer uses of its request, for a viewer whose consumer is
    ffmpeg's stdin rather than an HTTP response."""

    sentLength = 0

    def __init__(self, process: Any) -> None:  # IProcessTransport, IConsumer
        self._process = process

    def unregisterProducer(self) -> None:
        self._process.unregisterProducer()

    def finish(self) -> None:
        # The parent channel ended: ffmpeg encodes what it has and exits,
        # and the source reports that as its failure.
        self._process.closeStdin()


@implementer(IChannelSource)
class TranscodeSource(ExecSource):
    """Watches channel ``parent_id`` like a viewer and pipes it through
    ffmpeg; ffmpeg's output is this source's stream.

    The feed into ffmpeg is a fan-out ``Viewer`` of the parent's hub whose
    transport is ffmpeg's stdin: while the pipe is full the viewer queues,
    up to the hub's queue limit, then drops whole packets up to the next
    keyframe, so a slow encoder never slows the parent or its viewers (and
    the hub's stall timeout ends an ffmpeg that stops reading).  The parent
    runs while it has this viewer, like any on-demand channel.

    Process handling is ExecSource's (SIGTERM, SIGKILL after ``grace``,
    ``stop()`` fires once ffmpeg is reaped).  stderr carries ffmpeg's
    progress, shown with its last warnings by ``health()``.  Starts are
    paced by the derived channel's ``Restarts``.
    """

    def __init__(
        self,
        url: str,
        parent_id: int,
        profile: TranscodeProfile,
        encoders: EncoderCheck,
        ffmpeg: str,
        store: IStore,
        registry: ChannelRegistry,
        restarts: Restarts,
        reactor: Any,  # IReactorProcess and IReactorTime
        grace: float = 2.0,
    ) -> None:
        # ExecSource finds the executable (UnsupportedSource if it is not);
        # the arguments wait for the encoder check.
        super().__init__("exec:" + shlex.quote(ffmpeg), reactor, grace)
        self.name = url
        self.parent_id = parent_id
        self.profile_name = encoders.name
        self._profile = profile
        self._encoders = encoders
        self._store = store
        self._registry = registry
        self._restarts = restarts
        self.encoder: str | None = None
        self.progress = ProgressParser()
        self._feed: Viewer | None = None
        self._started_at: float | None = None

    def health(self) -> dict[str, object]:
        """For the status page (the failover's ``active_health``)."""
        progress = self.progress.current
        return {
            "transcode": self.profile_name,
            "parent": self.parent_id,
            "encoder": self.encoder,
            "pid": self.pid,
            "fps": progress.fps,
            "speed": progress.speed,
            "frames": progress.frame,
            "dropped_frames": progress.dropped_frames,
            "input_dropped_packets": (
                0 if self._feed is None else self._feed.dropped_packets
            ),
            "ffmpeg_starts": self._restarts.starts,
            "failures_in_a_row": self._restarts.failures,
            "last_errors": list(self.last_errors),
        }

    def _attempt(self) -> None:
        wait = self._restarts.wait(self._clock.seconds())
        if wait > 0:
            self._attempt_failed(
                f"ffmpeg failed {self._restarts.failures} times in a row; "
                f"next start in {wait:.0f} s"
            )
            return
        d = Deferred.fromCoroutine(self._prepare())
        d.addErrback(self._prepare_failed)

    async def _prepare(self) -> None:
        encoder = await self._encoders.encoder()
        parent = await self._store.get_channel(self.parent_id)
        if self._stopped:
            return
        if parent is None:
            self._attempt_failed(f"no channel {self.parent_id}")
        elif any(url.startswith(SCHEME + ":") for url in parent.sources):
            self._attempt_failed(
                f"channel {self.parent_id} is transcoded itself: "
                "transcode the channel it comes from"
            )
        elif not parent.sources:
            self._attempt_failed(f"channel {self.parent_id} has no source")
        else:
            self._spawn(encoder, parent)

    def _prepare_failed(self, failure: Failure) -> None:
        self.log.failure("{source}: starting", failure, source=self.name)
        self._attempt_failed(f"cannot start: {failure.getErrorMessage()}")

    def _spawn(self, encoder: str, parent: Channel) -> None:
        self.encoder = encoder
        self._partial = b""
        self.progress = ProgressParser()  # this run's
        argv = ffmpeg_args(self._argv[0], self._profile, encoder)
        try:
            process = self._spawn_child(argv, keep_stdin=True)
        except OSError as e:
            self._attempt_failed(f"cannot start ffmpeg: {e.strerror}")
            return
        self._process = process
        self.connected = True
        self._started_at = self._clock.seconds()
        self._restarts.started()
        try:
            self._feed = self._registry.attach(
                parent,
                cast(Request, _Feed(process)),
                _Stdin(process, self),
                False,
                f"transcode:{self.profile_name}",
            )
        except Exception as e:
            self.log.failure("{source}: watching channel", source=self.name)
            self._error_line(f"cannot watch channel {self.parent_id}: {e}".encode())
            self._signal("KILL")
            return
        process.registerProducer(self._feed, True)

    def _stuck(self) -> None:
        self._error_line(b"ffmpeg stopped reading its input: killing it")
        self._signal("KILL")

    def _leave_parent(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.detach()

    def _release(self) -> Deferred[None]:
        self._leave_parent()
        return super()._release()

    def _exited(self, reason: Failure) -> None:
        self._leave_parent()
        started, self._started_at = self._started_at, None
        if started is not None and not self._stopped:
            self._restarts.died(started, self._clock.seconds())
        super()._exited(reason)

    def _error_line(self, raw: bytes) -> None:
        line = raw[:_MAX_LINE].decode("utf-8", "replace").strip()
        if not self.progress.line(line):
            super()._error_line(raw)
