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

from xrelay.fanout._hub import BatchTap, ChannelHub, HubKey, HubSettings
from xrelay.fanout._viewer import BodyTransport, Viewer
from xrelay.interfaces import IChannelSource
from xrelay.models import Channel

# Builds the (not yet started) source for a channel: its ordered URLs.
SourceFactory = Callable[[Channel], IChannelSource]
# Builds the source of a variant of a channel (a transcoding profile).
VariantFactory = Callable[[Channel, str], IChannelSource]


class ChannelRegistry(Service):
    """Owns every ChannelHub.

    An on-demand channel's hub starts with its first viewer and stops
    ``linger`` seconds after its last viewer left, unless someone rejoins.
    A pinned (always-on) channel runs with or without viewers.  A variant
    of a channel (``attach(..., variant=NAME)``, e.g. a transcoded one) is
    an on-demand hub of its own, keyed by (channel id, variant), whose
    source ``make_variant`` builds.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        make_source: SourceFactory,
        settings: HubSettings,
        linger: float = 10.0,
        make_variant: VariantFactory | None = None,
    ) -> None:
        self._clock = clock
        self._make_source = make_source
        self._make_variant = make_variant
        self.settings = settings
        self.linger = linger
        self.hubs: dict[HubKey, ChannelHub] = {}
        self._lingering: dict[HubKey, IDelayedCall] = {}
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
        variant: str | None = None,
    ) -> Viewer:
        """Start (or reuse) the hub of the channel (or of its ``variant``)
        and attach a viewer to it; the response headers must already be
        written."""
        hub = self._wanted(channel, variant)
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

    def tap(
        self, channel: Channel, tap: BatchTap, variant: str | None = None
    ) -> ChannelHub:
        """Start (or reuse) the hub of the channel (or of its ``variant``)
        and add a tap to it; the hub keeps running while it has taps, like
        while it has viewers."""
        hub = self._wanted(channel, variant)
        hub.add_tap(tap)
        return hub

    def untap(self, hub: ChannelHub, tap: BatchTap) -> None:
        hub.remove_tap(tap)
        if not hub.watched:
            self._linger(hub)

    def _wanted(self, channel: Channel, variant: str | None) -> ChannelHub:
        """The running hub, no longer lingering: someone joins it."""
        hub = self._running(channel, variant)
        pending = self._lingering.pop(hub.key, None)
        if pending is not None:
            pending.cancel()
        return hub

    def _running(self, channel: Channel, variant: str | None = None) -> ChannelHub:
        key: HubKey = channel.id if variant is None else (channel.id, variant)
        hub = self.hubs.get(key)
        if hub is None:
            if not channel.sources:
                raise LookupError(f"channel {channel.id} has no source")
            if variant is None:
                source = self._make_source(channel)
            elif self._make_variant is None:
                raise LookupError(f"channel {channel.id} has no variants")
            else:
                source = self._make_variant(channel, variant)
            hub = ChannelHub(
                channel.id,
                source,
                self._clock,
                self.settings,
                self._hub_ended,
                variant,
            )
            self.hubs[key] = hub
            self.log.info("channel {channel} starting", channel=_label(key))
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
        if hub is not None and not hub.watched:
            self._linger(hub)

    def _linger(self, hub: ChannelHub) -> None:
        key = hub.key
        if key in self.pinned or not (hub.running and self.running):
            return
        if key not in self._lingering:
            self._lingering[key] = self._clock.callLater(
                self.linger, self._linger_over, hub
            )

    def _detached(self, hub: ChannelHub) -> Callable[[Viewer], None]:
        def detached(viewer: Viewer) -> None:
            hub.detach(viewer)
            if not hub.watched:
                self._linger(hub)

        return detached

    def _linger_over(self, hub: ChannelHub) -> None:
        key = hub.key
        self._lingering.pop(key, None)
        if key in self.pinned:
            return
        if not hub.watched and self.hubs.get(key) is hub:
            del self.hubs[key]
            self.log.info("channel {channel} idle: stopping", channel=_label(key))
            self._stop_hub(hub)

    def _hub_ended(self, hub: ChannelHub, reason: str) -> None:
        key = hub.key
        if self.hubs.get(key) is hub:
            del self.hubs[key]
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
            {
                **hub.stats(),
                "always_on": key in self.pinned,
                **({"variant": key[1]} if isinstance(key, tuple) else {}),
            }
            for key, hub in sorted(
                self.hubs.items(),
                key=lambda item: (item[1].channel_id, item[1].started_at),
            )
        ]

    def _check_stalls(self) -> None:
        for hub in list(self.hubs.values()):
            hub.drop_stalled()


def _label(key: HubKey) -> str:
    """How logs name a hub: "7", or "7 (720p)" for a variant."""
    return str(key) if isinstance(key, int) else f"{key[0]} ({key[1]})"
