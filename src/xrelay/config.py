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

import os
import re
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


def endpoint(value: str) -> str | None:
    """A server endpoint string, parsed (not listened on) against a fake
    reactor: this catches unknown types, bad arguments and unreadable
    ``ssl:`` key/certificate files."""
    try:
        serverFromString(MemoryReactor(), value)  # type: ignore[no-untyped-call]
    except Exception as e:  # endpoint parsers raise all sorts: any is a "no"
        return f"bad endpoint {value!r}: {e}"
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
class Config:
    """The whole configuration; each attribute is one ``[section]``."""

    server: ServerConfig = ServerConfig()
    log: LogConfig = LogConfig()
    store: StoreConfig = StoreConfig()
    live: LiveConfig = LiveConfig()
    failover: FailoverConfig = FailoverConfig()
    admin: AdminConfig = AdminConfig()

    @property
    def node(self) -> str:
        return self.server.node_name or socket.gethostname()

    @property
    def store_path(self) -> str:
        return self.store.path or os.path.join(self.server.data_dir, "xrelay.sqlite3")


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
        current = getattr(base, section)
        keys = attrs.fields_dict(type(current))
        values: dict[str, Any] = {}
        for name, value in table.items():
            key = f"{section}.{name}"
            if name not in keys:
                reason = f"unknown key (known: {', '.join(keys)})"
                problems.append(ConfigProblem(file, key, reason))
                continue
            value, found = _validate(keys[name], key, value)
            problems += [ConfigProblem(file, k, reason) for k, reason in found]
            values[name] = value
        changed[section] = attrs.evolve(current, **values)
    if problems:
        raise ConfigError(problems)
    return attrs.evolve(base, **changed)


def _validate(
    key_schema: "attrs.Attribute[Any]", key: str, value: object
) -> tuple[Any, list[tuple[str, str]]]:
    """``value`` converted to the key's type, and (key, reason) problems."""
    kind: Any = key_schema.type
    check = key_schema.metadata["check"]
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
            value = {key_schema.name: key_schema.default}
            out += [
                "",
                *_comment(key_schema.metadata["doc"]),
                tomli_w.dumps(value).rstrip(),
            ]
    return "\n".join(out) + "\n"


def _comment(doc: str) -> list[str]:
    """``doc`` as TOML comment lines, keeping its explicit line breaks."""
    return [
        f"# {line}"
        for paragraph in doc.split("\n")
        for line in textwrap.wrap(paragraph, 76)
    ]


if __name__ == "__main__":
    sys.stdout.write(example_toml())
