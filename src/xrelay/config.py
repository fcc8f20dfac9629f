"""xrelay's configuration: one TOML file, validated as a whole.

The schema is the section classes below: each key is one ``setting(...)``
line carrying its type (the annotation), default, check and documentation.
Validation, command-line overrides and the example file etc/xrelay.toml
(``python -m xrelay.config > etc/xrelay.toml``) are all driven from them, so
adding a key is one line plus regenerating the example.

Every problem found is collected before raising :class:`ConfigError`, so one
run reports them all as ``FILE: KEY: REASON`` lines.
"""

# No ``from __future__ import annotations``: validation reads each key's type
# from ``attrs.fields()``, which needs real types rather than strings.

import ipaddress
import os
import re
import shutil
import socket
import sys
import textwrap
import tomllib
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import tomli_w
from twisted.internet.endpoints import serverFromString
from twisted.internet.testing import MemoryReactor

from xrelay.logs import LEVELS
from xrelay.redis import parse_redis_url

COMMAND_LINE = "<command line>"
"""The ``file`` of problems found in :func:`with_overrides` values."""

T = TypeVar("T")

Check = Callable[[Any], str | None]
"""Says why a (well-typed) value is invalid, or returns None."""


def setting(default: T, doc: str, check: Check | None = None) -> T:
    """One key of a section. For ``tuple[X, ...]`` keys ``check`` applies to
    each item, so a problem names the item (``server.http[1]``)."""
    return attrs.field(default=default, metadata={"doc": doc, "check": check})


def one_of(*choices: str) -> Check:
    def check(value: str) -> str | None:
        if value in choices:
            return None
        return f"must be one of {', '.join(map(repr, choices))}, not {value!r}"

    return check


def in_range(low: float, high: float) -> Check:
    def check(value: float) -> str | None:
        if low <= value <= high:  # False for NaN too
            return None
        return f"must be between {low} and {high}, not {value}"

    return check


def matching(pattern: str, what: str) -> Check:
    regex = re.compile(pattern)

    def check(value: str) -> str | None:
        return None if regex.fullmatch(value) else f"must be {what}, not {value!r}"

    return check


def non_empty(value: str) -> str | None:
    return None if value else "must not be empty"


def readable_file_or_empty(value: str) -> str | None:
    if value and not os.access(value, os.R_OK):
        return f"cannot read {value!r}"
    return None


def redis_url_or_empty(value: str) -> str | None:
    if not value:
        return None
    try:
        parse_redis_url(value)
    except ValueError as e:
        return f"bad Redis URL: {e}"
    return None


def endpoint(value: str) -> str | None:
    """A server endpoint string, parsed (not listened on) against a fake
    reactor: this catches unknown types, bad arguments and unreadable
    ``ssl:`` key/certificate files."""
    try:
        serverFromString(MemoryReactor(), value)  # type: ignore[no-untyped-call]
    except Exception as e:  # endpoint parsers raise all sorts: any is a "no"
        return f"bad endpoint {value!r}: {e}"
    return None


def network(value: str) -> str | None:
    """An IP network in CIDR form, or one address."""
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return f"not an IP address or network (CIDR): {value!r}"
    return None


@attrs.frozen
class ServerConfig:
    """Identity of this node, where it keeps its data and where it listens."""

    node_name: str = setting(
        "",
        'Name of this node in a cluster; "" means the host name.',
        matching(r"([A-Za-z0-9][A-Za-z0-9._-]*)?", "letters, digits, '.', '_', '-'"),
    )
    data_dir: str = setting(
        "./xrelay-data",
        "Directory for xrelay's data (the catalog database by default).",
        non_empty,
    )
    http: tuple[str, ...] = setting(
        ("tcp:8080:interface=127.0.0.1",),
        "HTTP listeners, as Twisted server endpoint strings, e.g.\n"
        '"tcp:80", "ssl:443:privateKey=key.pem:certKey=cert.pem",\n'
        '"unix:/run/xrelay.sock". --http on the command line replaces this list.',
        endpoint,
    )
    public_host: str = setting(
        "",
        "Host (or host:port) players should use in the URLs xrelay hands out; "
        '"" means the Host header of each request.',
        matching(
            r"(([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?)?",
            "a host name or host:port, without scheme or path",
        ),
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For\n"
        "is believed: a request from one of them counts as coming from the\n"
        "player it names (line address rules, failed-login counts, connection\n"
        "limits, the access log). Empty: the header is ignored.",
        network,
    )


