"""The login pieces built from the configuration (tap.py wires them)."""

from __future__ import annotations

from typing import Any

import attrs
from twisted.application.service import IService
from twisted.cred.portal import Portal

from xrelay.config import Config
from xrelay.cred.checkers import LineRealm, StoreChecker, Verifier
from xrelay.cred.filelines import FileLines
from xrelay.cred.limits import ConnectionTracker, IConnectionTracker
from xrelay.cred.lines import CachedLines, FirstKnown, LineSource
from xrelay.cred.redislimits import RedisConnectionTracker
from xrelay.cred.redislines import RedisLines
from xrelay.cred.redisthrottle import RedisFailures
from xrelay.cred.throttle import IFailureLog, MemoryFailures, Throttle, ThrottleSettings
from xrelay.interfaces import IStore
from xrelay.redis import RedisService


@attrs.frozen
class Logins:
    portal: Portal
    lines: LineSource  # where the checker and realm look lines up
    tracker: IConnectionTracker
    throttle: Throttle
    services: tuple[IService, ...]  # to run with the daemon, in this order


def logins(config: Config, store: IStore, verify: Verifier, reactor: Any) -> Logins:
    """Checkers chained as ``auth.checkers`` says; limits and login
    throttling in memory, or in Redis when ``redis.url`` is set."""
    redis = None
    if config.redis.url:
        redis = RedisService(config.redis.url, reactor, config.redis.timeout)
    prefix = config.redis.key_prefix
    sources: list[LineSource] = []
    for name in config.auth.checkers:
        if name == "sqlite":
            sources.append(store)
        elif name == "redis":
            assert redis is not None, "the configuration checks this"
            sources.append(CachedLines(RedisLines(redis, prefix), reactor))
        else:
            sources.append(FileLines(config.auth.file, reactor))
    lines = sources[0] if len(sources) == 1 else FirstKnown(sources)
    portal = Portal(LineRealm(lines), [StoreChecker(lines, verify)])

    settings = ThrottleSettings(**attrs.asdict(config.throttle))
    limits = config.connections
    tracker: IConnectionTracker
    failures: IFailureLog
    if redis is None:
        tracker = ConnectionTracker(reactor, limits.when_full, limits.zap_grace)
        failures = MemoryFailures(reactor, settings)
        services: tuple[IService, ...] = ()
    else:
        tracker = RedisConnectionTracker(
            redis,
            reactor,
            config.node,
            limits.when_full,
            limits.zap_grace,
            config.redis.heartbeat,
            config.redis.node_timeout,
            prefix,
        )
        failures = RedisFailures(redis, reactor, settings, prefix)
        services = (redis, tracker)
    return Logins(
        portal, lines, tracker, Throttle(failures, reactor, settings), services
    )
