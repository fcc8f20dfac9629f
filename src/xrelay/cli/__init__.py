"""``xrelay``: the admin command line.

It works on the database directly (the daemon need not run, and may): each
subcommand module's ``register(sub)`` adds its parsers, whose ``func``
default is a ``handler(args, out) -> exit status``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

from xrelay.cli import (
    _admin_token,
    _bouquets,
    _catalog_cmds,
    _categories,
    _channels,
    _check_config,
    _epg,
    _hash_password,
    _library,
    _users,
)
from xrelay.cli._common import DEFAULT_DATA_DIR, CommandError
from xrelay.store import StoreError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xrelay", description="Manage xrelay's users and catalog."
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"data directory (default: {DEFAULT_DATA_DIR}, or the config's)",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="TOML configuration file; the database is the daemon's",
    )
    sub = parser.add_subparsers(metavar="COMMAND", required=True)
    for module in (_users, _categories, _channels, _bouquets):
        module.register(sub)
    _check_config.register(sub)
    _catalog_cmds.register(sub)
    _epg.register(sub)
    _library.register(sub)
    _admin_token.register(sub)
    _hash_password.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status: 0, 1 (failed) or 2 (bad usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed
        return e.code if isinstance(e.code, int) else 2
    try:
        status: int = args.func(args, sys.stdout)
    except (CommandError, StoreError, sqlite3.Error, OSError) as e:
        print(f"xrelay: error: {e}", file=sys.stderr)
        return 1
    return status
