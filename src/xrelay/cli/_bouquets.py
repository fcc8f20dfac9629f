"""``xrelay bouquets``: packages of content that lines subscribe to."""

from __future__ import annotations

import argparse
from contextlib import closing
from typing import TextIO

import attrs

from xrelay.cli._common import (
    CommandError,
    SubParsers,
    add_json_option,
    find,
    format_ids,
    given_fields,
    open_db,
    positive_int,
    print_fields,
    print_json,
    print_table,
    record_json,
)
from xrelay.models import Bouquet

SUPPRESS = argparse.SUPPRESS


def register(sub: SubParsers) -> None:
    bouquets = sub.add_parser(
        "bouquets", help="packages of channels, movies and series"
    ).add_subparsers(metavar="ACTION", required=True)

    add = bouquets.add_parser("add", help="add a bouquet")
    add.add_argument("name")
    _member_options(add)
    add.set_defaults(func=_add)

    listing = bouquets.add_parser("list", help="list the bouquets")
    add_json_option(listing)
    listing.set_defaults(func=_list)

    show = bouquets.add_parser("show", help="show one bouquet")
    show.add_argument("id", type=positive_int)
    add_json_option(show)
    show.set_defaults(func=_show)

    change = bouquets.add_parser(
        "set",
        help="change a bouquet",
        description="Change a bouquet. A list option replaces the whole list; "
        "give it with no values to empty the list.",
    )
    change.add_argument("id", type=positive_int)
    change.add_argument("--name", default=SUPPRESS)
    _member_options(change)
    change.set_defaults(func=_set)

    delete = bouquets.add_parser(
        "delete", help="delete a bouquet (refused while a line uses it)"
    )
    delete.add_argument("id", type=positive_int)
    delete.set_defaults(func=_delete)


def _member_options(parser: argparse.ArgumentParser) -> None:
    for flag, field, what in (
        ("--channel", "channel_ids", "live channels"),
        ("--movie", "movie_ids", "movies"),
        ("--series", "series_ids", "series"),
    ):
        parser.add_argument(
            flag,
            dest=field,
            type=positive_int,
            nargs="*",
            action="extend",
            default=SUPPRESS,
            metavar="ID",
            help=f"{what} in the bouquet, in order",
        )


def _add(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        bouquet = db.put_bouquet(Bouquet(**{"id": 0, **given_fields(args, Bouquet)}))
    out.write(f"added bouquet {bouquet.id}: {bouquet.name}\n")
    return 0


def _list(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        bouquets = db.list_bouquets()
    if args.json:
        print_json(out, [record_json(b) for b in bouquets])
        return 0
    print_table(
        out,
        ["ID", "NAME", "CHANNELS", "MOVIES", "SERIES"],
        (
            [b.id, b.name, len(b.channel_ids), len(b.movie_ids), len(b.series_ids)]
            for b in bouquets
        ),
    )
    return 0


def _show(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        bouquet = find(db.list_bouquets(), args.id, "bouquet")
    if args.json:
        print_json(out, record_json(bouquet))
        return 0
    print_fields(
        out,
        [
            ("id", bouquet.id),
            ("name", bouquet.name),
            ("channels", format_ids(bouquet.channel_ids)),
            ("movies", format_ids(bouquet.movie_ids)),
            ("series", format_ids(bouquet.series_ids)),
        ],
    )
    return 0


def _set(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        bouquet = find(db.list_bouquets(), args.id, "bouquet")
        db.put_bouquet(attrs.evolve(bouquet, **given_fields(args, Bouquet)))
    out.write(f"updated bouquet {args.id}\n")
    return 0


def _delete(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        if not db.delete_bouquet(args.id):
            raise CommandError(f"no bouquet {args.id}")
    out.write(f"deleted bouquet {args.id}\n")
    return 0
