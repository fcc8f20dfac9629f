"""``xrelay hash-password``: the stored form of a password, for lines kept
outside the database (the Redis hashes a panel writes, the lines file)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from xrelay.cli._common import CommandError, SubParsers
from xrelay.cred.passwords import check_credential_charset, hash_password


def register(sub: SubParsers) -> None:
    parser = sub.add_parser(
        "hash-password",
        help="print the scrypt hash of a password (read from stdin)",
        description="Read a password (a prompt on a terminal, else the first "
        "line of stdin) and print its salted scrypt hash, as xrelay stores "
        "it. The password is never taken as an argument, so it stays out "
        "of shell history and process listings.",
    )
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace, out: TextIO) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password or not check_credential_charset(password):
        raise CommandError(
            "password: empty, or has characters that do not survive in "
            "Xtream URLs (see 'xrelay users add --help')"
        )
    out.write(hash_password(password) + "\n")
    return 0
