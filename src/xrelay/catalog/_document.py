"""The catalog as a TOML document ("config as code").  Pure.

A document is ``version = 1`` plus one array of tables per catalog table
(``[[categories]]``, ``[[channels]]``, ...).  Each row holds the record's
fields by name; a field equal to its default may be left out (``export``
leaves those out), so every ``None`` is written by omission.  Writing then
reading gives back exactly the same `Catalog`.

The document holds every user's password hash: treat it as a secret.  A user
row may give ``password = "plain"`` instead of ``password_hash``; it is
hashed when the document is read.
"""

from __future__ import annotations

import ipaddress
import tomllib
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs
import tomli_w

from xrelay.catalog._m3u import check_source_url
from xrelay.catalog._tables import TABLES, Table
from xrelay.cred.passwords import CREDENTIAL_RULE, check_credential_charset
from xrelay.models import (
    CATEGORY_KINDS,
    OUTPUT_FORMATS,
    Catalog,
    Category,
    Channel,
    User,
)

VERSION = 1

# (user id, plaintext password) -> the hash to store
PasswordHasher = Callable[[int, str], str]

_HEADER = (
    "# xrelay catalog.  It holds password hashes: keep it private.\n"
    "# Make a store hold exactly this with `xrelay apply FILE`.\n\n"
)
_INT64 = range(-(2**63), 2**63)


# Reports (field, reason) for one row.
_FieldError = Callable[[str, str], None]


class DocumentError(Exception):
    """A document that cannot be applied; ``errors`` lists every reason as
    ``FILE: table[index].field: reason`` (``index`` counts that table's rows
    in the document from 0)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def dump_document(catalog: Catalog) -> str:
    """The whole catalog, one ``[[table]]`` block per record."""
    parts = [_HEADER, tomli_w.dumps({"version": VERSION})]
    for table in TABLES:
        for record in getattr(catalog, table.name):
            parts.append(f"\n[[{table.name}]]\n{tomli_w.dumps(_dump_row(record))}")
    return "".join(parts)


def _dump_row(record: Any) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for field in attrs.fields(type(record)):
        value = getattr(record, field.name)
        if field.default is attrs.NOTHING or value != field.default:
            row[field.name] = list(value) if isinstance(value, tuple) else value
    return row


def parse_document(text: str, filename: str, hash_password: PasswordHasher) -> Catalog:
    """Read and check a whole document; raise `DocumentError` with every
    problem found.  Passwords are hashed only once everything else is
    right."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DocumentError([f"{filename}: invalid TOML: {e}"]) from None
    errors = _Errors(filename)
    version = document.pop("version", None)
    if version is None:
        errors.add("version", f"required (this xrelay reads version {VERSION})")
    elif version != VERSION:
        errors.add("version", f"{version!r} is not {VERSION}, the version I read")
    known = [table.name for table in TABLES]
    for name in document:
        if name not in known:
            errors.add(name, f"unknown table (known: {', '.join(known)})")
    records, passwords = _parse_tables(document, errors)
    _check(records, _targets(document), errors)
    if errors.messages:
        raise DocumentError(errors.messages)
    for index, password in passwords.items():
        user = records["users"][index]
        records["users"][index] = attrs.evolve(
            user, password_hash=hash_password(user.id, password)
        )
    return Catalog(
        **{
            table.name: tuple(sorted(records[table.name].values(), key=table.key))
            for table in TABLES
        }
    )


# table -> {row index -> record}, for the rows that make a record
_Records = dict[str, dict[int, Any]]


def _parse_tables(
    document: dict[str, Any], errors: _Errors
) -> tuple[_Records, dict[int, str]]:
    """The records, and the plaintext passwords by index in ``users``."""
    records: _Records = {}
    passwords: dict[int, str] = {}
    for table in TABLES:
        records[table.name] = {}
        rows = document.get(table.name, [])
        if not isinstance(rows, list):
            errors.add(table.name, "expected an array of tables ([[...]])")
            continue
        for index, row in enumerate(rows):
            where = f"{table.name}[{index}]"
            if not isinstance(row, dict):
                errors.add(where, "expected a table")
                continue
            if table.record is User and "password" in row:
                password = _take_password(row, errors.at(where))
                if password is not None:
                    passwords[index] = password
            record = _parse_row(row, table, errors.at(where))
            if record is not None:
                records[table.name][index] = record
    return records, passwords


@attrs.define
class _Errors:
    filename: str
    messages: list[str] = attrs.Factory(list)

    def add(self, where: str, reason: str) -> None:
        self.messages.append(f"{self.filename}: {where}: {reason}")

    def at(self, where: str) -> _FieldError:
        """Report ``(field, reason)`` for the row at ``where``."""
        return lambda field, reason: self.add(f"{where}.{field}", reason)


def _take_password(row: dict[str, Any], error: _FieldError) -> str | None:
    """Pop the ``password`` from a user row, leaving a placeholder hash."""
    password = row.pop("password")
    if "password_hash" in row:
        error("password", "give password or password_hash, not both")
        return None
    row["password_hash"] = "(hashed once the document is checked)"
    if not isinstance(password, str):
        error("password", f"expected a string, got {_toml_type(password)}")
        return None
    if not check_credential_charset(password):
        error("password", f"must be {CREDENTIAL_RULE}")
        return None
    return password