@attrs.frozen
class LogConfig:
    """Logging (to twistd's --logfile, stdout by default)."""

    format: str = setting(
        "text", 'Log line format: "text" or "json".', one_of("text", "json")
    )
    level: str = setting(
        "info",
        f"Lowest level logged: {', '.join(LEVELS)}.",
        one_of(*LEVELS),
    )


@attrs.frozen
class StoreConfig:
    """The catalog and user database."""

    path: str = setting(
        "", 'SQLite database file; "" means xrelay.sqlite3 in server.data_dir.'
    )


@attrs.frozen
class LiveConfig:
    """Live channel fan-out."""

    queue_seconds: float = setting(
        4.0,
        "Seconds of stream buffered per viewer while it cannot keep up; "
        "past that, packets for that viewer are dropped.",
        in_range(0.1, 60.0),
    )
    stall_timeout: float = setting(
        15.0,
        "Seconds a viewer may stay unable to take data before it is disconnected.",
        in_range(1.0, 3600.0),
    )
    linger: float = setting(
        10.0,
        "Seconds an on-demand channel keeps running after its last viewer "
        "leaves, so quick zapping back does not restart it.",
        in_range(0.0, 3600.0),
    )
    join_burst: float = setting(
        1.0,
        "Seconds of recent stream (from a keyframe, with PAT/PMT first) sent "
        "at once to a joining viewer, so its player starts without waiting.",
        in_range(0.0, 30.0),
    )


@attrs.frozen
class HlsConfig:
    """Live HLS (/live/U/P/ID.m3u8): segments cut in memory from the running
    channel, served through session tokens (README, "Live HLS")."""

    segment_seconds: float = setting(
        4.0,
        "Target segment length: a segment is cut at the first keyframe after "
        "this many seconds (sparser keyframes make longer segments).",
        in_range(1.0, 30.0),
    )
    window: int = setting(
        6,
        "Segments listed in the live playlist; as many again stay fetchable "
        "after leaving it, for players that are behind.",
        in_range(2, 100),
    )
    session_timeout: float = setting(
        30.0,
        "Seconds without a request after which an HLS session ends and frees "
        "its connection slot.",
        in_range(5.0, 3600.0),
    )
    memory_mb: int = setting(
        64,
        "Most memory (MiB) the segments of one channel may take; past it the "
        "oldest go first.",
        in_range(4, 4096),
    )


@attrs.frozen
class FailoverConfig:
    """How a channel moves between its ordered sources (seconds)."""

    stall_timeout: float = setting(
        3.0,
        "A source sending nothing this long has failed: the channel moves "
        "to the next source in its list.",
        in_range(0.2, 600.0),
    )
    recheck_interval: float = setting(
        30.0,
        "While on a backup, try the better sources again this often.",
        in_range(1.0, 86400.0),
    )
    recover_after: float = setting(
        5.0,
        "A better source must deliver this long before it takes over again.",
        in_range(0.0, 3600.0),
    )
    keyframe_wait: float = setting(
        10.0,
        "A source taking over starts at its first keyframe; one showing none "
        "this long takes over anyway.",
        in_range(0.0, 600.0),
    )
    retry_interval: float = setting(
        5.0,
        "With every source down, try the list again this often.",
        in_range(0.5, 3600.0),
    )
    slate_timeout: float = setting(
        60.0,
        'With every source down, viewers see the "no signal" slate this long '
        "before they are disconnected (0: disconnect at once).",
        in_range(0.0, 86400.0),
    )
    slate: str = setting(
        "",
        'A TS file to loop as the slate; "" means the one shipped with xrelay.',
        readable_file_or_empty,
    )


@attrs.frozen
class AdminConfig:
    """The operator's HTTP API (/admin/...), authenticated by a bearer token."""

    token_hash: str = setting(
        "",
        "Hash of the admin API token (make one with `xrelay admin-token`); "
        '"" turns the admin API off.',
        matching(r"(scrypt\$.+)?", "a hash printed by `xrelay admin-token`"),
    )


