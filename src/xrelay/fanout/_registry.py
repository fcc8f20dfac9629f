"""The running channels: started on demand, stopped after a linger time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.server import Request

from xrelay.fanout._hub import ChannelHub, HubSettings
from xrelay.fanout._viewer import BodyTransport, Viewer
from xrelay.interfaces import IChannelSource
from xrelay.models import Channel

# Builds the (not yet started) source for a channel: its ordered URLs.
SourceFactory = Callable[[Channel], IChannelSource]


class ChannelRegistry(Service):
    """Owns every ChannelHub.

    An on-demand channel's hub starts with its first viewer and stops
    ``linger`` seconds after its last viewer left, unless someone rejoins.
    A pinned (always-on) channel runs with or without viewers.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        make_source: SourceFactory,
        settings: HubSettings,
        linger: float = 10.0,
    ) -> None:
        self._clock = clock
        self._make_source = make_source
        self.settings = settings
        self.linger = linger
        self.hubs: dict[int, ChannelHub] = {}
        self._lingering: dict[int, IDelayedCall] = {}
        self.pinned: set[int] = set()
        self._stall_check = LoopingCall(self._check_stalls)
        self._stall_check.clock = clock

    def startService(self) -> None:
        super().startService()
        self._stall_check.start(1.0, now=False)

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        if self._stall_check.running:
            self._stall_check.stop()
        for call in self._lingering.values():
            call.cancel()
        self._lingering.clear()
        hubs, self.hubs = list(self.hubs.values()), {}
        return DeferredList([self._stop_hub(hub) for hub in hubs])

    def attach(
        self,
        channel: Channel,
        request: Request,
        transport: BodyTransport,
        chunked: bool,
        label: str,
    ) -> Viewer:
        """Start (or reuse) the channel's hub and attach a viewer to it;
        the response headers must already be written."""
        hub = self._running(channel)
        pending = self._lingering.pop(channel.id, None)
        if pending is not None:
            pending.cancel()
        viewer = Viewer(
            request,
            transport,
            chunked,
            self._clock,
            hub.queue_limit(),
            self._detached(hub),
            label,
        )
        hub.attach(viewer)
        return viewer

    def _running(self, channel: Channel) -> ChannelHub:
        hub = self.hubs.get(channel.id)
        if hub is None:
            if not channel.sources:
                raise LookupError(f"channel {channel.id} has no source")
            hub = ChannelHub(
                channel.id,
                self._make_source(channel),
                self._clock,
                self.settings,
                self._hub_ended,
            )
            self.hubs[channel.id] = hub
            self.log.info("channel {channel} starting", channel=channel.id)
            hub.start()
        return hub

    def pin(self, channel: Channel) -> None:
        """Keep the channel running (always-on), starting it if needed."""
        self.pinned.add(channel.id)
        self._running(channel)

    def unpin(self, channel_id: int) -> None:
        """Back to on demand: stops after the linger time if nobody watches."""
        self.pinned.discard(channel_id)
        hub = self.hubs.get(channel_id)
        if hub is not None and not hub.viewers:
            self._linger(hub)

    def _linger(self, hub: ChannelHub) -> None:
        if hub.channel_id in self.pinned or not (hub.running and self.running):
            return
        if hub.channel_id not in self._lingering:
            self._lingering[hub.channel_id] = self._clock.callLater(
                self.linger, self._linger_over, hub
            )

    def _detached(self, hub: ChannelHub) -> Callable[[Viewer], None]:
        def detached(viewer: Viewer) -> None:
            hub.detach(viewer)
            if not hub.viewers:
                self._linger(hub)

        return detached

    def _linger_over(self, hub: ChannelHub) -> None:
        self._lingering.pop(hub.channel_id, None)
        if hub.channel_id in self.pinned:
            return
        if not hub.viewers and self.hubs.get(hub.channel_id) is hub:
            del self.hubs[hub.channel_id]
            self.log.info("channel {channel} idle: stopping", channel=hub.channel_id)
            self._stop_hub(hub)

    def _hub_ended(self, hub: ChannelHub, reason: str) -> None:
        if self.hubs.get(hub.channel_id) is hub:
            del self.hubs[hub.channel_id]
        self._stop_hub(hub)

    def _stop_hub(self, hub: ChannelHub) -> Deferred[None]:
        d = hub.stop()
        d.addErrback(
            lambda f: self.log.failure(
                "stopping channel {channel}", f, channel=hub.channel_id
            )
        )
        return d

    def stats(self) -> list[dict[str, object]]:
        """Every running channel's health, for status pages and logs."""
        return [
            {**hub.stats(), "always_on": hub.channel_id in self.pinned}
            for hub in sorted(self.hubs.values(), key=lambda h: h.channel_id)
        ]

    def _check_stalls(self) -> None:
        for hub in list(self.hubs.values()):
            hub.drop_stalled()
