"""The delivery and retry policy shared by sources that fail and recover."""

from __future__ import annotations

from abc import ABC, abstractmethod

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from xrelay.ingest._redact import redact
from xrelay.interfaces import IPacketSink
from xrelay.mpegts import PacketSplitter


class ReconnectingSource(ABC):
    """The delivery and retry policy of a source that can fail and recover.

    Subclasses make one attempt in ``_attempt`` (feeding ``_received`` and
    setting ``connected``), call ``_attempt_failed`` when it is over, and
    release everything in ``_release``.

    An outage starts when an attempt fails and ends when packets flow
    again; the sink hears of each outage once, however many retries it
    takes.  Retries wait ``first_delay``, doubling up to ``max_delay``; an
    attempt that delivered for ``healthy`` seconds starts the wait over.
    """

    log = Logger()
    first_delay = 0.5
    max_delay = 10.0
    healthy = 30.0
    _sink: IPacketSink  # set by start()

    def __init__(self, name: str, clock: IReactorTime) -> None:
        self.name = name  # what reasons and logs call the source: no credentials
        self._clock = clock
        self.bytes_in = 0
        self.connected = False
        self.restarts = 0
        self._splitter = PacketSplitter()
        self._garbage_before = 0  # from the splitters of earlier attempts
        self._stopped = False
        self._delay = self.first_delay
        self._delivering_since: float | None = None
        self._in_outage = False
        self._retry: IDelayedCall | None = None

    @property
    def garbage_bytes(self) -> int:
        return self._garbage_before + self._splitter.garbage_bytes

    def start(self, sink: IPacketSink) -> None:
        self._sink = sink
        self._begin()

    def stop(self) -> Deferred[None]:
        self._stopped = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        return self._release()

    @abstractmethod
    def _attempt(self) -> None:
        """Start connecting (or spawning)."""

    @abstractmethod
    def _release(self) -> Deferred[None]:
        """End the current attempt; fire once all its resources are freed."""

    def _begin(self) -> None:
        # Each attempt is a new byte stream: a partial packet left over from
        # the last one must not be glued to it.
        self._garbage_before += self._splitter.garbage_bytes
        self._splitter = PacketSplitter()
        self._attempt()

    def _received(self, data: bytes) -> None:
        if self._stopped:
            return
        self.bytes_in += len(data)
        packets = self._splitter.feed(data)
        if packets:
            if self._delivering_since is None:
                self._delivering_since = self._clock.seconds()
                self._in_outage = False
            self._sink.write_packets(packets)

    def _attempt_failed(self, cause: str) -> None:
        """The attempt is over: schedule the next, and report a new outage."""
        self.connected = False
        if self._stopped:
            return
        since, self._delivering_since = self._delivering_since, None
        if since is not None and self._clock.seconds() - since >= self.healthy:
            self._delay = self.first_delay
        delay = self._delay
        self._delay = min(delay * 2, self.max_delay)
        self._retry = self._clock.callLater(delay, self._retry_now)
        reason = f"{self.name}: {redact(cause)}"
        if self._in_outage:
            self.log.debug("{reason}; retry in {delay} s", reason=reason, delay=delay)
            return
        self._in_outage = True
        self.log.warn("{reason}; retry in {delay} s", reason=reason, delay=delay)
        self._sink.source_ended(reason)

    def _retry_now(self) -> None:
        self._retry = None
        self.restarts += 1
        self._begin()
