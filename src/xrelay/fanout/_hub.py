"""One running channel: its source feeding a set of viewers."""

from __future__ import annotations

from collections.abc import Callable

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from xrelay.fanout._joincache import JoinCache
from xrelay.fanout._viewer import Viewer
from xrelay.interfaces import IChannelSource, IPacketSink

# Queue sizing needs a byte rate before the hub has measured one.
_ASSUMED_BYTE_RATE = 1_000_000
_MIN_QUEUE = 256 * 1024


@attrs.frozen
class HubSettings:
    queue_seconds: float = 4.0
    stall_timeout: float = 15.0
    join_burst: float = 2.0


@implementer(IPacketSink)
class ChannelHub:
    """Fans one source's packets out to every attached viewer.

    Per batch the hub does O(viewers) work and never waits for any of them:
    each viewer queues or drops on its own (see ``Viewer``).
    """

    log = Logger()

    def __init__(
        self,
        channel_id: int,
        source: IChannelSource,
        clock: IReactorTime,
        settings: HubSettings,
        on_ended: Callable[[ChannelHub, str], None],
    ) -> None:
        self.channel_id = channel_id
        self._source = source
        self._clock = clock
        self.settings = settings
        self._on_ended = on_ended
        self.viewers: set[Viewer] = set()
        self.join_cache = JoinCache()
        self.bytes_in = 0
        self.started_at = clock.seconds()
        self.running = False

    def start(self) -> None:
        self.running = True
        self._source.start(self)

    def stop(self) -> Deferred[None]:
        """Close every viewer and stop the source; returns its Deferred."""
        self.running = False
        for viewer in list(self.viewers):
            viewer.close()
        return self._source.stop()

    # IPacketSink
    def write_packets(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.join_cache.feed(data, int(self.settings.join_burst * self.byte_rate()))
        for viewer in list(self.viewers):
            viewer.offer(data)

    def source_ended(self, reason: str) -> None:
        self.log.warn(
            "channel {channel} source ended: {reason}",
            channel=self.channel_id,
            reason=reason,
        )
        self._on_ended(self, reason)

    def byte_rate(self) -> float:
        elapsed = self._clock.seconds() - self.started_at
        if elapsed < 1.0 or not self.bytes_in:
            return _ASSUMED_BYTE_RATE
        return self.bytes_in / elapsed

    def queue_limit(self) -> int:
        return max(_MIN_QUEUE, int(self.settings.queue_seconds * self.byte_rate()))

    def attach(self, viewer: Viewer) -> None:
        """Start the viewer with PAT/PMT and the current GOP, then live."""
        burst = self.join_cache.snapshot()
        if burst:
            viewer.offer(burst)
        self.viewers.add(viewer)

    def detach(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    def drop_stalled(self) -> None:
        """Disconnect viewers that could not take data for too long."""
        now = self._clock.seconds()
        for viewer in list(self.viewers):
            if viewer.stalled_for(now) > self.settings.stall_timeout:
                self.log.info(
                    "channel {channel}: disconnecting stalled viewer {viewer}",
                    channel=self.channel_id,
                    viewer=viewer.label,
                )
                viewer.close(abort=True)
