"""``xrelay admin-token``: a new token for the admin HTTP API."""

from __future__ import annotations

import argparse
import secrets
from typing import TextIO

from xrelay.cli._common import SubParsers
from xrelay.cred.passwords import hash_password


def register(sub: SubParsers) -> None:
    parser = sub.add_parser(
        "admin-token",
        help="make a token for the admin HTTP API",
        description="Print a new random token and the [admin] line that "
        "enables it. Keep the token secret; the config holds only its hash.",
    )
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace, out: TextIO) -> int:
    token = secrets.token_urlsafe(32)
    out.write(
        f"token: {token}\n\n"
        "# put this in the config file, then restart xrelay:\n"
        f'[admin]\ntoken_hash = "{hash_password(token)}"\n\n'
        f"# use it as: curl -H 'Authorization: Bearer {token}' "
        "http://127.0.0.1:8080/admin/status\n"
    )
    return 0
