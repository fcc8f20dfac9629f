"""Getting a guide source's body into a local file, conditionally.

``fetch_once`` speaks HTTP(S) through an injected treq ``HTTPClient``
(TLS certificates verified, redirects followed, gzip transfer coding
decoded) or a ``treq.testing.StubTreq``, and reads ``file://`` URLs in
place.  It sends the validators of the last good fetch (``If-None-Match``,
``If-Modified-Since``) and returns None when the source says nothing
changed.  The body streams to disk, never into memory: an answer slower
than ``timeout`` seconds, a body that stalls that long, or one over
``max_bytes`` is a ``FetchError``.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss

from xrelay import __version__
from xrelay.ingest import display_url

USER_AGENT = f"xrelay/{__version__}".encode()


class FetchError(Exception):
    """The source could not be fetched; the message says why (with the URL
    shown as ``display_url`` shows it: no credentials)."""


@attrs.frozen
class Validators:
    """What the last good fetch of ``url`` said about its body."""

    url: str
    etag: str = ""
    last_modified: str = ""


@attrs.frozen
class Fetched:
    """A new body at ``path`` (``temporary``: ours to delete)."""

    path: str
    temporary: bool
    validators: Validators


async def fetch_once(
    http: Any,
    clock: IReactorTime,
    url: str,
    previous: Validators | None,
    spool: str,
    timeout: float,
    max_bytes: int,
) -> Fetched | None:
    """The body of ``url`` in a file (``spool`` for downloads), or None when
    it is unchanged since ``previous``."""
    if previous is not None and previous.url != url:
        previous = None  # another URL: its validators mean nothing here
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        return _local(url, previous)
    if scheme not in ("http", "https"):
        raise FetchError(f"{display_url(url)}: unsupported scheme {scheme!r}")
    return await _download(http, clock, url, previous, spool, timeout, max_bytes)


def _local(url: str, previous: Validators | None) -> Fetched | None:
    path = unquote(urlsplit(url).path)
    try:
        info = os.stat(path)
    except OSError as e:
        raise FetchError(f"{url}: {e.strerror}") from None
    stamp = f"{info.st_mtime_ns}:{info.st_size}"
    if previous is not None and previous.etag == stamp:
        return None
    return Fetched(path, False, Validators(url, stamp))


async def _download(
    http: Any,
    clock: IReactorTime,
    url: str,
    previous: Validators | None,
    spool: str,
    timeout: float,
    max_bytes: int,
) -> Fetched | None:
    shown = display_url(url)
    headers = {b"User-Agent": [USER_AGENT]}
    if previous is not None and previous.etag:
        headers[b"If-None-Match"] = [previous.etag.encode("latin-1")]
    if previous is not None and previous.last_modified:
        headers[b"If-Modified-Since"] = [previous.last_modified.encode("latin-1")]
    requested: Deferred[Any] = http.get(url, headers=headers, unbuffered=True)
    timer = clock.callLater(timeout, requested.cancel)
    try:
        response = await requested
    except Exception as e:  # connection refused, TLS, DNS: all "failed"
        if not timer.active():  # cancelled by the timer (however it surfaces)
            raise FetchError(f"{shown}: no answer in {timeout:g} s") from None
        if _cancelled(e):  # by our caller
            raise CancelledError() from None
        raise FetchError(f"{shown}: {_reason(e)}") from None
    finally:
        if timer.active():
            timer.cancel()
    if response.code != 200:
        with contextlib.suppress(FetchError):  # drop the body: frees the connection
            await _receive(response, None, clock, timeout, 64 * 1024)
        if response.code == 304:
            return None
        phrase = response.phrase.decode("latin-1", "replace")
        raise FetchError(f"{shown}: HTTP {response.code} {phrase}")
    os.makedirs(os.path.dirname(spool) or ".", exist_ok=True)
    try:
        with open(spool, "wb") as out:
            await _receive(response, out.write, clock, timeout, max_bytes)
    except FetchError as e:
        _remove(spool)
        raise FetchError(f"{shown}: {e}") from None
    except BaseException:
        _remove(spool)
        raise
    validators = Validators(
        url,
        _header(response, b"ETag"),
        _header(response, b"Last-Modified"),
    )
    return Fetched(spool, True, validators)


def _header(response: Any, name: bytes) -> str:
    values = response.headers.getRawHeaders(name) or [b""]
    return str(values[0].decode("latin-1"))


def _cancelled(error: BaseException) -> bool:
    reasons = getattr(error, "reasons", None) or ()
    return isinstance(error, CancelledError) or any(
        r.check(CancelledError) for r in reasons
    )


def _reason(error: BaseException) -> str:
    """One line on why a request failed; twisted.web wraps the causes
    (TLS, refused, reset) in ``reasons``."""
    reasons = getattr(error, "reasons", None)
    if reasons:
        error = reasons[0].value
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:300]


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


async def _receive(
    response: Any,
    write: Any,
    clock: IReactorTime,
    idle: float,
    max_bytes: int,
) -> None:
    """Deliver the body to ``write`` (None: discard), failing if it stalls
    for ``idle`` seconds or exceeds ``max_bytes``."""
    receiver = _Receiver(write, clock, idle, max_bytes)
    response.deliverBody(receiver)
    await receiver.done


class _Receiver(Protocol):
    def __init__(
        self, write: Any, clock: IReactorTime, idle: float, max_bytes: int
    ) -> None:
        self.done: Deferred[None] = Deferred(lambda _: self._stop())
        self._done: Deferred[None] | None = self.done  # until it fires
        self._write = write
        self._clock = clock
        self._idle = idle
        self._max = max_bytes
        self._size = 0
        self._timer: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self._arm()

    def dataReceived(self, data: bytes) -> None:
        if self._done is None:
            return
        self._size += len(data)
        if self._size > self._max:
            self._fail(f"the body is over {self._max // 1_000_000} MB")
            return
        if self._write is not None:
            self._write(data)
        self._arm()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        done, self._done = self._done, None
        if done is None:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            done.callback(None)
        else:
            cause = reason.value or reason.type
            done.errback(FetchError(f"the body was cut: {cause}"))

    def _arm(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.reset(self._idle)
        else:
            self._timer = self._clock.callLater(self._idle, self._stalled)

    def _stalled(self) -> None:
        self._fail(f"the body stalled for {self._idle:g} s")

    def _fail(self, reason: str) -> None:
        done = self._done
        self._stop()
        if done is not None:
            done.errback(FetchError(reason))

    def _stop(self) -> None:
        """Stop the timer and the body (cancelled, or failed)."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._done = None
        if self.transport is not None:  # the response's body producer
            self.transport.stopProducing()  # type: ignore[attr-defined]
