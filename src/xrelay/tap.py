"""``twistd xrelay``: command-line options and the service tree.

This is the only module that wires xrelay's pieces together.
"""

from __future__ import annotations

from typing import Any

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, MultiService, Service
from twisted.cred.portal import Portal
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
from xrelay.config import Config, ConfigError, load_config, with_overrides
from xrelay.cred.checkers import CachingVerifier, LineRealm, StoreChecker
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.passwords import verify_password
from xrelay.demo import DEMO_DATA_DIR, seed_demo
from xrelay.fanout import ChannelRegistry, ChannelSupervisor, HubSettings
from xrelay.ingest import FailoverSettings, FailoverSource, make_source
from xrelay.interfaces import IStore
from xrelay.logs import make_observer, open_log_file
from xrelay.models import Channel
from xrelay.store import CachedStore, SqliteStore, StoreService
from xrelay.web import (
    AdminApi,
    LineAuthenticator,
    LiveStreams,
    XRelayRoot,
    redacted_log_formatter,
)

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
        if self["log-format"]:
            overrides["log.format"] = self["log-format"]
        if self["log-level"]:
            overrides["log.level"] = self["log-level"]
        try:
            self.config = with_overrides(load_config(self["config"]), overrides)
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


class _DemoSeeder(Service):
    def __init__(self, store: IStore, clock: Any) -> None:
        self._store = store
        self._clock = clock

    def startService(self) -> None:
        super().startService()
        d = Deferred.fromCoroutine(seed_demo(self._store, int(self._clock.seconds())))
        d.addErrback(lambda f: log.failure("seeding the demo catalog", f))


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
        _DemoSeeder(store, reactor).setServiceParent(root)

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

    def channel_source(channel: Channel) -> FailoverSource:
        """Every channel, even with one source, gets stall detection and
        the slate."""
        return FailoverSource(
            channel.sources,
            lambda url: make_source(url, reactor),
            reactor,
            failover_settings,
            label=f"channel {channel.id}",
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
    )
    registry.setServiceParent(root)
    ChannelSupervisor(store, registry, reactor).setServiceParent(root)

    def verify(password: str, stored: str) -> Deferred[bool]:
        pool = reactor.getThreadPool()
        return deferToThreadPool(reactor, pool, verify_password, password, stored)

    cached_verify = CachingVerifier(verify, reactor)
    portal = Portal(LineRealm(store), [StoreChecker(store, cached_verify)])
    tracker = ConnectionTracker()
    auth = LineAuthenticator(portal, tracker, reactor)
    live = LiveStreams(auth, store, registry, tracker)

    def status() -> dict[str, object]:
        return {
            "node": config.node,
            "version": __version__,
            "channels": registry.stats(),
        }

    admin = AdminApi(config.admin.token_hash, cached_verify, status)
    site = Site(XRelayRoot(live, admin), logFormatter=redacted_log_formatter)
    for description in config.server.http:
        listener = StreamServerEndpointService(
            _LazyEndpoint(reactor, description), site
        )
        # A port we cannot bind must stop the start, not just log an error.
        listener._raiseSynchronously = True
        listener.setServiceParent(root)
    return root
