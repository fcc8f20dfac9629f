"""A running channel cut into HLS segments: a tap on the channel's hub."""

from __future__ import annotations

from collections.abc import Callable

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from xrelay.fanout import Batch, ChannelHub
from xrelay.hls._segmenter import Segmenter
from xrelay.hls._settings import HlsSettings
from xrelay.hls._window import SegmentWindow


class LiveFeed:
    """Cuts every batch the hub flushes into the window's segments.

    Shared by all the HLS sessions of the channel: one segmenter, one
    window, one playlist, however many players.  A quarter of
    ``max_bytes`` bounds the segment being cut, the rest the window.
    """

    log = Logger()

    def __init__(
        self,
        channel_id: int,
        variant: str | None,
        settings: HlsSettings,
        on_ended: Callable[[LiveFeed], None],
    ) -> None:
        self.channel_id = channel_id
        self.variant = variant
        self._settings = settings
        self._on_ended = on_ended
        self._segmenter = self._new_segmenter()
        self._restarted = False
        self.window = SegmentWindow(
            settings.window,
            settings.max_bytes - settings.max_bytes // 4,
            settings.segment_seconds,
        )
        self.hub: ChannelHub | None = None
        self._waiting: list[Deferred[None]] = []

    @property
    def ended(self) -> bool:
        return self.window.ended

    def _new_segmenter(self) -> Segmenter:
        settings = self._settings
        return Segmenter(settings.segment_seconds, settings.max_bytes // 4)

    # BatchTap
    def offer(self, batch: Batch) -> None:
        try:
            cuts = self._segmenter.feed(batch.data)
        except Exception:
            # A bug must not reach the hub (its other viewers): start over
            # at the next keyframe, flagged as a discontinuity.
            self.log.failure(
                "channel {channel}: HLS segmenter", channel=self.channel_id
            )
            self._segmenter = self._new_segmenter()
            self._restarted = True
            return
        for cut in cuts:
            if self._restarted:
                cut = attrs.evolve(cut, discontinuity=True)
                self._restarted = False
            self.window.add(cut)
        if cuts:
            self._wake()

    def hub_stopped(self) -> None:
        last = self._segmenter.finish()
        if last is not None:
            self.window.add(last)
        self.window.end()
        self._wake()
        self._on_ended(self)

    def ready(self) -> Deferred[None]:
        """Fires once the window has a segment, or the channel ended."""
        if self.window.segments or self.window.ended:
            return succeed(None)
        d: Deferred[None] = Deferred(self._waiting.remove)
        self._waiting.append(d)
        return d

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(None)

    def stats(self) -> dict[str, object]:
        window = self.window
        return {
            "channel": self.channel_id,
            **({"variant": self.variant} if self.variant else {}),
            "segments": len(window.segments),
            "media_sequence": window.listed()[0].sequence if window.segments else None,
            "target_duration": window.target_duration,
            "bytes": window.bytes + self._segmenter.pending_bytes,
            "ended": window.ended,
        }
