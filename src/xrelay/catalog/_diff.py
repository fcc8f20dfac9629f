"""A readable difference between two catalogs.  Pure."""

from __future__ import annotations

from typing import Any

import attrs

from xrelay.catalog._tables import TABLES
from xrelay.models import Catalog


def diff_catalogs(old: Catalog, new: Catalog) -> list[str]:
    """One line per added (``+``), removed (``-``) or changed (``~``) record,
    table by table, in key order.  Password hashes are never shown."""
    lines: list[str] = []
    for table in TABLES:
        before = {table.key(r): r for r in getattr(old, table.name)}
        after = {table.key(r): r for r in getattr(new, table.name)}
        for key in sorted(before.keys() | after.keys()):
            was, now = before.get(key), after.get(key)
            if was is None:
                lines.append(f"+ {table.entity} {table.label(now)}")
            elif now is None:
                lines.append(f"- {table.entity} {table.label(was)}")
            elif was != now:
                changes = ", ".join(_changes(was, now))
                lines.append(f"~ {table.entity} {table.label(was)}: {changes}")
    return lines


def _changes(was: Any, now: Any) -> list[str]:
    changes = []
    for field in attrs.fields(type(was)):
        a, b = getattr(was, field.name), getattr(now, field.name)
        if a == b:
            continue
        if field.name == "password_hash":
            changes.append("password changed")
        else:
            changes.append(f"{field.name} {_show(a)} -> {_show(b)}")
    return changes


def _show(value: object) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)
