"""Sources: where a channel's MPEG-TS comes from, chosen by URL.

- ``file:///path/x.ts``: the file looped in real time, paced by its PCR;
- ``udp://@239.1.1.1:5000`` (any-source multicast), ``udp://SRC@239.1.1.1:5000``
  (source-specific), ``udp://@:5000`` (unicast); ``rtp://`` likewise;
- ``tcp://@127.0.0.1:9000`` listens for an encoder pushing TS,
  ``tcp://host:9000`` connects and pulls;
- ``http://…``, ``https://…``: HTTP(S) pull, TLS verified, reconnecting;
- ``exec:COMMAND ARGS…``: a child process (ffmpeg, a tuner tool) writing TS
  to stdout;
- ``transcode:ID?profile=NAME``: another channel re-encoded (xrelay.transcode,
  passed in ``schemes``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from xrelay.ingest import _exec, _http, _tcp, _udp
from xrelay.ingest._errors import UnsupportedSource
from xrelay.ingest._exec import ExecSource
from xrelay.ingest._failover import FailoverSettings, FailoverSource
from xrelay.ingest._file import FileLoopSource
from xrelay.ingest._redact import display_url
from xrelay.interfaces import IChannelSource


def make_source(
    url: str,
    reactor: Any,
    schemes: Mapping[str, Callable[[str], IChannelSource]] | None = None,
) -> IChannelSource:
    """Build the source a channel's URL names (not started yet).

    ``reactor`` provides IReactorTime, and IReactorTCP / IReactorUDP /
    IReactorProcess for the network and process sources.  ``schemes`` adds
    sources made elsewhere, by URL scheme (``transcode:``, made by
    xrelay.transcode).  Raises UnsupportedSource (naming the URL and the
    reason) for a bad URL.
    """
    make = (schemes or {}).get(url.partition(":")[0])
    if make is not None:
        return make(url)
    if url.startswith("exec:"):
        return _exec.source_from_url(url, reactor)
    parts = urlsplit(url)
    match parts.scheme:
        case "file":
            return FileLoopSource(unquote(parts.path), reactor)
        case "udp" | "rtp":
            return _udp.source_from_url(url, reactor)
        case "tcp":
            return _tcp.source_from_url(url, reactor)
        case "http" | "https":
            return _http.source_from_url(url, reactor)
    raise UnsupportedSource(f"{url!r}: unsupported source scheme {parts.scheme!r}")


__all__ = [
    "ExecSource",
    "FailoverSettings",
    "FailoverSource",
    "FileLoopSource",
    "UnsupportedSource",
    "display_url",
    "make_source",
]
