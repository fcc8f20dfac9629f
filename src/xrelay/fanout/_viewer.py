"""One viewer's end of a channel: a push producer on its HTTP request."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.web.server import Request
from zope.interface import implementer

from xrelay.mpegts import PACKET_SIZE


@implementer(IPushProducer)
class Viewer:
    """Delivers a channel's packets to one request, never blocking the hub.

    While the socket is writable, batches go straight to the request.  While
    twisted.web has paused us (the client's kernel buffer is full), batches
    wait in a bounded queue; past ``queue_limit`` bytes new batches are dropped
    whole (counted in ``dropped_packets``).  The hub disconnects a viewer that
    stays paused longer than its stall timeout.
    """

    log = Logger()

    def __init__(
        self,
        request: Request,
        clock: IReactorTime,
        queue_limit: int,
        on_detach: Callable[[Viewer], None],
        label: str = "",
    ) -> None:
        self.request = request
        self.label = label
        self._clock = clock
        self._on_detach = on_detach
        self.queue_limit = queue_limit
        self._queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.paused = False
        self.paused_since: float | None = None
        self.closed = False
        self.bytes_out = 0
        self.dropped_packets = 0
        self.started_at = clock.seconds()

    def offer(self, data: bytes) -> None:
        """Hand the viewer one batch of whole packets."""
        if self.closed:
            return
        if not self.paused and not self._queue:
            self._write(data)
        elif self.queued_bytes + len(data) <= self.queue_limit:
            self._queue.append(data)
            self.queued_bytes += len(data)
        else:
            self.dropped_packets += len(data) // PACKET_SIZE

    def stalled_for(self, now: float) -> float:
        return 0.0 if self.paused_since is None else now - self.paused_since

    def _write(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.request.write(data)

    # IPushProducer, driven by twisted.web from the socket's state.
    def pauseProducing(self) -> None:
        if not self.paused:
            self.paused = True
            self.paused_since = self._clock.seconds()

    def resumeProducing(self) -> None:
        self.paused = False
        self.paused_since = None
        while self._queue and not self.paused and not self.closed:
            data = self._queue.popleft()
            self.queued_bytes -= len(data)
            self._write(data)

    def stopProducing(self) -> None:
        self.detach()

    def detach(self) -> None:
        """Forget the queue and leave the hub (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self.queued_bytes = 0
        self._on_detach(self)

    def close(self, abort: bool = False) -> None:
        """End the response (server side): on shutdown or stall."""
        self.detach()
        transport = getattr(getattr(self.request, "channel", None), "transport", None)
        if abort and transport is not None:
            transport.abortConnection()
            return
        try:
            self.request.unregisterProducer()
            self.request.finish()
        except Exception:
            # The client went away in the meantime: nothing left to end.
            self.log.debug("viewer {label} already gone", label=self.label)
