"""Keeps always-on channels running and logs every channel's health."""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from xrelay.fanout._registry import ChannelRegistry
from xrelay.interfaces import IStore


class ChannelSupervisor(Service):
    """Every ``interval`` seconds (and at start): pins the channels marked
    always-on (``on_demand = False``) or recorded for catch-up
    (``archive_days`` > 0) in the store, unpins the others, and
    logs one health line per running channel.  Channels changed with the
    admin CLI follow within one interval."""

    log = Logger()

    def __init__(
        self,
        store: IStore,
        registry: ChannelRegistry,
        clock: IReactorTime,
        interval: float = 30.0,
    ) -> None:
        self._store = store
        self._registry = registry
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock
        self._interval = interval

    def startService(self) -> None:
        super().startService()
        self._loop.start(self._interval, now=True)

    def stopService(self) -> None:
        super().stopService()
        if self._loop.running:
            self._loop.stop()

    def _tick(self) -> Deferred[None]:
        d = Deferred.fromCoroutine(self.refresh())
        d.addErrback(lambda f: self.log.failure("supervising channels", f))
        return d

    async def refresh(self) -> None:
        channels = await self._store.list_channels()
        always_on = {
            c.id: c
            for c in channels
            if (not c.on_demand or c.archive_days > 0) and c.sources
        }
        for channel in always_on.values():
            self._registry.pin(channel)
        for channel_id in self._registry.pinned - always_on.keys():
            self._registry.unpin(channel_id)
        for stats in self._registry.stats():
            self.log.info(
                "channel {channel}: {viewers} viewers, input {kbps} kbit/s, "
                "{cc_errors} CC errors, PCR jitter {jitter} ms, source {source}",
                channel=stats["channel"],
                viewers=len(stats["viewers"]),  # type: ignore[arg-type]
                kbps=int(stats["input_bps"]) // 1000,  # type: ignore[call-overload]
                cc_errors=stats["cc_errors"],
                jitter=stats["pcr_jitter_ms"],
                source=stats["source"],
            )
