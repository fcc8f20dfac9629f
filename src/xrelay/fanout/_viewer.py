"""One viewer's end of a channel: a push producer on its HTTP request."""

from __future__ import annotations

import array
import fcntl
import socket
import termios
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet import tcp
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.web.server import Request
from zope.interface import implementer

from xrelay.fanout._batch import Batch
from xrelay.mpegts import PACKET_SIZE


def _plain_socket(transport: object) -> socket.socket | None:
    """The socket under a plain (not TLS) Twisted TCP connection, else None.

    Sending to it directly is only safe while the transport's own buffer is
    empty (see ``_has_buffered``), which keeps the byte order.
    """
    if isinstance(transport, tcp.Connection) and not getattr(transport, "TLS", False):
        return transport.socket  # type: ignore[no-any-return]
    return None


def _unsent_bytes(sock: socket.socket) -> int:
    """What the kernel still holds for this socket (not yet acknowledged by
    the client): SIOCOUTQ, which Linux spells TIOCOUTQ for sockets."""
    out = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, out, True)
    except OSError:  # closed meanwhile
        return 0
    return out[0]


def _has_buffered(transport: object) -> bool:
    # FileDescriptor's write buffers: ``dataBuffer`` from ``offset`` on, then
    # the ``_tempDataBuffer`` list (``_tempDataLen`` bytes).
    t: Any = transport
    return bool(len(t.dataBuffer) - t.offset or t._tempDataLen)


class BodyTransport(Protocol):
    """Where a viewer's body bytes go: a TCP/TLS transport, or a stand-in."""

    def write(self, data: bytes) -> None: ...

    def abortConnection(self) -> None: ...


@implementer(IPushProducer)
class Viewer:
    """Delivers a channel's batches to one client, never blocking the hub.

    Once the response headers are out, batches go straight to the socket
    (pre-framed when the response is chunked): twisted.web stays out of the
    per-batch path, and while the transport has nothing buffered a batch is
    handed to ``send()`` directly, from the buffer all viewers share (no
    copy, no poller registration; only a remainder the kernel did not take
    goes through the transport's buffer).  While the socket is full
    (twisted.web pauses us), batches wait in a bounded queue.  A batch that
    would overflow it drops the whole queue and the viewer skips ahead to
    the next keyframe (with PAT/PMT first), so it plays on from live instead
    of decoding garbage.  The hub disconnects a viewer that stays paused,
    or whose kernel send buffer holds more than its queue limit (the kernel
    may buffer megabytes for a client that reads nothing), longer than its
    stall timeout.
    """

    log = Logger()

    def __init__(
        self,
        request: Request,
        transport: BodyTransport,
        chunked: bool,
        clock: IReactorTime,
        queue_limit: int,
        on_detach: Callable[[Viewer], None],
        label: str = "",
    ) -> None:
        self.request = request
        self.label = label
        self._transport = transport
        self._socket = _plain_socket(transport)
        self._chunked = chunked
        self._clock = clock
        self._on_detach = on_detach
        self.queue_limit = queue_limit
        self._queue: deque[Batch] = deque()
        self.queued_bytes = 0
        self._skipping = False  # dropped data: waiting for a keyframe
        self.paused = False
        self.paused_since: float | None = None
        self._backlogged_since: float | None = None
        self.closed = False
        self.bytes_out = 0
        self.dropped_packets = 0
        self.skips = 0
        self.started_at = clock.seconds()

    def offer(self, batch: Batch) -> None:
        """Hand the viewer one batch of whole packets."""
        if self.closed:
            return
        if self._skipping:
            if batch.keyframe_at is None:
                self.dropped_packets += len(batch) // PACKET_SIZE
                return
            self._skipping = False
            self.dropped_packets += batch.keyframe_at // PACKET_SIZE
            batch = batch.from_keyframe()
        if not self.paused and not self._queue:
            self._send(batch)
        elif self.queued_bytes + len(batch) <= self.queue_limit:
            self._queue.append(batch)
            self.queued_bytes += len(batch)
        else:
            self.dropped_packets += (self.queued_bytes + len(batch)) // PACKET_SIZE
            self._queue.clear()
            self.queued_bytes = 0
            self._skipping = True
            self.skips += 1

    def stalled_for(self, now: float) -> float:
        """How long the viewer has been unable to keep up: paused by its
        transport, or with more than a queue's worth unsent in the kernel.
        Called periodically (the hub's stall check)."""
        if self.paused_since is not None:
            return now - self.paused_since
        if self.kernel_backlog() <= self.queue_limit:
            self._backlogged_since = None
            return 0.0
        if self._backlogged_since is None:
            self._backlogged_since = now
        return now - self._backlogged_since

    def kernel_backlog(self) -> int:
        return 0 if self._socket is None else _unsent_bytes(self._socket)

    def lag_bytes(self) -> int:
        """Bytes sent towards the viewer that it has not received yet."""
        return self.queued_bytes + self.kernel_backlog()

    def _send(self, batch: Batch) -> None:
        self.bytes_out += len(batch)
        data = batch.framed if self._chunked else batch.data
        if self._socket is not None and not _has_buffered(self._transport):
            try:
                sent = self._socket.send(data)
            except OSError:  # full (EAGAIN), or gone: the transport finds out
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        self._transport.write(data)

    # IPushProducer, driven by twisted.web from the socket's state.
    def pauseProducing(self) -> None:
        if not self.paused:
            self.paused = True
            self.paused_since = self._clock.seconds()

    def resumeProducing(self) -> None:
        self.paused = False
        self.paused_since = None
        while self._queue and not self.paused and not self.closed:
            batch = self._queue.popleft()
            self.queued_bytes -= len(batch)
            self._send(batch)

    def stopProducing(self) -> None:
        self.detach()

    def detach(self) -> None:
        """Forget the queue and leave the hub (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self.queued_bytes = 0
        self.request.sentLength = self.bytes_out  # for the access log
        self._on_detach(self)

    def close(self, abort: bool = False) -> None:
        """End the response (server side): on shutdown or stall."""
        self.detach()
        if abort:
            self._transport.abortConnection()
            return
        try:
            self.request.unregisterProducer()
            self.request.finish()
        except Exception:
            # The client went away in the meantime: nothing left to end.
            self.log.debug("viewer {label} already gone", label=self.label)