@attrs.frozen
class AuthConfig:
    """Where player logins (lines) are checked."""

    checkers: tuple[str, ...] = setting(
        ("sqlite",),
        "Sources of lines, asked in this order; the first that knows a\n"
        "username decides (a wrong password there is refused, not tried on\n"
        'the next). "sqlite": the catalog database (`xrelay users`);\n'
        '"redis": hashes in [redis] (README, "Lines in Redis"); "file": auth.file.',
        one_of("sqlite", "redis", "file"),
    )
    file: str = setting(
        "",
        'Lines file for the "file" checker: one `username:scrypt-hash` per\n'
        "line, optionally followed by `:` and a JSON object of line fields\n"
        '(e.g. {"max_connections": 2}; README, "Lines in Redis"). Re-read when it\n'
        "changes.",
        readable_file_or_empty,
    )
    cache_seconds: float = setting(
        60.0,
        "A verified password is remembered this long, so players reconnecting "
        "and zapping skip the slow hash; a changed password or a disabled "
        "line still takes effect within seconds (lines are re-read every 2 s).",
        in_range(0.0, 3600.0),
    )


@attrs.frozen
class ConnectionsConfig:
    """Connection limits: a line's max_connections, over all its streams."""

    when_full: str = setting(
        "refuse",
        'What a new stream of a line at its limit gets: "refuse" (403 "max\n'
        'connections reached", before any media byte) or "replace-oldest"\n'
        "(the line's oldest stream is disconnected). Either way a player\n"
        "that already holds a stream of the line (same address and\n"
        "User-Agent) replaces its own stream.",
        one_of("refuse", "replace-oldest"),
    )
    zap_grace: float = setting(
        3.0,
        "Seconds a stream's slot stays reserved for its player after the "
        "stream ends, so zapping to another channel never counts twice.",
        in_range(0.0, 60.0),
    )
    recheck_seconds: float = setting(
        5.0,
        "Every this many seconds the lines behind open streams are looked up "
        "again: a stream whose line was deleted, disabled or has expired, or "
        "that no longer allows the stream's address or player, is stopped.",
        in_range(1.0, 3600.0),
    )


@attrs.frozen
class ThrottleConfig:
    """Failed player logins, counted per address and per username."""

    free_failures: int = setting(
        5, "Failures allowed before any wait.", in_range(1, 1000)
    )
    max_backoff: float = setting(
        60.0,
        "After that, each failure doubles the wait before the next try, "
        "from 1 second up to this many seconds.",
        in_range(1.0, 3600.0),
    )
    block_after: int = setting(
        20,
        "This many failures block the address or username for block_seconds "
        "(answered 429 without checking the password).",
        in_range(2, 100_000),
    )
    block_seconds: float = setting(
        900.0,
        "How long a block lasts; failures are forgotten this long after the last.",
        in_range(1.0, 86400.0),
    )
    trust_seconds: float = setting(
        604800.0,
        "An address a user logged in from successfully within this time is "
        "not held back by blocks of that address or username (the user's "
        "own address keeps working during an attack); a failed login from "
        "it ends the trust.",
        in_range(0.0, 31536000.0),
    )


@attrs.frozen
class RedisConfig:
    """Redis, shared by the nodes of a cluster (README, "Lines in Redis")."""

    url: str = setting(
        "",
        '"redis://[[user]:password@]host[:port][/db]" or\n'
        '"unix:///path/redis.sock[?db=N]"; "" means no Redis: limits and\n'
        "login counts are kept per node.",
        redis_url_or_empty,
    )
    key_prefix: str = setting(
        "xrelay:",
        "Prefix of every key xrelay uses (share one Redis between clusters).",
        matching(r"[A-Za-z0-9:._-]{0,64}", "up to 64 of A-Z a-z 0-9 : . _ -"),
    )
    timeout: float = setting(
        1.0,
        "Seconds a command may take; slower counts as Redis being unavailable "
        "(this node then decides alone, logs it, and reconnects with backoff).",
        in_range(0.05, 30.0),
    )
    heartbeat: float = setting(
        2.0,
        "This node tells Redis it is alive this often (seconds), and picks "
        "up the streams another node asked it to disconnect.",
        in_range(0.1, 60.0),
    )
    node_timeout: float = setting(
        10.0,
        "A node silent this long is gone: its streams stop counting, so a "
        "crashed node's viewers are released within this time. At least 3 "
        "heartbeats.",
        in_range(0.5, 600.0),
    )


