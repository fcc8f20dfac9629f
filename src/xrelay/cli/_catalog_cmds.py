"""``xrelay import-m3u``, ``xrelay export`` and ``xrelay apply``.

Each reads the whole catalog, computes the new one with the pure functions
in `xrelay.catalog`, and writes it back with one atomic ``replace_catalog``:
a command either changes everything it says or nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import closing
from typing import TextIO

from xrelay.catalog import (
    DocumentError,
    FetchError,
    PasswordHasher,
    diff_catalogs,
    dump_document,
    fetch_blocking,
    parse_document,
    parse_m3u,
    plan_import,
    redact_url,
)
from xrelay.cli._common import CommandError, SubParsers, open_db
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.models import Catalog
from xrelay.store import StoreError

FETCH_TIMEOUT = 60.0  # seconds, for the whole download


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "import-m3u",
        help="add or update live channels from an M3U playlist",
        description="Import an extended M3U playlist (a file, or an http(s) URL). "
        "If any line has a problem, every problem is listed and nothing is "
        "imported.  Channels already known (same URL, or same name in the same "
        "category) are updated, not duplicated.",
    )
    p.add_argument("source", metavar="FILE_OR_URL")
    p.add_argument(
        "--category",
        default="",
        metavar="NAME",
        help="live category for entries without a group (default: none)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would change and change nothing",
    )
    p.set_defaults(func=import_m3u)

    p = sub.add_parser(
        "export",
        help="write the whole catalog as a TOML document",
        description="Write every table, users' password hashes included, as "
        "a TOML document for `xrelay apply`.  Keep it private.",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE (created readable by you only) instead of standard output",
    )
    p.set_defaults(func=export)

    p = sub.add_parser(
        "apply",
        help="make the catalog exactly what a TOML document says",
        description="Show the differences between the store and DOC, then "
        "replace the whole catalog with DOC in one transaction.  Users may "
        "give `password` instead of `password_hash`.",
    )
    p.add_argument("document", metavar="DOC")
    p.add_argument(
        "--dry-run", action="store_true", help="show the differences and change nothing"
    )
    p.set_defaults(func=apply)


def import_m3u(args: argparse.Namespace, out: TextIO) -> int:
    source: str = args.source
    if source.startswith(("http://", "https://")):
        name = redact_url(source)
        try:
            data = fetch_blocking(source, FETCH_TIMEOUT)
        except FetchError as e:
            raise CommandError(str(e)) from None
    else:
        name = source
        with open(source, "rb") as f:
            data = f.read()
    playlist = parse_m3u(data)
    if playlist.problems:
        for problem in playlist.problems:
            print(f"{name}:{problem.line}: {problem.reason}", file=sys.stderr)
        raise CommandError(f"{len(playlist.problems)} problem(s); nothing imported")

    with closing(open_db(args)) as db:
        current = db.read_catalog()
        plan = plan_import(
            current,
            playlist.entries,
            default_category=args.category,
            now=int(time.time()),
        )
        summary = (
            f"{plan.added} added, {plan.updated} updated, "
            f"{plan.unchanged} unchanged; {plan.categories_added} categories added"
        )
        if args.dry_run:
            _print_lines(diff_catalogs(current, plan.catalog), out)
            out.write(f"dry run, nothing imported: would be {summary}\n")
            return 0
        if plan.catalog != current:
            try:
                db.replace_catalog(plan.catalog, expected=current)
            except StoreError as e:
                raise CommandError(f"{e}; nothing imported") from None
    out.write(f"imported {name}: {summary}\n")
    return 0


def export(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        text = dump_document(db.read_catalog())
    if args.output is None:
        out.write(text)
        return 0
    # The document holds password hashes: readable by the owner only.
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


def apply(args: argparse.Namespace, out: TextIO) -> int:
    path: str = args.document
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise CommandError(f"{path}: not UTF-8: {e}") from None
    with closing(open_db(args)) as db:
        current = db.read_catalog()
        try:
            catalog = parse_document(text, path, _keep_matching_hashes(current))
        except DocumentError as e:
            for message in e.errors:
                print(message, file=sys.stderr)
            raise CommandError(f"{len(e.errors)} error(s); nothing applied") from None
        changes = diff_catalogs(current, catalog)
        if not changes:
            out.write("no changes\n")
            return 0
        _print_lines(changes, out)
        if args.dry_run:
            out.write(f"dry run: {len(changes)} change(s), nothing applied\n")
            return 0
        try:
            db.replace_catalog(catalog, expected=current)
        except StoreError as e:
            raise CommandError(f"{e}; nothing applied") from None
    out.write(f"applied {len(changes)} change(s)\n")
    return 0


def _keep_matching_hashes(current: Catalog) -> PasswordHasher:
    """Hash a document's plain password, unless the user's stored hash
    already matches it: applying the same document twice changes nothing."""
    stored = {user.id: user.password_hash for user in current.users}

    def hasher(user_id: int, password: str) -> str:
        old = stored.get(user_id)
        if old is not None and verify_password(password, old):
            return old
        return hash_password(password)

    return hasher


def _print_lines(lines: list[str], out: TextIO) -> None:
    for line in lines:
        out.write(f"{line}\n")
