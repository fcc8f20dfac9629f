"""The guide's part of the service tree, built from the configuration."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Any

import attrs
from treq.client import HTTPClient
from twisted.web.client import Agent, HTTPConnectionPool

from xrelay.config import Config
from xrelay.epg._db import PooledDatabase
from xrelay.epg._guide import ArchiveSpans, Guide, no_archive
from xrelay.epg._refresh import EpgSettings
from xrelay.epg._service import EpgService
from xrelay.interfaces import IStore


def settings_from(config: Config) -> EpgSettings:
    epg = config.epg
    return EpgSettings(
        spool_dir=os.path.join(
            os.path.dirname(config.epg_path) or ".", "epg-downloads"
        ),
        past_days=epg.past_days,
        future_days=epg.future_days,
        refresh_seconds=epg.refresh_seconds,
        timeout=epg.timeout,
        retry_seconds=epg.retry_seconds,
        retry_max_seconds=epg.retry_max_seconds,
        max_bytes=epg.max_mb * 1_000_000,
    )


def http_client(reactor: Any) -> HTTPClient:
    """treq on an Agent: TLS certificates verified against the system's
    roots, redirects followed, no connection kept between refreshes."""
    return HTTPClient(
        Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
    )


@attrs.frozen
class Epg:
    service: EpgService
    guide: Guide


def build_epg(
    config: Config,
    store: IStore,
    reactor: Any,
    catalog_stamp: Callable[[], Hashable] | None = None,
    archive_spans: ArchiveSpans = no_archive,
) -> Epg:
    """The loop and the guide it feeds; nothing opens before start."""
    db = PooledDatabase(config.epg_path, reactor)
    guide = Guide(
        db, reactor, config.epg.past_days, config.epg.future_days, archive_spans
    )
    service = EpgService(
        store,
        db,
        guide,
        lambda: http_client(reactor),
        reactor,
        settings_from(config),
        catalog_stamp=catalog_stamp,
    )
    return Epg(service, guide)