@attrs.frozen
class ArchiveConfig:
    """Catch-up: channels with archive_days > 0 are recorded to disk
    (README, "Catch-up")."""

    directory: str = setting(
        "", 'Where recordings go; "" means archive/ in server.data_dir.'
    )
    segment_seconds: float = setting(
        60.0,
        "Recordings are files of about this many seconds (cut at a keyframe): "
        "the unit in which old recordings are deleted.",
        in_range(2.0, 3600.0),
    )
    quota_gb: float = setting(
        0.0,
        "Disk space the recordings may use, in GB (10^9 bytes); past it the "
        "oldest recordings go first, whichever channel (0: no quota).",
        in_range(0.0, 1e9),
    )
    max_hours: float = setting(
        0.0,
        "Keep no recording longer than this many hours, whatever a channel's "
        "archive_days (0: no limit). --demo makes it 1.",
        in_range(0.0, 1e6),
    )
    prune_interval: float = setting(
        60.0,
        "Seconds between deletions of recordings past their age or the quota.",
        in_range(1.0, 86400.0),
    )


def even(value: int) -> str | None:
    return None if value % 2 == 0 else f"must be even, not {value}"


X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


@attrs.frozen
class TranscodeProfile:
    """One ``[transcode.profiles.NAME]`` table; the defaults make the 720p
    profile."""

    video_codec: str = setting(
        "libx264",
        'Video encoder: "libx264" (software), or the hardware encoders\n'
        '"h264_vaapi", "h264_nvenc", "h264_qsv", used when a test encode\n'
        "with them works at start, libx264 otherwise (with a warning).",
        one_of("libx264", "h264_vaapi", "h264_nvenc", "h264_qsv"),
    )
    height: int = setting(
        720, "Output height in pixels; the width keeps the aspect ratio.", even
    )
    video_bitrate: int = setting(
        2500,
        "Video bitrate in kbit/s (also the maximum; the VBV buffer holds 2 s).",
        in_range(50, 100_000),
    )
    preset: str = setting(
        "veryfast",
        "Speed/quality trade-off, as x264 names it (hardware encoders get "
        "their nearest equivalent).",
        one_of(*X264_PRESETS),
    )
    fps: float = setting(
        0.0, "Output frame rate; 0 keeps the source's.", in_range(0.0, 120.0)
    )
    keyframe_interval: float = setting(
        2.0,
        "Seconds between keyframes: where a joining player can start.",
        in_range(0.2, 20.0),
    )
    audio_codec: str = setting(
        "aac",
        '"aac" (re-encoded), "copy" (passed through) or "none" (dropped).',
        one_of("aac", "copy", "none"),
    )
    audio_bitrate: int = setting(128, "AAC bitrate in kbit/s.", in_range(16, 512))
    vaapi_device: str = setting(
        "/dev/dri/renderD128", "The render device h264_vaapi uses.", non_empty
    )


@attrs.frozen
class TranscodeConfig:
    """Transcoded channels, made by ffmpeg from named profiles."""

    ffmpeg: str = setting(
        "ffmpeg",
        "The ffmpeg command (looked up on PATH) or its path; needed at start "
        "when any profile is defined.",
        non_empty,
    )
    profiles: Mapping[str, TranscodeProfile] = setting(
        {},
        "Named profiles, one [transcode.profiles.NAME] table each (NAME: up\n"
        "to 32 letters, digits, '_' or '-'); its keys are below, at their\n"
        "defaults (a 720p libx264 profile), and may be left out.",
        matching(r"[A-Za-z0-9_-]{1,32}", "up to 32 letters, digits, '_' or '-'"),
    )


