"""What the subcommands share: finding the database, option types, output."""

from __future__ import annotations

import argparse
import datetime
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TextIO, TypeAlias, TypeVar

import attrs

from xrelay.store import CatalogDB, open_sync

DEFAULT_DATA_DIR = "./xrelay-data"

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_Identified)


class CommandError(Exception):
    """A failure to report to the user: ``main`` prints it and exits 1."""


def open_db(args: argparse.Namespace) -> CatalogDB:
    """The database named by ``--data-dir`` / ``--config``, opened.

    With ``--config`` the file is found as the daemon finds it (a
    ``--data-dir`` given too overrides ``server.data_dir``).
    """
    if args.config is None:
        data_dir = args.data_dir or DEFAULT_DATA_DIR
        return open_sync(os.path.join(data_dir, "xrelay.sqlite3"))
    from xrelay.config import ConfigError, load_config, with_overrides

    try:
        config = load_config(args.config)
        if args.data_dir is not None:
            config = with_overrides(config, {"server.data_dir": args.data_dir})
    except ConfigError as e:
        raise CommandError(f"invalid configuration:\n{e}") from None
    return open_sync(config.store_path)


def given_fields(args: argparse.Namespace, model: type[Any]) -> dict[str, Any]:
    """The options naming a field of ``model`` that were given.

    Such options have ``dest`` set to the field and ``default=SUPPRESS``, so
    only given ones are in ``args`` (as are positionals named after a
    field).  Lists become tuples.
    """
    names = {f.name for f in attrs.fields(model)}
    return {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(args).items()
        if name in names
    }


def find(records: Iterable[R], record_id: int, what: str) -> R:
    """The record of ``records`` with that id, or a CommandError."""
    for record in records:
        if record.id == record_id:
            return record
    raise CommandError(f"no {what} {record_id}")


# -- option types


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def optional_id(text: str) -> int | None:
    """An id, or ``none``."""
    return None if text == "none" else positive_int(text)


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


# -- output


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def print_json(out: TextIO, value: object) -> None:
    json.dump(value, out, indent=2, ensure_ascii=False)
    out.write("\n")


def record_json(record: Any, hide: Sequence[str] = ()) -> dict[str, Any]:
    """``record`` as a JSON object, without the fields in ``hide``."""
    return attrs.asdict(record, filter=lambda a, _: a.name not in hide)


def print_table(
    out: TextIO, headers: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Columns padded to their widest cell, left-aligned."""
    cells = [list(headers), *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        out.write(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
        out.write("\n")


def print_fields(out: TextIO, fields: Sequence[tuple[str, object]]) -> None:
    """One ``name: value`` line per field, values aligned."""
    width = max(len(name) for name, _ in fields) + 1
    for name, value in fields:
        out.write(f"{name + ':':<{width}} {value}\n")


def format_ids(ids: Iterable[int]) -> str:
    return ", ".join(map(str, ids)) or "-"


def format_time(timestamp: int | None) -> str:
    if timestamp is None:
        return "never"
    when = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")
