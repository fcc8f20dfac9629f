"""Where the archive's file operations run: never on the reactor thread.

Writes go to one dedicated thread, in the order they were asked for (a
segment's appends, its completion and its deletion must not overtake each
other); reads (playback, loading the index) to a small pool of their own,
so a slow disk delays catch-up viewers, never the live channels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

P = ParamSpec("P")
T = TypeVar("T")


class Disk(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None:
        """Wait for the threads to finish what they were given."""

    def write(
        self, f: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        """Run ``f`` after every write asked for before it."""

    def read(
        self, f: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]: ...


class ThreadedDisk:
    def __init__(self, reactor: Any, readers: int = 2) -> None:
        self._reactor = reactor
        self._writer = ThreadPool(1, 1, "xrelay-archive-writer")
        self._readers = ThreadPool(1, readers, "xrelay-archive-reader")

    def start(self) -> None:
        self._writer.start()
        self._readers.start()

    def stop(self) -> None:
        self._writer.stop()
        self._readers.stop()

    def write(
        self, f: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        return deferToThreadPool(self._reactor, self._writer, f, *args, **kwargs)

    def read(
        self, f: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        return deferToThreadPool(self._reactor, self._readers, f, *args, **kwargs)


class InlineDisk:
    """Runs everything at once, on the caller's thread: for tests."""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def write(
        self, f: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        return maybeDeferred(f, *args, **kwargs)

    def read(
        self, f: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        return maybeDeferred(f, *args, **kwargs)
