"""The archive service: recorders for the archived channels, retention,
and what the rest of xrelay asks about recordings."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import attrs
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from xrelay.archive import _files
from xrelay.archive._disk import Disk
from xrelay.archive._index import Layout, Segment
from xrelay.archive._playback import Playback
from xrelay.archive._recorder import Recorder
from xrelay.archive._recordings import Recordings
from xrelay.archive._retention import expired
from xrelay.archive._tee import RecordedSource
from xrelay.interfaces import IChannelSource, IStore
from xrelay.models import Catalog, Channel


@attrs.frozen
class ArchiveSettings:
    root: str
    segment_seconds: float = 60.0
    quota_bytes: int = 0  # 0: no quota
    max_age: float = 0.0  # seconds any recording is kept at most; 0: no limit
    prune_interval: float = 60.0
    sync_interval: float = 10.0  # how soon a changed archive_days applies


class Archive(Service):
    """Records every channel with ``archive_days`` > 0 and deletes
    recordings past their channel's days, ``max_age`` or the quota, oldest
    first.  ``keep_running`` (the registry's ``pin``) starts a recorded
    channel at once and again after its source ended; the channel
    supervisor keeps such channels pinned too.

    At start the index is read back from disk (repairing what a crash left
    behind) before anything is recorded, so restarts keep the archive.
    Until the store has been read once, nothing is deleted.
    """

    log = Logger()

    def __init__(
        self,
        store: IStore,
        clock: IReactorTime,
        disk: Disk,
        settings: ArchiveSettings,
        keep_running: Callable[[Channel], None] = lambda channel: None,
    ) -> None:
        self._store = store
        self._keep_running = keep_running
        self._clock = clock
        self._disk = disk
        self.settings = settings
        self._layout = Layout(settings.root)
        self.recordings = Recordings()
        self.recorders: dict[int, Recorder] = {}
        self._channels: dict[int, Channel] | None = None  # None: not read yet
        self._load_call: IDelayedCall | None = None
        self._loading: Deferred[None] | None = None
        self._sync = LoopingCall(self._run, self.refresh, "reading the channels")
        self._sync.clock = clock
        self._prune = LoopingCall(self._run, self.prune, "deleting old recordings")
        self._prune.clock = clock

    # -- lifecycle

    def startService(self) -> None:
        super().startService()
        self._disk.start()
        # Once the reactor runs: the threads hand their results back through it.
        self._load_call = self._clock.callLater(0, self._load)

    def _load(self) -> None:
        loading = self._disk.read(_files.load, self._layout)
        self._loading = loading.addCallbacks(self._loaded, self._not_loaded)

    def _loaded(self, segments: list[Segment]) -> None:
        self._loading = None
        if not self.running:
            return
        for segment in segments:
            self.recordings.add(segment)
        self.log.info(
            "archive: {count} segments, {mb} MB, in {root}",
            count=len(segments),
            mb=self.recordings.total_size() // 1_000_000,
            root=self.settings.root,
        )
        self._sync.start(self.settings.sync_interval, now=True)
        self._prune.start(self.settings.prune_interval, now=False)

    def _not_loaded(self, failure: Failure) -> None:
        self._loading = None
        if not failure.check(CancelledError):  # stopped while loading
            self.log.failure(
                "archive: reading {root}", failure, root=self.settings.root
            )

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        if self._load_call is not None and self._load_call.active():
            self._load_call.cancel()
        if self._loading is not None:
            self._loading.cancel()
        for loop in (self._sync, self._prune):
            if loop.running:
                loop.stop()
        recorders, self.recorders = list(self.recorders.values()), {}
        done = DeferredList([r.stop() for r in recorders])
        done.addBoth(lambda _: self._disk.stop())
        return done

    def _run(
        self, work: Callable[[], Coroutine[Any, Any, None]], what: str
    ) -> Deferred[None]:
        """One pass of a loop; a failure is logged and the loop goes on."""
        d = Deferred.fromCoroutine(work())
        d.addErrback(lambda f: self.log.failure("archive: {what}", f, what=what))
        return d

    # -- recording

    def tap(self, channel_id: int, source: IChannelSource) -> IChannelSource:
        """``source`` (a channel's), feeding the channel's recorder too."""
        return RecordedSource(source, channel_id, self.recorders.get)

    async def refresh(self) -> None:
        """Start and stop recorders after the channels' archive_days."""
        channels = await self._store.list_channels()
        if not self.running:
            return
        self._channels = {c.id: c for c in channels}
        wanted = {c.id for c in channels if c.archive_days > 0 and c.sources}
        for channel_id in sorted(wanted):
            self._keep_running(self._channels[channel_id])
        for channel_id in sorted(wanted - self.recorders.keys()):
            self.log.info("archive: recording channel {channel}", channel=channel_id)
            self.recorders[channel_id] = Recorder(
                channel_id,
                self.recordings,
                self._layout,
                self._disk,
                self._clock,
                self.settings.segment_seconds,
            )
        for channel_id in sorted(self.recorders.keys() - wanted):
            self.log.info("archive: no longer recording {channel}", channel=channel_id)
            self.recorders.pop(channel_id).stop()

    async def prune(self) -> None:
        """Delete what is past its age or over the quota."""
        if self._channels is None:
            return
        doomed = expired(
            self.recordings,
            self._clock.seconds(),
            self.keep_seconds,
            self.settings.quota_bytes,
        )
        if not doomed:
            return
        freed = sum(s.size for s in doomed)
        self.recordings.remove(doomed)
        removals = [
            self._disk.write(_files.remove, *self._layout.of(s)) for s in doomed
        ]
        await DeferredList(removals, fireOnOneErrback=True, consumeErrors=True)
        self.log.info(
            "archive: deleted {count} segments ({mb} MB) past their age or the quota",
            count=len(doomed),
            mb=freed // 1_000_000,
        )

    def keep_seconds(self, channel_id: int) -> float:
        """How long the channel's recordings are kept (0: a channel no
        longer archived, or gone)."""
        channel = (self._channels or {}).get(channel_id)
        keep = 86400.0 * (channel.archive_days if channel is not None else 0)
        if self.settings.max_age:
            keep = min(keep, self.settings.max_age)
        return keep

    # -- what the rest of xrelay asks

    def archive_spans(self, channel_id: int) -> list[tuple[float, float]]:
        """The unbroken (start, end) spans, epoch seconds, of the channel's
        recording: the EPG's ``has_archive`` is 1 for programmes inside one."""
        return self.recordings.spans(channel_id)

    def shown(self, catalog: Catalog) -> Catalog:
        """``catalog`` with each channel's archive_days as players should
        see it: the days actually recorded (rounded up), at most the
        channel's own, and 0 for channels with nothing recorded or no
        longer archived."""

        def shown(channel: Channel) -> Channel:
            if not channel.archive_days:
                return channel
            days = min(channel.archive_days, self.recordings.days(channel.id))
            return attrs.evolve(channel, archive_days=days)

        return attrs.evolve(catalog, channels=tuple(map(shown, catalog.channels)))

    def stamp(self) -> tuple[tuple[int, int], ...]:
        """Changes whenever ``shown`` may change for an unchanged catalog."""
        return tuple(
            sorted((i, self.recordings.days(i)) for i in self.recordings.channel_ids())
        )

    async def playback(
        self, channel_id: int, start: float, end: float
    ) -> Playback | None:
        """The channel's recording from ``start`` to ``end``, positioned at
        the seek point for ``start``; None if none of it is recorded."""
        first = self.recordings.first_to_play(channel_id, start, end)
        if first is None:
            return None
        playback = Playback(
            self.recordings, self._layout, self._disk, self._clock, first, end
        )
        await playback.seek(start)
        return playback
