"""Fetching a playlist over http(s) with treq, for the command line."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, TimeoutError
from twisted.python.failure import Failure


class FetchError(Exception):
    """The playlist could not be fetched; the message says why."""


def redact_url(url: str) -> str:
    """``url`` without credentials or query, for messages: playlist URLs
    often carry a username and password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


async def fetch_playlist(http: Any, url: str) -> bytes:
    """The body of a GET of ``url``; ``http`` is the treq module (TLS
    certificates are verified) or a ``treq.testing.StubTreq``."""
    response = await http.get(url)
    if response.code != 200:
        phrase = response.phrase.decode("ascii", "replace")
        raise FetchError(f"HTTP {response.code} {phrase} from {redact_url(url)}")
    body: bytes = await response.content()
    return body


def fetch_blocking(url: str, timeout: float) -> bytes:
    """Run the global reactor until ``url`` is fetched or ``timeout``
    seconds have passed.  A reactor runs once per process: this is for the
    command line only."""
    import treq
    from twisted.internet import reactor

    outcome: list[bytes | Failure] = []

    def start() -> None:
        d = Deferred.fromCoroutine(fetch_playlist(treq, url))
        d.addTimeout(timeout, reactor)
        d.addBoth(outcome.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    (result,) = outcome
    if isinstance(result, bytes):
        return result
    if isinstance(result.value, FetchError):
        raise result.value
    if isinstance(result.value, TimeoutError):
        raise FetchError(f"no answer from {redact_url(url)} in {timeout:g} s")
    raise FetchError(f"cannot fetch {redact_url(url)}: {result.getErrorMessage()}")
