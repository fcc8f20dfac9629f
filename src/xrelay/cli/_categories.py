"""``xrelay categories``: the groups of live channels, movies and series."""

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
    given_fields,
    open_db,
    positive_int,
    print_json,
    print_table,
    record_json,
)
from xrelay.models import CATEGORY_KINDS, Category

SUPPRESS = argparse.SUPPRESS


def register(sub: SubParsers) -> None:
    categories = sub.add_parser(
        "categories", help="categories of channels, movies and series"
    ).add_subparsers(metavar="ACTION", required=True)

    add = categories.add_parser("add", help="add a category")
    add.add_argument("kind", choices=CATEGORY_KINDS)
    add.add_argument("name")
    add.add_argument(
        "--id",
        type=positive_int,
        default=SUPPRESS,
        metavar="N",
        help="the category id players see (default: the next free one)",
    )
    _category_options(add)
    add.set_defaults(func=_add)

    listing = categories.add_parser("list", help="list the categories")
    listing.add_argument("--kind", choices=CATEGORY_KINDS)
    add_json_option(listing)
    listing.set_defaults(func=_list)

    change = categories.add_parser("set", help="change a category")
    change.add_argument("id", type=positive_int)
    change.add_argument("--kind", choices=CATEGORY_KINDS, default=SUPPRESS)
    change.add_argument("--name", default=SUPPRESS)
    _category_options(change)
    change.set_defaults(func=_set)

    delete = categories.add_parser(
        "delete", help="delete a category (what was in it is left uncategorised)"
    )
    delete.add_argument("id", type=positive_int)
    delete.set_defaults(func=_delete)


def _category_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sort",
        dest="sort_order",
        type=int,
        default=SUPPRESS,
        metavar="N",
        help="position among its kind (default 0)",
    )


def _add(args: argparse.Namespace, out: TextIO) -> int:
    new = Category(**{"id": 0, **given_fields(args, Category)})
    with closing(open_db(args)) as db:
        if new.id and any(c.id == new.id for c in db.list_categories()):
            raise CommandError(f"category {new.id} already exists")
        category = db.put_category(new)
    out.write(f"added {category.kind} category {category.id}: {category.name}\n")
    return 0


def _list(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        categories = db.list_categories(args.kind)
    if args.json:
        print_json(out, [record_json(c) for c in categories])
        return 0
    print_table(
        out,
        ["ID", "KIND", "NAME", "SORT"],
        ([c.id, c.kind, c.name, c.sort_order] for c in categories),
    )
    return 0


def _set(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        category = find(db.list_categories(), args.id, "category")
        db.put_category(attrs.evolve(category, **given_fields(args, Category)))
    out.write(f"updated category {args.id}\n")
    return 0


def _delete(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        if not db.delete_category(args.id):
            raise CommandError(f"no category {args.id}")
    out.write(f"deleted category {args.id}\n")
    return 0