def _parse_row(row: dict[str, Any], table: Table, error: _FieldError) -> Any:
    """The record for ``row``, or None after reporting why not."""
    hints = typing.get_type_hints(table.record)
    fields = {f.name: f for f in attrs.fields(table.record)}
    values: dict[str, Any] = {}
    ok = True
    for name in row:
        if name not in fields:
            error(name, "unknown field")
            ok = False
    for name, field in fields.items():
        if name not in row:
            if field.default is attrs.NOTHING:
                error(name, "required")
                ok = False
            continue
        reason = _type_error(row[name], hints[name])
        if reason is not None:
            error(name, reason)
            ok = False
        else:
            value = row[name]
            values[name] = tuple(value) if isinstance(value, list) else value
    return table.record(**values) if ok else None


def _type_error(value: object, hint: Any) -> str | None:
    if isinstance(hint, types.UnionType):  # `int | None`: None is omission
        (hint,) = (h for h in typing.get_args(hint) if h is not type(None))
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list):
            return f"expected an array, got {_toml_type(value)}"
        item_hint = typing.get_args(hint)[0]
        for index, item in enumerate(value):
            reason = _type_error(item, item_hint)
            if reason is not None:
                return f"item {index}: {reason}"
        return None
    if type(value) is not hint:
        return f"expected {_toml_type(hint())}, got {_toml_type(value)}"
    if hint is int and value not in _INT64:
        return "integer out of range"
    return None


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", str: "a string", float: "a float"}
    names.update({list: "an array", dict: "a table"})
    return names.get(type(value), "a date or time")


# Field groups whose values must be unique within their table.
_UNIQUE = {
    "categories": (("id",),),
    "channels": (("id",), ("number",)),
    "movies": (("id",),),
    "series": (("id",),),
    "seasons": (("series_id", "number"),),
    "episodes": (("id",),),
    "bouquets": (("id",),),
    "users": (("id",), ("username",)),
    "epg_sources": (("id",),),
}
# Text fields that must not be empty.
_TEXT = {
    "categories": ("name",),
    "channels": ("name",),
    "movies": ("name", "source"),
    "series": ("name",),
    "episodes": ("source",),
    "bouquets": ("name",),
    "users": ("username", "password_hash"),
    "epg_sources": ("name", "url"),
}
# field -> (table it refers to, category kind when it is a category)
_REFERENCES: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "channels": (("category_id", "categories", "live"),),
    "movies": (("category_id", "categories", "vod"),),
    "series": (("category_id", "categories", "series"),),
    "seasons": (("series_id", "series", None),),
    "episodes": (("series_id", "series", None),),
    "bouquets": (
        ("channel_ids", "channels", None),
        ("movie_ids", "movies", None),
        ("series_ids", "series", None),
    ),
    "users": (("bouquet_ids", "bouquets", None),),
}


def _targets(document: dict[str, Any]) -> dict[tuple[str, str | None], set[Any]]:
    """(table, category kind or None) -> the ids its rows declare, whether or
    not the rows are right, so that one bad row does not also break every
    reference to it."""
    targets: dict[tuple[str, str | None], set[Any]] = {}
    for table in TABLES:
        rows = document.get(table.name)
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, dict) and isinstance(row.get("id"), int):
                targets.setdefault((table.name, None), set()).add(row["id"])
                kind = row.get("kind") if table.name == "categories" else None
                if isinstance(kind, str):
                    targets.setdefault((table.name, kind), set()).add(row["id"])
    return targets


def _check(
    records: _Records,
    targets: dict[tuple[str, str | None], set[Any]],
    errors: _Errors,
) -> None:
    """What each field's type alone does not check: ids, unique values,
    empty text, references, and the few fields with a fixed set of values."""
    for table in TABLES:
        seen: dict[tuple[Any, ...], int] = {}
        for index, record in records[table.name].items():
            error = errors.at(f"{table.name}[{index}]")
            if getattr(record, "id", 1) < 1:
                error("id", "must be 1 or more")
            for group in _UNIQUE[table.name]:
                values = (group, *(getattr(record, f) for f in group))
                if values in seen:
                    same = " and ".join(group)
                    error(group[-1], f"same {same} as {table.name}[{seen[values]}]")
                seen.setdefault(values, index)
            for field in _TEXT.get(table.name, ()):
                if not getattr(record, field).strip():
                    error(field, "must not be empty")
            for field, target, kind in _REFERENCES.get(table.name, ()):
                ref = getattr(record, field)
                wanted = ref if isinstance(ref, tuple) else (ref,)
                known = targets.get((target, kind), set())
                missing = [i for i in wanted if i is not None and i not in known]
                if missing:
                    what = f"{kind} category" if kind else target
                    error(field, f"no {what} with id {', '.join(map(str, missing))}")
            _check_values(record, error)


def _check_values(record: Any, error: _FieldError) -> None:
    if isinstance(record, Category) and record.kind not in CATEGORY_KINDS:
        error("kind", f"{record.kind!r} is not one of {', '.join(CATEGORY_KINDS)}")
    if isinstance(record, Channel):
        if record.archive_days < 0:
            error("archive_days", f"must be 0 or more, not {record.archive_days}")
        for i, source in enumerate(record.sources):
            reason = check_source_url(source)
            if reason is not None:
                error("sources", f"item {i}: {reason}")
    if isinstance(record, User):
        if record.username and not check_credential_charset(record.username):
            error("username", f"must be {CREDENTIAL_RULE}")
        unknown = sorted(set(record.allowed_output_formats) - set(OUTPUT_FORMATS))
        if unknown:
            error(
                "allowed_output_formats",
                f"{', '.join(unknown)} not among {', '.join(OUTPUT_FORMATS)}",
            )
        for i, network in enumerate(record.allowed_networks):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                error("allowed_networks", f"item {i}: {network!r} is not a network")
