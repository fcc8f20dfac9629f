"""Opening catalog files for serving, only inside the library directories.

A URL never names a file: it names a catalog id, whose record names the
file.  Even so the record's path is checked on every request: resolved
(symbolic links, ``..``) it must lie inside one of the library
directories, also resolved, and it must be a regular file.  What is opened
is the resolved path, so a link swapped in after the check is not
followed either (``O_NOFOLLOW`` on the last part).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

import attrs


@attrs.define
class OpenFile:
    fd: int
    size: int
    mtime_ns: int
    closed: bool = False

    @property
    def etag(self) -> str:
        return f'"{self.size:x}-{self.mtime_ns:x}"'

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


@attrs.frozen
class Refused:
    reason: str


class LibraryFiles:
    def __init__(self, directories: Iterable[str]) -> None:
        self.directories = tuple(os.path.abspath(d) for d in directories)

    def open(self, path: str) -> OpenFile | Refused:
        """The file at ``path``, opened for reading, or why not."""
        if not os.path.isabs(path):
            return Refused("not an absolute path")
        real = os.path.realpath(path)
        if not any(_inside(real, os.path.realpath(d)) for d in self.directories):
            return Refused("not inside a library directory")
        try:
            fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as e:
            return Refused(f"cannot open: {e.strerror}")
        try:
            info = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            return Refused(f"cannot open: {e.strerror}")
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return Refused("not a regular file")
        return OpenFile(fd, info.st_size, info.st_mtime_ns)


def _inside(real: str, directory: str) -> bool:
    return real.startswith(directory.rstrip(os.sep) + os.sep)
