"""``twistd xrelay``: command-line options and the service tree.

This is the only module that wires xrelay's pieces together.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.internet.threads import deferToThreadPool
from twisted.logger import ILogObserver, Logger
from twisted.python import usage
from twisted.python.components import Componentized
from twisted.web.server import Site
from zope.interface import implementer

from xrelay import __version__
from xrelay._malloc import release_large_buffers
from xrelay.archive import Archive, ArchiveSettings, ThreadedDisk
from xrelay.config import Config, ConfigError, load_config, with_overrides
from xrelay.cred.checkers import CachingVerifier
from xrelay.cred.linewatch import LineWatch
from xrelay.cred.passwords import verify_password
from xrelay.cred.wiring import logins
from xrelay.demo import (
    DEMO_ARCHIVE_HOURS,
    DEMO_DATA_DIR,
    DemoSeeder,
    with_demo_library,
)
from xrelay.epg import XmltvEndpoint, build_epg
from xrelay.fanout import ChannelRegistry, ChannelSupervisor, HubSettings
from xrelay.hls import HlsEndpoints, HlsSessions, HlsSettings
from xrelay.ingest import FailoverSettings, FailoverSource, make_source
from xrelay.interfaces import IChannelSource
from xrelay.logs import make_observer, open_log_file
from xrelay.models import Channel
from xrelay.store import CachedStore, SqliteStore, StoreService
from xrelay.transcode import SCHEME as TRANSCODE
from xrelay.transcode import Transcoder, transcode_url
from xrelay.vod import build_vod
from xrelay.web import (
    AdminApi,
    LineAuthenticator,
    LiveStreams,
    Timeshift,
    XRelayRoot,
    redacted_log_formatter,
    request_factory,
)
from xrelay.xtream import CatalogCache, ServerAddress, XtreamApi, file_stamp, in_threads

log = Logger()


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Run the xrelay daemon. Settings come from --config (TOML; see "
        "etc/xrelay.toml); the options below override the file."
    )
    optParameters = [
        ["config", "c", None, "TOML configuration file."],
        ["data-dir", "d", None, "Data directory (server.data_dir)."],
        ["log-format", None, None, "Log format: text or json (log.format)."],
        ["log-level", None, None, "Lowest level logged (log.level)."],
    ]
    optFlags = [
        ["demo", None, "Serve a demo user (demo/demo) and a looping demo channel."],
        ["version", "V", "Print the version and exit."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["http"] = []
        self.config: Config | None = None

    def opt_http(self, endpoint: str) -> None:
        """HTTP listener endpoint, e.g. tcp:8080:interface=127.0.0.1
        (repeatable; replaces server.http)."""
        self["http"].append(endpoint)

    def opt_version(self) -> None:
        print(f"xrelay {__version__}")
        raise SystemExit(0)

    def postOptions(self) -> None:
        overrides: dict[str, Any] = {}
        if self["http"]:
            overrides["server.http"] = tuple(self["http"])
        if self["data-dir"]:
            overrides["server.data_dir"] = self["data-dir"]
        elif self["demo"]:
            overrides["server.data_dir"] = DEMO_DATA_DIR
        if self["demo"]:
            overrides["archive.max_hours"] = DEMO_ARCHIVE_HOURS
        if self["log-format"]:
            overrides["log.format"] = self["log-format"]
        if self["log-level"]:
            overrides["log.level"] = self["log-level"]
        try:
            self.config = with_overrides(load_config(self["config"]), overrides)
            if self["demo"]:
                self.config = with_demo_library(self.config)
        except ConfigError as e:
            raise usage.UsageError(f"invalid configuration:\n{e}") from None


@implementer(IStreamServerEndpoint)
class _LazyEndpoint:
    """Parses its description only when asked to listen: ``ssl:`` endpoints
    read their key files on parsing, which must wait for startService."""

    def __init__(self, reactor: Any, description: str) -> None:
        self._reactor = reactor
        self.description = description

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        endpoint = serverFromString(self._reactor, self.description)
        return endpoint.listen(factory)  # type: ignore[no-any-return]


class XRelayService(MultiService):
    """The root of the tree; installs xrelay's log observer on twistd's
    application (twistd starts logging after makeService, from it)."""

    def __init__(self, config: Config, logfile: str | None) -> None:
        super().__init__()
        self.setName("xrelay")
        self._config = config
        self._logfile = logfile

    def setServiceParent(self, parent: Any) -> None:
        if isinstance(parent, Componentized):
            observer = make_observer(
                self._config.log.format,
                self._config.log.level,
                open_log_file(self._logfile),
            )
            parent.setComponent(ILogObserver, observer)
        super().setServiceParent(parent)


def makeService(options: Options, reactor: Any = None) -> IService:
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = global_reactor
    config = options.config
    assert config is not None, "Options.postOptions() builds the config"
    release_large_buffers()
    parent_options = getattr(options, "parent", None) or {}
    root = XRelayService(config, parent_options.get("logfile"))

    database = SqliteStore(config.store_path, reactor)
    StoreService(database).setServiceParent(root)
    store = CachedStore(database, reactor)
    if options["demo"]:
        DemoSeeder(store, reactor, config.server.data_dir).setServiceParent(root)
    # Before the registry: stopped after it, so it records the channels' last bytes.
    archive = Archive(
        store,
        reactor,
        ThreadedDisk(reactor),
        ArchiveSettings(
            root=config.archive_path,
            segment_seconds=config.archive.segment_seconds,
            quota_bytes=int(config.archive.quota_gb * 1e9),
            max_age=config.archive.max_hours * 3600,
            prune_interval=config.archive.prune_interval,
        ),
        keep_running=lambda channel: registry.pin(channel),
    )
    archive.setServiceParent(root)

    failover = config.failover
    failover_settings = FailoverSettings(
        stall_timeout=failover.stall_timeout,
        recheck_interval=failover.recheck_interval,
        recover_after=failover.recover_after,
        keyframe_wait=failover.keyframe_wait,
        retry_interval=failover.retry_interval,
        slate_timeout=failover.slate_timeout,
        **({"slate_path": failover.slate} if failover.slate else {}),
    )

    def one_source(url: str) -> IChannelSource:
        return make_source(url, reactor, {TRANSCODE: transcoder.source})

    def channel_source(channel: Channel) -> IChannelSource:
        """Every channel, even with one source, gets stall detection and
        the slate; what it plays is recorded when it has archive_days."""
        return archive.tap(
            channel.id,
            FailoverSource(
                channel.sources,
                one_source,
                reactor,
                failover_settings,
                label=f"channel {channel.id}",
            ),
        )

    def transcoded(channel: Channel, profile: str) -> FailoverSource:
        """``?profile=NAME``: the channel re-encoded by a profile."""
        return FailoverSource(
            [transcode_url(channel.id, profile)],
            one_source,
            reactor,
            failover_settings,
            label=f"channel {channel.id} ({profile})",
        )

    registry = ChannelRegistry(
        reactor,
        channel_source,
        HubSettings(
            queue_seconds=config.live.queue_seconds,
            stall_timeout=config.live.stall_timeout,
            join_burst=config.live.join_burst,
        ),
        linger=config.live.linger,
        make_variant=transcoded,
    )
    registry.setServiceParent(root)
    transcoder = Transcoder(config.transcode, store, registry, reactor)
    transcoder.setServiceParent(root)
    ChannelSupervisor(store, registry, reactor).setServiceParent(root)

    def verify(password: str, stored: str) -> Deferred[bool]:
        pool = reactor.getThreadPool()
        return deferToThreadPool(reactor, pool, verify_password, password, stored)

    cached_verify = CachingVerifier(verify, reactor, ttl=config.auth.cache_seconds)
    lines = logins(config, store, cached_verify, reactor)
    for service in lines.services:  # Redis: nothing connects before startService
        service.setServiceParent(root)
    LineWatch(
        lines.tracker, lines.lines, reactor, config.connections.recheck_seconds
    ).setServiceParent(root)
    auth = LineAuthenticator(lines.portal, lines.tracker, reactor, lines.throttle)
    hls_sessions = HlsSessions(
        registry,
        lines.tracker,
        reactor,
        HlsSettings(
            segment_seconds=config.hls.segment_seconds,
            window=config.hls.window,
            session_timeout=config.hls.session_timeout,
            max_bytes=config.hls.memory_mb * 1024 * 1024,
        ),
    )
    hls_sessions.setServiceParent(root)
    hls = HlsEndpoints(hls_sessions, reactor)
    live = LiveStreams(
        auth,
        store,
        registry,
        lines.tracker,
        profiles=config.transcode.profiles,
        hls=hls,
    )

    def status() -> dict[str, object]:
        return {
            "node": config.node,
            "version": __version__,
            "channels": registry.stats(),
            "hls": hls_sessions.stats(),
            "library": vod.service.status() if vod.service else None,
        }

    admin = AdminApi(config.admin.token_hash, cached_verify, status)
    catalog = CatalogCache(
        store,
        reactor,
        run=in_threads(reactor),
        stamp=_with_archive(
            file_stamp(config.store_path, config.store_path + "-wal"), archive
        ),
        shown=archive.shown,
    )
    catalog.setServiceParent(root)
    vod = build_vod(
        config.library,
        config.server.data_dir,
        store,
        catalog,
        auth,
        lines.tracker,
        reactor,
        file_stamp(config.store_path, config.store_path + "-wal"),
    )
    if vod.service is not None:
        vod.service.setServiceParent(root)
    address = ServerAddress.from_config(config.server.public_host, config.server.http)
    epg = build_epg(
        config,
        store,
        reactor,
        file_stamp(config.store_path, config.store_path + "-wal"),
        archive.archive_spans,
    )
    epg.service.setServiceParent(root)
    xtream = XtreamApi(auth, catalog, address, reactor, guide=epg.guide)
    xmltv = XmltvEndpoint(auth, catalog, epg.guide, address)
    timeshift = Timeshift(auth, store, archive, lines.tracker)
    site = Site(
        XRelayRoot(
            live, admin, xtream, hls=hls, timeshift=timeshift, vod=vod, xmltv=xmltv
        ),
        logFormatter=redacted_log_formatter,
        requestFactory=request_factory(config.server.trusted_proxies),
    )
    for description in config.server.http:
        listener = StreamServerEndpointService(
            _LazyEndpoint(reactor, description), site
        )
        # A port we cannot bind must stop the start, not just log an error.
        listener._raiseSynchronously = True
        listener.setServiceParent(root)
    return root


def _with_archive(
    stamp: Callable[[], Hashable], archive: Archive
) -> Callable[[], Hashable]:
    """The catalog's stamp, changed also when what is recorded changes the
    catch-up players are shown."""
    return lambda: (stamp(), archive.stamp())
