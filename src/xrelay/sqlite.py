"""SQLite plumbing the catalog store and the guide database share."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Cursor(Protocol):
    """What xrelay's SQL functions need of a DB-API cursor."""

    @property
    def lastrowid(self) -> int | None: ...

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> object: ...

    def executemany(
        self, sql: str, parameters: Iterable[Sequence[Any]], /
    ) -> object: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


def run_transaction(
    conn: sqlite3.Connection,
    function: Callable[Concatenate[Any, P], R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """``function(cursor, ...)`` in the caller's thread, committed when it
    returns and rolled back when it raises (as adbapi's ``runInteraction``)."""
    cursor = conn.cursor()
    try:
        result = function(cursor, *args, **kwargs)
        cursor.close()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return result


def migrate(
    conn: sqlite3.Connection,
    migrations: Sequence[str],
    what: str,
    error: Callable[[str], Exception],
) -> None:
    """Apply the scripts the file has not had yet, in one transaction.

    A file whose version is newer than ``migrations`` knows was written by
    a later xrelay: refused with ``error``, the message naming ``what``.
    """
    if _version(conn) == len(migrations):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn)  # again: another process may have migrated
        if version > len(migrations):
            raise error(
                f"{what}: schema version {version} is newer than this "
                f"xrelay knows ({len(migrations)}); upgrade xrelay"
            )
        for number, script in enumerate(migrations[version:], start=version + 1):
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` (one per ``;``-terminated line group):
    ``executescript`` would commit our transaction before running it."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"unterminated SQL statement: {pending.strip()!r}")
