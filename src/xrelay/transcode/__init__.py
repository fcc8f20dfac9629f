"""Transcoding: derived channels re-encoded by ffmpeg from named profiles.

A derived channel is a channel whose source is ``transcode:ID?profile=NAME``
(stored like any channel), or the variant ``/live/U/P/ID.ts?profile=NAME``
of any channel (a hub of its own in the registry, keyed by channel and
profile).  Both run ``TranscodeSource``: the parent channel, watched like a
viewer, piped through ffmpeg.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList

from xrelay.config import TranscodeConfig
from xrelay.fanout import ChannelRegistry
from xrelay.ingest import UnsupportedSource
from xrelay.interfaces import IChannelSource, IStore
from xrelay.transcode._args import SOFTWARE, ffmpeg_args
from xrelay.transcode._probe import EncoderCheck
from xrelay.transcode._progress import Progress, ProgressParser
from xrelay.transcode._restarts import Restarts
from xrelay.transcode._source import TranscodeSource
from xrelay.transcode._url import SCHEME, parse_transcode_url, transcode_url


class Transcoder(Service):
    """Makes the sources of transcoded channels, and checks at start which
    encoder each profile gets (see EncoderCheck).

    ``config.ffmpeg`` must exist when profiles are defined: the config's
    validation refuses to start otherwise, so a missing ffmpeg is an error
    at start, never at the first viewer.
    """

    def __init__(
        self,
        config: TranscodeConfig,
        store: IStore,
        registry: ChannelRegistry,
        reactor: Any,  # IReactorProcess, IReactorTime
    ) -> None:
        self._config = config
        self._store = store
        self._registry = registry
        self._reactor = reactor
        self.checks = {
            name: EncoderCheck(config.ffmpeg, name, profile, reactor)
            for name, profile in config.profiles.items()
        }
        self._restarts: dict[tuple[int, str], Restarts] = {}

    def startService(self) -> None:
        super().startService()
        for check in self.checks.values():
            check.start()

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        return DeferredList([check.stop() for check in self.checks.values()])

    def source(self, url: str) -> IChannelSource:
        """The (not started) source a ``transcode:`` URL names;
        UnsupportedSource for a bad URL or an unknown profile."""
        parent_id, name = parse_transcode_url(url)
        check = self.checks.get(name)
        if check is None:
            known = ", ".join(self.checks) or "none are configured"
            raise UnsupportedSource(
                f"{url}: no transcode profile {name!r} (known: {known})"
            )
        restarts = self._restarts.setdefault((parent_id, name), Restarts())
        return TranscodeSource(
            url,
            parent_id,
            self._config.profiles[name],
            check,
            self._config.ffmpeg,
            self._store,
            self._registry,
            restarts,
            self._reactor,
        )


__all__ = [
    "SCHEME",
    "SOFTWARE",
    "EncoderCheck",
    "Progress",
    "ProgressParser",
    "Restarts",
    "TranscodeSource",
    "Transcoder",
    "ffmpeg_args",
    "parse_transcode_url",
    "transcode_url",
]
