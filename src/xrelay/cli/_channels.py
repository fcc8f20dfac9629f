"""``xrelay channels``: live channels."""

from __future__ import annotations

import argparse
import time
from argparse import ArgumentTypeError
from contextlib import closing
from typing import TextIO

import attrs

from xrelay.catalog import check_source_url
from xrelay.cli._common import (
    CommandError,
    SubParsers,
    add_json_option,
    format_time,
    given_fields,
    open_db,
    optional_id,
    positive_int,
    print_fields,
    print_json,
    print_table,
    record_json,
)
from xrelay.models import Channel
from xrelay.store import CatalogDB

SUPPRESS = argparse.SUPPRESS


def register(sub: SubParsers) -> None:
    channels = sub.add_parser("channels", help="live channels").add_subparsers(
        metavar="ACTION", required=True
    )

    add = channels.add_parser("add", help="add a channel")
    add.add_argument("name")
    add.add_argument("--number", type=positive_int, required=True, metavar="N")
    add.add_argument(
        "--id",
        type=positive_int,
        default=SUPPRESS,
        metavar="N",
        help="the stream id players see (default: the next free one)",
    )
    _channel_options(add)
    add.set_defaults(func=_add)

    listing = channels.add_parser("list", help="list the channels")
    add_json_option(listing)
    listing.set_defaults(func=_list)

    show = channels.add_parser("show", help="show one channel")
    show.add_argument("id", type=positive_int)
    add_json_option(show)
    show.set_defaults(func=_show)

    change = channels.add_parser(
        "set",
        help="change a channel",
        description="Change a channel. --source replaces the whole list.",
    )
    change.add_argument("id", type=positive_int)
    change.add_argument("--name", default=SUPPRESS)
    change.add_argument("--number", type=positive_int, default=SUPPRESS, metavar="N")
    _channel_options(change)
    change.set_defaults(func=_set)

    delete = channels.add_parser(
        "delete", help="delete a channel (and take it out of its bouquets)"
    )
    delete.add_argument("id", type=positive_int)
    delete.set_defaults(func=_delete)


def _channel_options(parser: argparse.ArgumentParser) -> None:
    # dest is the Channel field; SUPPRESS keeps options not given out of args.
    parser.add_argument(
        "--category",
        dest="category_id",
        type=optional_id,
        default=SUPPRESS,
        metavar="ID|none",
        help="a live category",
    )
    parser.add_argument(
        "--source",
        dest="sources",
        nargs="*",
        action="extend",
        default=SUPPRESS,
        type=source_url,
        metavar="URL",
        help="where the stream comes from; later ones are fallbacks, in order",
    )
    parser.add_argument("--logo", default=SUPPRESS, metavar="URL")
    parser.add_argument("--epg-id", dest="epg_id", default=SUPPRESS, metavar="ID")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--always-on",
        dest="on_demand",
        action="store_const",
        const=False,
        default=SUPPRESS,
        help="keep the source running without viewers",
    )
    mode.add_argument(
        "--on-demand",
        dest="on_demand",
        action="store_const",
        const=True,
        default=SUPPRESS,
        help="run the source only while someone watches (the default)",
    )
    parser.add_argument(
        "--archive-days",
        dest="archive_days",
        type=_days,
        default=SUPPRESS,
        metavar="N",
        help="record N days of catch-up (the channel then runs always); 0: none",
    )


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 3650:
        raise argparse.ArgumentTypeError(f"not a number of days (0-3650): {text!r}")
    return value


def _get(db: CatalogDB, channel_id: int) -> Channel:
    channel = db.get_channel(channel_id)
    if channel is None:
        raise CommandError(f"no channel {channel_id}")
    return channel


def _add(args: argparse.Namespace, out: TextIO) -> int:
    new = Channel(**{"id": 0, "added": int(time.time()), **given_fields(args, Channel)})
    with closing(open_db(args)) as db:
        if new.id and db.get_channel(new.id) is not None:
            raise CommandError(f"channel {new.id} already exists")
        channel = db.put_channel(new)
    out.write(f"added channel {channel.id}: {channel.name}\n")
    return 0


def _list(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        channels = db.list_channels()
    if args.json:
        print_json(out, [record_json(c) for c in channels])
        return 0
    print_table(
        out,
        ["ID", "NUMBER", "NAME", "CATEGORY", "SOURCES", "MODE"],
        (
            [
                c.id,
                c.number,
                c.name,
                "-" if c.category_id is None else c.category_id,
                len(c.sources),
                _mode(c),
            ]
            for c in channels
        ),
    )
    return 0


def _show(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        channel = _get(db, args.id)
    if args.json:
        print_json(out, record_json(channel))
        return 0
    print_fields(
        out,
        [
            ("id", channel.id),
            ("number", channel.number),
            ("name", channel.name),
            ("category", "-" if channel.category_id is None else channel.category_id),
            ("logo", channel.logo),
            ("epg id", channel.epg_id),
            ("mode", _mode(channel)),
            (
                "archive",
                f"{channel.archive_days} days" if channel.archive_days else "-",
            ),
            ("added", format_time(channel.added)),
            ("sources", len(channel.sources)),
        ],
    )
    for n, source in enumerate(channel.sources, start=1):
        out.write(f"  {n}. {source}\n")
    return 0


def _set(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        channel = _get(db, args.id)
        db.put_channel(attrs.evolve(channel, **given_fields(args, Channel)))
    out.write(f"updated channel {args.id}\n")
    return 0


def _delete(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        if not db.delete_channel(args.id):
            raise CommandError(f"no channel {args.id}")
    out.write(f"deleted channel {args.id}\n")
    return 0


def _mode(channel: Channel) -> str:
    return "on demand" if channel.on_demand else "always on"


def source_url(url: str) -> str:
    """A --source value, checked as ``xrelay apply`` checks it."""
    problem = check_source_url(url)
    if problem is not None:
        raise ArgumentTypeError(f"{url!r}: {problem}")
    return url