@attrs.frozen
class LibraryConfig:
    """VOD from files: movie and series directories, scanned at start,
    on a schedule and by `xrelay library scan` (README, "Movies and series")."""

    movie_dirs: tuple[str, ...] = setting(
        (),
        'Directories of movie files ("Title (2008).mkv", any depth); each is\n'
        "a VOD category named after the directory (a sidecar may name another).",
        non_empty,
    )
    series_dirs: tuple[str, ...] = setting(
        (),
        'Directories of shows, one folder per show ("Show/Season 01/Show\n'
        'S01E02.mp4", "Show/Show.S01E02.mkv"); each is a series category.',
        non_empty,
    )
    scan_interval: float = setting(
        3600.0,
        "Seconds between scans (0: only at start and by the command).",
        in_range(0.0, 30 * 86400.0),
    )
    ffprobe: str = setting(
        "ffprobe",
        "The ffprobe command (looked up on PATH) or its path: it reads each\n"
        "new or changed file's duration, codecs, size and bitrate.",
        non_empty,
    )
    probe_concurrency: int = setting(
        4, "ffprobe processes run at once during a scan.", in_range(1, 64)
    )
    probe_timeout: float = setting(
        30.0,
        "Seconds one ffprobe may take; a slower file is tried again next scan.",
        in_range(1.0, 3600.0),
    )
    sendfile: bool = setting(
        True,
        "Send files to plain-HTTP players with sendfile(2) (the kernel copies;\n"
        "TLS and HTTP/2 always copy through xrelay).",
    )


@attrs.frozen
class EpgConfig:
    """The programme guide: XMLTV sources (README, "Programme guide")."""

    path: str = setting(
        "", 'Guide database file; "" means epg.sqlite3 in server.data_dir.'
    )
    past_days: float = setting(
        2.0,
        "Days of past programmes kept and served (catch-up listings).",
        in_range(0.0, 60.0),
    )
    future_days: float = setting(
        14.0, "Days of coming programmes kept and served.", in_range(0.1, 60.0)
    )
    refresh_seconds: int = setting(
        43200,
        "How often a source whose refresh_seconds is 0 is fetched again "
        "(conditionally: an unchanged guide is not downloaded twice).",
        in_range(60, 30 * 86400),
    )
    timeout: float = setting(
        60.0,
        "Seconds a source may take to answer, or stay silent mid-download.",
        in_range(1.0, 3600.0),
    )
    retry_seconds: float = setting(
        60.0,
        "After a failed fetch, try again this much later, doubling on each "
        "further failure up to retry_max_seconds (the last good guide stays).",
        in_range(1.0, 86400.0),
    )
    retry_max_seconds: float = setting(
        3600.0, "The longest wait between retries.", in_range(1.0, 86400.0)
    )
    max_mb: int = setting(
        1000,
        "Largest guide accepted, in MB of XML after decompression (and of download).",
        in_range(1, 100_000),
    )


@attrs.frozen
class Config:
    """The whole configuration; each attribute is one ``[section]``."""

    server: ServerConfig = ServerConfig()
    log: LogConfig = LogConfig()
    store: StoreConfig = StoreConfig()
    live: LiveConfig = LiveConfig()
    hls: HlsConfig = HlsConfig()
    failover: FailoverConfig = FailoverConfig()
    admin: AdminConfig = AdminConfig()
    auth: AuthConfig = AuthConfig()
    connections: ConnectionsConfig = ConnectionsConfig()
    throttle: ThrottleConfig = ThrottleConfig()
    redis: RedisConfig = RedisConfig()
    archive: ArchiveConfig = ArchiveConfig()
    transcode: TranscodeConfig = TranscodeConfig()
    library: LibraryConfig = LibraryConfig()
    epg: EpgConfig = EpgConfig()

    @property
    def node(self) -> str:
        return self.server.node_name or socket.gethostname()

    @property
    def store_path(self) -> str:
        return self.store.path or os.path.join(self.server.data_dir, "xrelay.sqlite3")

    @property
    def archive_path(self) -> str:
        return self.archive.directory or os.path.join(self.server.data_dir, "archive")

    @property
    def epg_path(self) -> str:
        return self.epg.path or os.path.join(self.server.data_dir, "epg.sqlite3")


@attrs.frozen
class ConfigProblem:
    file: str
    key: str  # dotted, e.g. "server.http[1]"; "" for whole-file problems
    reason: str
    line: int | None = None  # known only for TOML syntax errors

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.key}: {self.reason}"
            if self.key
            else f"{where}: {self.reason}"
        )


