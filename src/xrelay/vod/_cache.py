"""Remembered ffprobe results, so that rescanning unchanged files runs no
ffprobe at all.

A result is kept per path with the file's size and modification time; a
file that changed in either is probed again.  The cache is its own SQLite
file in the data directory (the catalog database holds what players see;
this is disposable: delete it and the next scan probes everything).
Blocking: the daemon calls it from a thread, one scan at a time.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from typing import Any

import attrs

from xrelay.vod._probe import MediaFacts, ProbeFailure, ProbeResult

_VERSION = 1
_COLUMNS = (
    "path, size, mtime_ns, error,"
    " duration_secs, video_codec, audio_codec, width, height, bitrate"
)


@attrs.frozen
class Cached:
    size: int
    mtime_ns: int
    result: ProbeResult


class ProbeCache:
    def __init__(self, path: str) -> None:
        self.path = path
        self._memory: dict[str, Cached] | None = None
        self._stamp: tuple[tuple[int, int], ...] = ()

    def _file_stamp(self) -> tuple[tuple[int, int], ...]:
        """Changes whenever the file (or its write-ahead log) is written."""
        stamps = []
        for path in (self.path, self.path + "-wal"):
            try:
                info = os.stat(path)
            except OSError:
                stamps.append((0, -1))
            else:
                stamps.append((info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def _connect(self) -> sqlite3.Connection:
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
                with conn:  # an older layout: it is only a cache, start over
                    conn.execute("DROP TABLE IF EXISTS probes")
                    conn.execute(
                        "CREATE TABLE probes (path TEXT PRIMARY KEY,"
                        " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
                        " error TEXT, duration_secs INTEGER, video_codec TEXT,"
                        " audio_codec TEXT, width INTEGER, height INTEGER,"
                        " bitrate INTEGER)"
                    )
                    conn.execute(f"PRAGMA user_version = {_VERSION}")
        except BaseException:
            conn.close()
            raise
        return conn

    def load(self) -> dict[str, Cached]:
        """Every entry, path -> ``Cached`` (do not change the dict)."""
        stamp = self._file_stamp()
        if self._memory is None or stamp != self._stamp:
            with closing(self._connect()) as conn:
                rows = conn.execute(f"SELECT {_COLUMNS} FROM probes").fetchall()
            self._memory = {row[0]: _cached(row) for row in rows}
            self._stamp = self._file_stamp()
        return self._memory

    def update(
        self,
        results: Iterable[tuple[str, int, int, ProbeResult]],
        forget: Iterable[str],
    ) -> None:
        """Keep ``(path, size, mtime_ns, result)`` (lasting results only)
        and drop the entries of ``forget``, in one transaction."""
        rows = [
            _row(path, size, mtime_ns, result)
            for path, size, mtime_ns, result in results
            if not isinstance(result, ProbeFailure) or result.lasting
        ]
        gone = list(forget)
        if not rows and not gone:
            return
        in_step = self._memory is not None and self._file_stamp() == self._stamp
        with closing(self._connect()) as conn, conn:
            conn.executemany("DELETE FROM probes WHERE path = ?", [(p,) for p in gone])
            conn.executemany(
                f"INSERT OR REPLACE INTO probes ({_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        if in_step and self._memory is not None:  # the memory stays in step
            for path in gone:
                self._memory.pop(path, None)
            for row in rows:
                self._memory[row[0]] = _cached(row)
            self._stamp = self._file_stamp()


def _row(path: str, size: int, mtime_ns: int, result: ProbeResult) -> tuple[Any, ...]:
    if isinstance(result, ProbeFailure):
        return (path, size, mtime_ns, result.reason, None, None, None, None, None, None)
    return (
        path,
        size,
        mtime_ns,
        None,
        result.duration_secs,
        result.video_codec,
        result.audio_codec,
        result.width,
        result.height,
        result.bitrate,
    )


def _cached(row: tuple[Any, ...]) -> Cached:
    _, size, mtime_ns, error, duration, video, audio, width, height, bitrate = row
    if error is not None:
        return Cached(size, mtime_ns, ProbeFailure(error))
    return Cached(
        size, mtime_ns, MediaFacts(duration, video, audio, width, height, bitrate)
    )
