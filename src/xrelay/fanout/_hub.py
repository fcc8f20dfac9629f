"""One running channel: its source feeding a set of viewers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from xrelay.fanout._batch import Batch
from xrelay.fanout._health import InputMeter
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
    join_burst: float = 1.0
    # Incoming packets are coalesced this long (or up to flush_bytes) so each
    # viewer costs one socket write per batch rather than one per arrival.
    flush_interval: float = 0.1
    flush_bytes: int = 64 * 1024


HubKey = int | tuple[int, str]


class BatchTap(Protocol):
    """An in-process consumer of a channel (the HLS segmenter): gets every
    batch like a viewer, but has no socket, so nothing to pause or queue."""

    def offer(self, batch: Batch) -> None:
        """Take one batch; must not raise, and must cost the hub little."""

    def hub_stopped(self) -> None:
        """The channel stopped: no batch follows."""


@implementer(IPacketSink)
class ChannelHub:
    """Fans one source's packets out to every attached viewer.

    Per batch the hub does O(viewers) work and never waits for any of them:
    each viewer queues or drops on its own (see ``Viewer``).  A joining
    viewer gets the join cache at once (PAT/PMT, recent GOPs), then every
    batch flushed after it.
    """

    log = Logger()

    def __init__(
        self,
        channel_id: int,
        source: IChannelSource,
        clock: IReactorTime,
        settings: HubSettings,
        on_ended: Callable[[ChannelHub, str], None],
        variant: str | None = None,
    ) -> None:
        self.channel_id = channel_id
        self.variant = variant  # e.g. a transcoding profile; None: the channel
        self._source = source
        self._clock = clock
        self.settings = settings
        self._on_ended = on_ended
        self.viewers: set[Viewer] = set()
        self.taps: set[BatchTap] = set()
        self.join_cache = JoinCache()
        self.input = InputMeter()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flush_call: IDelayedCall | None = None
        self._burst: Batch | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.started_at = clock.seconds()
        self.running = False

    def start(self) -> None:
        self.running = True
        self._source.start(self)

    def stop(self) -> Deferred[None]:
        """Close every viewer and stop the source; returns its Deferred."""
        self.running = False
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        for viewer in list(self.viewers):
            viewer.close()
        for tap in list(self.taps):
            tap.hub_stopped()
        self.taps.clear()
        return self._source.stop()

    # IPacketSink
    def write_packets(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.input.feed(data, self._clock.seconds(), self.join_cache.psi.pcr_pid)
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= self.settings.flush_bytes:
            self.flush()
        elif self._flush_call is None:
            self._flush_call = self._clock.callLater(
                self.settings.flush_interval, self.flush
            )

    def flush(self) -> None:
        """Send what arrived since the last flush to every viewer."""
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        keep = int(self.settings.join_burst * self.byte_rate())
        keyframe_at = self.join_cache.feed(data, keep)
        batch = Batch(data, keyframe_at, self.join_cache.psi.psi_packets)
        for viewer in list(self.viewers):
            viewer.offer(batch)
        for tap in list(self.taps):
            tap.offer(batch)
        self.bytes_out += len(data) * len(self.viewers)

    def source_switched(self) -> None:
        """Failover moved to another source: what came before goes out as
        it is, and joining viewers start from the new source's keyframe
        (not from a GOP of the old one, maybe the slate)."""
        self.flush()
        self.join_cache.restart()

    def source_ended(self, reason: str) -> None:
        self.log.warn(
            "channel {channel} source ended: {reason}",
            channel=self.channel_id,
            reason=reason,
        )
        self._on_ended(self, reason)

    def stats(self) -> dict[str, object]:
        """What a status page shows for this channel (and its viewers)."""
        now = self._clock.seconds()
        health = getattr(self._source, "health", None)
        return {
            "channel": self.channel_id,
            "uptime": round(now - self.started_at, 1),
            "source": health() if callable(health) else {},
            "input_bps": round(self.input.bitrate(now)),
            "cc_errors": self.input.cc_errors,
            "pcr_jitter_ms": round(self.input.pcr_jitter_ms(), 1),
            "pcr_discontinuities": self.input.pcr_discontinuities,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "viewers": [
                {
                    "viewer": viewer.label,
                    "seconds": round(now - viewer.started_at, 1),
                    "bytes": viewer.bytes_out,
                    "dropped_packets": viewer.dropped_packets,
                    "lag_bytes": viewer.lag_bytes(),
                    "paused": viewer.paused,
                }
                for viewer in self.viewers
            ],
        }

    def byte_rate(self) -> float:
        """The input's recent rate (a guess until a second of it came)."""
        now = self._clock.seconds()
        if self.input.seconds_of_input(now) < 1.0:
            return _ASSUMED_BYTE_RATE
        return self.input.bitrate(now) / 8

    def queue_limit(self) -> int:
        return max(_MIN_QUEUE, int(self.settings.queue_seconds * self.byte_rate()))

    @property
    def key(self) -> HubKey:
        """The registry's key: the channel id, or (id, variant)."""
        return (
            self.channel_id if self.variant is None else (self.channel_id, self.variant)
        )

    @property
    def watched(self) -> bool:
        """Whether anyone takes the channel: a viewer or a tap."""
        return bool(self.viewers or self.taps)

    def attach(self, viewer: Viewer) -> None:
        """Start the viewer with PAT/PMT and the current GOP, then live."""
        self._join(viewer)
        self.viewers.add(viewer)

    def detach(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    def add_tap(self, tap: BatchTap) -> None:
        """Like ``attach``, for a consumer without a socket."""
        self._join(tap)
        self.taps.add(tap)

    def remove_tap(self, tap: BatchTap) -> None:
        self.taps.discard(tap)

    def _join(self, joining: Viewer | BatchTap) -> None:
        burst = self.join_cache.snapshot()
        if burst:
            if self._burst is None or self._burst.data is not burst:
                self._burst = Batch(burst, 0)  # shared by viewers joining together
            joining.offer(self._burst)

    def drop_stalled(self) -> None:
        """Disconnect viewers that could not take data for too long."""
        now = self._clock.seconds()
        limit = self.queue_limit()  # follows the input's rate
        for viewer in list(self.viewers):
            viewer.queue_limit = limit
            if viewer.stalled_for(now) > self.settings.stall_timeout:
                self.log.info(
                    "channel {channel}: disconnecting stalled viewer {viewer}",
                    channel=self.channel_id,
                    viewer=viewer.label,
                )
                viewer.close(abort=True)
