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
from xrelay.fanout._viewer import Viewer
from xrelay.interfaces import IChannelSource
from xrelay.models import Channel

SourceFactory = Callable[[str], IChannelSource]


class ChannelRegistry(Service):
    """Owns every ChannelHub.

    A channel's hub starts with its first viewer (using the first of its
    sources; failover across the list belongs to the ingest engine) and stops
    ``linger`` seconds after its last viewer left, unless someone rejoins.
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

    def attach(self, channel: Channel, request: Request, label: str) -> Viewer:
        """Start (or reuse) the channel's hub and attach a viewer to it."""
        hub = self.hubs.get(channel.id)
        if hub is None:
            if not channel.sources:
                raise LookupError(f"channel {channel.id} has no source")
            hub = ChannelHub(
                channel.id,
                self._make_source(channel.sources[0]),
                self._clock,
                self.settings,
                self._hub_ended,
            )
            self.hubs[channel.id] = hub
            self.log.info("channel {channel} starting", channel=channel.id)
            hub.start()
        pending = self._lingering.pop(channel.id, None)
        if pending is not None:
            pending.cancel()
        viewer = Viewer(
            request, self._clock, hub.queue_limit(), self._detached(hub), label
        )
        hub.attach(viewer)
        return viewer

    def _detached(self, hub: ChannelHub) -> Callable[[Viewer], None]:
        def detached(viewer: Viewer) -> None:
            hub.detach(viewer)
            if not hub.viewers and hub.running and self.running:
                self._lingering[hub.channel_id] = self._clock.callLater(
                    self.linger, self._linger_over, hub
                )

        return detached

    def _linger_over(self, hub: ChannelHub) -> None:
        self._lingering.pop(hub.channel_id, None)
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

    def _check_stalls(self) -> None:
        for hub in list(self.hubs.values()):
            hub.drop_stalled()
