"""``xrelay check-config PATH``: validate a configuration file."""

from __future__ import annotations

import argparse
from typing import IO

from xrelay.config import ConfigError, load_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check-config",
        help="validate a configuration file",
        description="Report every problem in a TOML configuration file, "
        "as FILE: KEY: REASON lines; exit 1 if there is any.",
    )
    parser.add_argument("path", metavar="PATH", help="TOML configuration file")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace, out: IO[str]) -> int:
    try:
        config = load_config(args.path)
    except ConfigError as e:
        out.write(f"{e}\n")
        return 1
    out.write(
        f"{args.path}: OK\n"
        f"  node: {config.node}\n"
        f"  data directory: {config.server.data_dir}\n"
        f"  store: {config.store_path}\n"
        f"  http: {', '.join(config.server.http) or '(none)'}\n"
        f"  log: {config.log.format}, level {config.log.level}\n"
    )
    return 0
