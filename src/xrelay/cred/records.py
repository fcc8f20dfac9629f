"""Lines described by field records, as Redis hashes and lines files hold
them (README.md, "Lines in Redis"): JSON-shaped values in, a ``User`` out."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any

from xrelay.models import OUTPUT_FORMATS, User


def user_from_record(username: str, record: Mapping[str, object]) -> User:
    """The line ``username`` described by ``record``, or ValueError naming
    the field at fault.  ``password_hash`` is required; every other field
    has the ``User`` default; fields xrelay does not know are ignored (a
    panel may keep its own beside them)."""
    fields: dict[str, Any] = {}
    for name, parse in _FIELDS.items():
        if name in record:
            try:
                fields[name] = parse(record[name])
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None
    if "password_hash" not in fields:
        raise ValueError("password_hash: missing")
    return User(id=0, username=username, **fields)


def decode_redis_hash(flat: list[str]) -> dict[str, object]:
    """HGETALL's ``[field, value, ...]`` as a record: each value is JSON
    (``2``, ``true``, ``["ts"]``) or, when it does not parse, a bare
    string; empty values count as absent."""
    record: dict[str, object] = {}
    for name, text in zip(flat[::2], flat[1::2], strict=True):
        if text == "":
            continue
        try:
            record[name] = json.loads(text)
        except ValueError:
            record[name] = text
    return record


def _password_hash(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("scrypt$"):
        raise ValueError("must be a hash made by xrelay (scrypt$...)")
    return value


def _flag(value: object) -> bool:
    if value not in (True, False):  # 1 and 0 compare equal to these
        raise ValueError(f"must be true/false or 1/0, not {value!r}")
    return bool(value)


def _whole(value: object, low: int = 0) -> int:
    if type(value) is not int or value < low:
        raise ValueError(f"must be a whole number >= {low}, not {value!r}")
    return value


def _time_or_none(value: object) -> int | None:
    return None if value is None else _whole(value)


def _list_of(item: Callable[[object], Any]) -> Callable[[object], tuple[Any, ...]]:
    def parse(value: object) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise ValueError(f"must be a JSON array, not {value!r}")
        return tuple(item(v) for v in value)

    return parse


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"items must be strings, not {value!r}")
    return value


def _format(value: object) -> str:
    if value not in OUTPUT_FORMATS:
        raise ValueError(f"formats are {', '.join(OUTPUT_FORMATS)}, not {value!r}")
    return str(value)


def _network(value: object) -> str:
    ipaddress.ip_network(_text(value), strict=False)  # ValueError if not one
    return str(value)


_FIELDS: dict[str, Callable[[object], Any]] = {
    "password_hash": _password_hash,
    "enabled": _flag,
    "expires_at": _time_or_none,
    "max_connections": lambda value: _whole(value, low=1),
    "allowed_output_formats": _list_of(_format),
    "allowed_networks": _list_of(_network),
    "allowed_user_agents": _list_of(_text),
    "bouquet_ids": _list_of(_whole),
    "is_trial": _flag,
    "created_at": _whole,
}