class ConfigError(Exception):
    """An invalid configuration; ``str()`` is the report, one problem a line."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(map(str, self.problems))


def load_config(path: str | None) -> Config:
    """The configuration in the TOML file at ``path``; defaults for None."""
    if path is None:
        return Config()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(
            [ConfigProblem(path, "", f"cannot read: {e.strerror}")]
        ) from None
    except UnicodeDecodeError as e:
        reason = f"not UTF-8 text (byte {e.start})"
        raise ConfigError([ConfigProblem(path, "", reason)]) from None
    return parse_config(text, path)


_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def parse_config(text: str, filename: str) -> Config:
    """The configuration in TOML ``text``; ``filename`` is for the report."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # Python 3.11's error carries its position only in the message.
        position = _POSITION.search(str(e))
        line = int(position[1]) if position else None
        raise ConfigError(
            [ConfigProblem(filename, "", f"invalid TOML: {e}", line)]
        ) from None
    return _merge(Config(), data, filename)


def with_overrides(config: Config, overrides: Mapping[str, object]) -> Config:
    """``config`` with some keys replaced, e.g. from command-line options.

    ``overrides`` maps dotted keys to values of the key's type (a tuple or
    list for arrays): ``{"server.http": ("tcp:80",), "log.format": "json"}``.
    They are validated like the file's, with ``<command line>`` as the file.
    """
    nested: dict[str, dict[str, object]] = {}
    for dotted, value in overrides.items():
        section, _, name = dotted.partition(".")
        nested.setdefault(section, {})[name] = value
    return _merge(config, nested, COMMAND_LINE)


def _merge(base: Config, data: Mapping[str, Any], file: str) -> Config:
    """``base`` updated from TOML-shaped ``data``, or ConfigError naming
    every problem in it."""
    problems: list[ConfigProblem] = []
    sections = attrs.fields_dict(Config)
    changed: dict[str, Any] = {}
    for section, table in data.items():
        if section not in sections:
            reason = f"unknown section (known: {', '.join(sections)})"
            problems.append(ConfigProblem(file, section, reason))
            continue
        if not isinstance(table, dict):
            reason = f"must be a table, not {_describe(table)}"
            problems.append(ConfigProblem(file, section, reason))
            continue
        changed[section], found = _merge_table(getattr(base, section), table, section)
        problems += [ConfigProblem(file, k, reason) for k, reason in found]
    if problems:
        raise ConfigError(problems)
    config = attrs.evolve(base, **changed)
    problems = [ConfigProblem(file, k, reason) for k, reason in _conflicts(config)]
    if problems:
        raise ConfigError(problems)
    return config


def _merge_table(
    current: Any, table: Mapping[str, Any], prefix: str
) -> tuple[Any, list[tuple[str, str]]]:
    """The attrs record ``current`` updated from ``table`` (a section, or
    one table of a named-tables key), and (key, reason) problems."""
    keys = attrs.fields_dict(type(current))
    values: dict[str, Any] = {}
    problems = []
    for name, value in table.items():
        key = f"{prefix}.{name}"
        if name not in keys:
            problems.append((key, f"unknown key (known: {', '.join(keys)})"))
            continue
        values[name], found = _validate(keys[name], key, value)
        problems += found
    return attrs.evolve(current, **values), problems


def _conflicts(config: Config) -> list[tuple[str, str]]:
    """(key, reason) for keys that are valid alone but not together."""
    found = []
    checkers = config.auth.checkers
    if not checkers:
        found.append(("auth.checkers", "must name at least one checker"))
    if len(set(checkers)) != len(checkers):
        found.append(("auth.checkers", "names a checker twice"))
    if "redis" in checkers and not config.redis.url:
        found.append(("auth.checkers", '"redis" needs redis.url'))
    if "file" in checkers and not config.auth.file:
        found.append(("auth.checkers", '"file" needs auth.file'))
    if config.redis.node_timeout < 3 * config.redis.heartbeat:
        found.append(("redis.node_timeout", "must be at least 3 heartbeats"))
    if config.throttle.block_after <= config.throttle.free_failures:
        found.append(("throttle.block_after", "must be more than free_failures"))
    transcode = config.transcode
    if transcode.profiles and shutil.which(transcode.ffmpeg) is None:
        names = ", ".join(transcode.profiles)
        reason = f"{transcode.ffmpeg!r} not found (an executable on PATH or a path)"
        found.append(
            ("transcode.ffmpeg", f"{reason}; transcode.profiles ({names}) need it")
        )
    return found


