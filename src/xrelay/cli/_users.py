"""``xrelay users``: subscriber lines."""

from __future__ import annotations

import argparse
import datetime
import getpass
import sys
import time
from contextlib import closing
from typing import TextIO

import attrs

from xrelay.cli._common import (
    CommandError,
    SubParsers,
    add_json_option,
    comma_list,
    format_ids,
    format_time,
    given_fields,
    open_db,
    positive_int,
    print_fields,
    print_json,
    print_table,
    record_json,
)
from xrelay.cred.passwords import (
    CREDENTIAL_RULE,
    check_credential_charset,
    hash_password,
)
from xrelay.models import OUTPUT_FORMATS, User
from xrelay.store import CatalogDB

SUPPRESS = argparse.SUPPRESS
HIDDEN = ("password_hash",)


def register(sub: SubParsers) -> None:
    users = sub.add_parser("users", help="subscriber lines").add_subparsers(
        metavar="ACTION", required=True
    )

    add = users.add_parser("add", help="add a line")
    add.add_argument("username")
    _password_options(add)
    _line_options(add)
    add.set_defaults(func=_add)

    listing = users.add_parser("list", help="list the lines")
    add_json_option(listing)
    listing.set_defaults(func=_list)

    show = users.add_parser("show", help="show one line")
    show.add_argument("username")
    add_json_option(show)
    show.set_defaults(func=_show)

    change = users.add_parser(
        "set",
        help="change a line",
        description="Change a line. A list option replaces the whole list; "
        "give it with no values to empty the list.",
    )
    change.add_argument("username")
    _password_options(change)
    _line_options(change)
    state = change.add_mutually_exclusive_group()
    for flag, value in (("--enable", True), ("--disable", False)):
        state.add_argument(
            flag, dest="enabled", action="store_const", const=value, default=SUPPRESS
        )
    change.set_defaults(func=_set)

    disable = users.add_parser("disable", help="disable a line")
    disable.add_argument("username")
    disable.set_defaults(func=_disable)

    delete = users.add_parser("delete", help="delete a line")
    delete.add_argument("username")
    delete.set_defaults(func=_delete)


def _password_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--password",
        metavar="PW",
        help="the password (other local users can see it: prefer --password-stdin)",
    )
    group.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


def _line_options(parser: argparse.ArgumentParser) -> None:
    # dest is the User field; SUPPRESS keeps options not given out of args.
    parser.add_argument(
        "--max-connections",
        dest="max_connections",
        type=positive_int,
        default=SUPPRESS,
        metavar="N",
        help="streams the line may play at once (default 1)",
    )
    parser.add_argument(
        "--expires",
        dest="expires_at",
        type=_expiry,
        default=SUPPRESS,
        metavar="YYYY-MM-DD|never",
        help="the line stops at 00:00 UTC that day (default never)",
    )
    parser.add_argument(
        "--trial",
        dest="is_trial",
        action=argparse.BooleanOptionalAction,
        default=SUPPRESS,
        help="mark the line as a trial",
    )
    parser.add_argument("--notes", default=SUPPRESS, metavar="TEXT")
    parser.add_argument(
        "--bouquet",
        dest="bouquet_ids",
        type=positive_int,
        nargs="*",
        action="extend",
        default=SUPPRESS,
        metavar="ID",
        help="bouquets the line sees (default: none, meaning the whole catalog)",
    )
    parser.add_argument(
        "--allow-network",
        dest="allowed_networks",
        nargs="*",
        action="extend",
        default=SUPPRESS,
        metavar="CIDR",
        help="networks the line may connect from (default: any)",
    )
    parser.add_argument(
        "--allow-user-agent",
        dest="allowed_user_agents",
        nargs="*",
        action="extend",
        default=SUPPRESS,
        metavar="TEXT",
        help="player User-Agents the line may use (default: any)",
    )
    parser.add_argument(
        "--output-formats",
        dest="allowed_output_formats",
        type=comma_list,
        default=SUPPRESS,
        metavar="ts,m3u8",
        help=f"comma-separated, of {', '.join(OUTPUT_FORMATS)} (default m3u8,ts)",
    )


def _expiry(text: str) -> int | None:
    if text == "never":
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not YYYY-MM-DD or never: {text!r}") from None
    midnight = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
    return int(midnight.timestamp())


def _given_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str | None = args.password
    return password


def _hash(password: str) -> str:
    if not check_credential_charset(password):
        raise CommandError(f"password: use {CREDENTIAL_RULE}")
    return hash_password(password)


def _prompt() -> str:
    if not sys.stdin.isatty():
        raise CommandError("no password: give --password or --password-stdin")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise CommandError("the passwords differ")
    return password


def _get(db: CatalogDB, username: str) -> User:
    user = db.get_user(username)
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user


def _add(args: argparse.Namespace, out: TextIO) -> int:
    new = User(
        **{
            "id": 0,
            "password_hash": _hash(_given_password(args) or _prompt()),
            "created_at": int(time.time()),
            **given_fields(args, User),
        }
    )
    with closing(open_db(args)) as db:
        user = db.put_user(new)
    out.write(f"added user {user.username} (id {user.id})\n")
    return 0


def _list(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        users = db.list_users()
    if args.json:
        print_json(out, [record_json(u, hide=HIDDEN) for u in users])
        return 0
    print_table(
        out,
        ["ID", "USERNAME", "ENABLED", "EXPIRES", "CONNECTIONS", "BOUQUETS", "TRIAL"],
        (
            [
                u.id,
                u.username,
                _yes(u.enabled),
                format_time(u.expires_at),
                u.max_connections,
                format_ids(u.bouquet_ids),
                _yes(u.is_trial),
            ]
            for u in users
        ),
    )
    return 0


def _show(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        user = _get(db, args.username)
    if args.json:
        print_json(out, record_json(user, hide=HIDDEN))
        return 0
    print_fields(
        out,
        [
            ("id", user.id),
            ("username", user.username),
            ("password", "set"),
            ("enabled", _yes(user.enabled)),
            ("expires", format_time(user.expires_at)),
            ("max connections", user.max_connections),
            ("output formats", ",".join(user.allowed_output_formats) or "-"),
            ("networks", ", ".join(user.allowed_networks) or "any"),
            ("user agents", ", ".join(map(repr, user.allowed_user_agents)) or "any"),
            ("bouquets", format_ids(user.bouquet_ids) if user.bouquet_ids else "all"),
            ("trial", _yes(user.is_trial)),
            ("notes", user.notes),
            ("created", format_time(user.created_at)),
        ],
    )
    return 0


def _set(args: argparse.Namespace, out: TextIO) -> int:
    changes = given_fields(args, User)
    password = _given_password(args)
    if password is not None:
        changes["password_hash"] = _hash(password)
    with closing(open_db(args)) as db:
        db.put_user(attrs.evolve(_get(db, args.username), **changes))
    out.write(f"updated user {args.username}\n")
    return 0


def _disable(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        db.put_user(attrs.evolve(_get(db, args.username), enabled=False))
    out.write(f"disabled user {args.username}\n")
    return 0


def _delete(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        if not db.delete_user(args.username):
            raise CommandError(f"no user {args.username!r}")
    out.write(f"deleted user {args.username}\n")
    return 0


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
