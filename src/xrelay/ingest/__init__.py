"""Sources: where a channel's MPEG-TS comes from, chosen by URL."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from twisted.internet.interfaces import IReactorTime

from xrelay.ingest._file import FileLoopSource
from xrelay.interfaces import IChannelSource


class UnsupportedSource(ValueError):
    """The URL names a source kind xrelay cannot ingest."""


def make_source(url: str, clock: IReactorTime) -> IChannelSource:
    """Build the source a channel's URL names (not started yet)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FileLoopSource(unquote(parts.path), clock)
    raise UnsupportedSource(f"{url!r}: unsupported source scheme {parts.scheme!r}")


__all__ = ["FileLoopSource", "UnsupportedSource", "make_source"]