def _validate(
    key_schema: "attrs.Attribute[Any]", key: str, value: object
) -> tuple[Any, list[tuple[str, str]]]:
    """``value`` converted to the key's type, and (key, reason) problems."""
    kind: Any = key_schema.type
    check = key_schema.metadata["check"]
    if typing.get_origin(kind) is Mapping:
        return _validate_tables(kind, check, key, value)
    if typing.get_origin(kind) is not tuple:
        return _validate_one(kind, check, key, value)
    if not isinstance(value, list | tuple):
        return value, [(key, f"must be an array, not {_describe(value)}")]
    (item_kind, _) = typing.get_args(kind)
    items, problems = [], []
    for i, item in enumerate(value):
        converted, found = _validate_one(item_kind, check, f"{key}[{i}]", item)
        items.append(converted)
        problems += found
    return tuple(items), problems


def _validate_tables(
    kind: Any, check: Check | None, key: str, value: object
) -> tuple[Any, list[tuple[str, str]]]:
    """A ``Mapping[str, Record]`` key: named tables (``[key.NAME]``), each
    validated like a section; ``check`` applies to the names."""
    if not isinstance(value, dict):
        return value, [(key, f"must be a table, not {_describe(value)}")]
    (_, record) = typing.get_args(kind)
    tables, problems = {}, []
    for name, table in value.items():
        reason = check(name) if check else None
        if reason:
            problems.append((f"{key}.{name}", f"bad name: {reason}"))
        elif not isinstance(table, dict):
            reason = f"must be a table, not {_describe(table)}"
            problems.append((f"{key}.{name}", reason))
        else:
            tables[name], found = _merge_table(record(), table, f"{key}.{name}")
            problems += found
    return tables, problems


_EXPECTED = {str: "a string", float: "a number", int: "an integer", bool: "a boolean"}


def _validate_one(
    kind: type, check: Check | None, key: str, value: object
) -> tuple[Any, list[tuple[str, str]]]:
    # TOML has no int/float distinction a user would care about: 4 means 4.0.
    if kind is float and type(value) is int:
        value = float(value)
    if type(value) is not kind:  # exact, since bool is an int
        return value, [(key, f"must be {_EXPECTED[kind]}, not {_describe(value)}")]
    reason = check(value) if check else None
    return value, [(key, reason)] if reason else []


_TOML_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "table",
}


def _describe(value: object) -> str:
    name = _TOML_TYPES.get(type(value), type(value).__name__)
    return name if isinstance(value, dict) else f"{name} {value!r}"


def example_toml() -> str:
    """The documented example file: every key at its default, with its doc."""
    out = [
        "# xrelay configuration (TOML).",
        "#",
        "# Every key is shown at its default value. Options given to",
        "# `twistd xrelay` override this file; `xrelay check-config PATH`",
        "# validates one.",
        "#",
        "# Generated from src/xrelay/config.py: python -m xrelay.config",
    ]
    for section, section_schema in attrs.fields_dict(Config).items():
        section_cls: Any = section_schema.type
        out += ["", *_comment(section_cls.__doc__), f"[{section}]"]
        for key_schema in attrs.fields(section_cls):
            doc = _comment(key_schema.metadata["doc"])
            if typing.get_origin(key_schema.type) is Mapping:
                assert key_schema is attrs.fields(section_cls)[-1]
                key = f"{section}.{key_schema.name}"
                out += ["", *doc, *_tables_example(key, key_schema)]
                continue
            value = {key_schema.name: key_schema.default}
            out += ["", *doc, tomli_w.dumps(value).rstrip()]
    return "\n".join(out) + "\n"


def _tables_example(key: str, schema: "attrs.Attribute[Any]") -> list[str]:
    """A named-tables key: its (empty) table, then one commented-out table
    with every key at its default.  Such a key must be its section's last:
    its header ends the section's own keys."""
    record: Any = typing.get_args(schema.type)[1]
    out = [f"[{key}]", "", f"# [{key}.NAME]"]
    for field in attrs.fields(record):
        value = tomli_w.dumps({field.name: field.default}).rstrip()
        doc = [f"# {line}" for line in _comment(field.metadata["doc"])]
        out += ["#", *doc, f"# {value}"]
    return out


def _comment(doc: str) -> list[str]:
    """``doc`` as TOML comment lines, keeping its explicit line breaks."""
    return [
        f"# {line}"
        for paragraph in doc.split("\n")
        for line in textwrap.wrap(paragraph, 76)
    ]


if __name__ == "__main__":
    sys.stdout.write(example_toml())
