"""Running ``_sql`` functions: in adbapi threads for the daemon, inline for
the admin command and tests.

The daemon keeps two pools on the file: one writer thread, so refreshes
and state updates queue instead of fighting over SQLite's lock, and
reader threads, so players' guide requests are answered from the last
committed guide while a refresh is being written (WAL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from twisted.enterprise.adbapi import ConnectionPool
from twisted.internet.defer import Deferred, fail, succeed

from xrelay.epg import _sql
from xrelay.sqlite import run_transaction

P = ParamSpec("P")
R = TypeVar("R")

Interaction = Callable[Concatenate[Any, P], R]


class GuideDatabase(Protocol):
    def read(
        self, function: Interaction[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[R]: ...

    def write(
        self, function: Interaction[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[R]: ...

    def start(self) -> None: ...

    def close(self) -> Deferred[None]: ...


def _prepare_reader(conn: sqlite3.Connection) -> None:
    """Readers open once the writer has prepared the file (schema, WAL)."""
    conn.isolation_level = None
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA query_only = 1")


class PooledDatabase:
    """The daemon's: nothing opens before ``start()``.  Reads made before the
    writer has opened (and migrated) the file wait for it."""

    def __init__(self, path: str, reactor: Any, readers: int = 2) -> None:
        self.path = path
        self._reactor = reactor
        self._readers = readers
        self._writer: ConnectionPool | None = None
        self._reader: ConnectionPool | None = None
        self._waiting: list[Deferred[None]] | None = []  # None: the file is open

    def start(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        common = {"check_same_thread": False, "cp_reactor": self._reactor}
        self._writer = ConnectionPool(  # type: ignore[no-untyped-call]
            "sqlite3",
            self.path,
            cp_min=1,
            cp_max=1,
            cp_openfun=_sql.prepare,
            **common,
        )
        self._reader = ConnectionPool(  # type: ignore[no-untyped-call]
            "sqlite3",
            self.path,
            cp_min=1,
            cp_max=self._readers,
            cp_openfun=_prepare_reader,
            **common,
        )
        opened: Deferred[None] = self._writer.runWithConnection(  # type: ignore[no-untyped-call]
            lambda connection: None
        )
        opened.addBoth(self._opened)

    def _opened(self, result: object) -> None:
        """Release the waiting reads; if opening failed, their reads fail
        (with "no such table") and the writes with the reason."""
        waiting, self._waiting = self._waiting or [], None
        for waiter in waiting:
            waiter.callback(None)

    def read(
        self, function: Interaction[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[R]:
        if self._waiting is None:
            return self._run(self._reader, function, *args, **kwargs)
        waiter: Deferred[None] = Deferred()
        self._waiting.append(waiter)
        return waiter.addCallback(
            lambda _: self._run(self._reader, function, *args, **kwargs)
        )

    def write(
        self, function: Interaction[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[R]:
        return self._run(self._writer, function, *args, **kwargs)

    def _run(
        self,
        pool: ConnectionPool | None,
        function: Interaction[P, R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Deferred[R]:
        if pool is None:
            return fail(sqlite3.OperationalError(f"{self.path}: not open"))
        d: Deferred[R] = pool.runInteraction(function, *args, **kwargs)  # type: ignore[no-untyped-call]
        return d

    def close(self) -> Deferred[None]:
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        if writer is None or reader is None:
            return succeed(None)

        async def checkpoint_and_close() -> None:
            try:
                await self._run(writer, _sql.checkpoint)
            except sqlite3.Error:
                pass  # never opened: whoever used it has seen the error
            finally:
                writer.close()  # type: ignore[no-untyped-call]
                reader.close()  # type: ignore[no-untyped-call]

        return Deferred.fromCoroutine(checkpoint_and_close())


class InlineDatabase:
    """One connection used in the caller's thread; Deferreds fire at once.
    For the admin command, tests, and benchmarks."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path)
        _sql.prepare(self._conn)

    def start(self) -> None:
        pass

    def run(self, function: Interaction[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return run_transaction(self._conn, function, *args, **kwargs)

    def read(
        self, function: Interaction[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[R]:
        try:
            return succeed(self.run(function, *args, **kwargs))
        except Exception:
            return fail()

    write = read

    def close(self) -> Deferred[None]:
        self._conn.close()
        return succeed(None)
