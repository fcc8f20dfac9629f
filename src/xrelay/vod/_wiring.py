"""The VOD pieces, built from the ``[library]`` configuration."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Any

import attrs
from twisted.web.client import Agent, BrowserLikeRedirectAgent

from xrelay.config import LibraryConfig
from xrelay.cred.limits import IConnectionTracker
from xrelay.interfaces import IStore
from xrelay.vod._art import Artwork
from xrelay.vod._cache import ProbeCache
from xrelay.vod._files import LibraryFiles
from xrelay.vod._probe import FFprobe
from xrelay.vod._scan import LibraryScanner, Runner, in_threads
from xrelay.vod._serve import VodStreams
from xrelay.vod._service import LibraryService
from xrelay.vod._upstream import Upstream
from xrelay.web._auth import LineAuthenticator
from xrelay.xtream import CatalogCache

PROBE_CACHE = "probe-cache.sqlite3"


def probe_cache(data_dir: str) -> ProbeCache:
    return ProbeCache(os.path.join(data_dir, PROBE_CACHE))


def library_scanner(
    config: LibraryConfig,
    data_dir: str,
    store: IStore,
    reactor: Any,
    run: Runner,
    stamp: Callable[[], Hashable] | None = None,
) -> LibraryScanner:
    prober = FFprobe(
        reactor, config.ffprobe, config.probe_timeout, config.probe_concurrency
    )
    return LibraryScanner(
        store,
        config.movie_dirs,
        config.series_dirs,
        prober,
        probe_cache(data_dir),
        reactor,
        run,
        stamp,
    )


@attrs.frozen
class Vod:
    streams: VodStreams
    artwork: Artwork
    service: LibraryService | None  # None: no library directories


def build_vod(
    config: LibraryConfig,
    data_dir: str,
    store: IStore,
    catalog: CatalogCache,
    auth: LineAuthenticator,
    tracker: IConnectionTracker,
    reactor: Any,
    store_stamp: Callable[[], Hashable] | None = None,
) -> Vod:
    """``store_stamp`` changes whenever ``store`` is written: with it, a
    rescan of an unchanged library skips reading the catalog."""
    files = LibraryFiles((*config.movie_dirs, *config.series_dirs))
    upstream = Upstream(
        BrowserLikeRedirectAgent(Agent(reactor, connectTimeout=10)), reactor
    )
    streams = VodStreams(
        auth, catalog, tracker, files, upstream, reactor, config.sendfile
    )
    service = None
    if config.movie_dirs or config.series_dirs:
        scanner = library_scanner(
            config, data_dir, store, reactor, in_threads(reactor), store_stamp
        )
        service = LibraryService(scanner, reactor, config.scan_interval)
    return Vod(streams, Artwork(catalog, files, reactor), service)
