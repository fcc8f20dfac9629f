"""HTTP plumbing of the Xtream endpoints: parameters, JSON answers,
gzip on request, and streamed bodies with backpressure."""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Iterator
from urllib.parse import parse_qsl

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request
from zope.interface import implementer

from xrelay.web._responses import is_gone, send_text

_FORM = "application/x-www-form-urlencoded"
_MAX_FORM = 64 * 1024  # parameters are a few short values
_GZIP_LEVEL = 1  # JSON still shrinks ~5x; higher levels cost the reactor more


def read_params(request: Request) -> dict[str, str]:
    """Query string and form body, first value per name; the query string
    wins (IPTV Smarters POSTs ``get.php``, some Android apps ``player_api``)."""
    params: dict[str, str] = {}
    content_type = (request.getHeader("content-type") or "").partition(";")[0]
    form = content_type.strip().lower() == _FORM
    if request.method == b"POST" and form and request.content is not None:
        request.content.seek(0)
        params.update(_parse(request.content.read(_MAX_FORM)))
    params.update(_parse(request.uri.partition(b"?")[2]))
    return params


def _parse(encoded: bytes) -> dict[str, str]:
    text = encoded.decode("utf-8", "replace")
    parsed: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        parsed.setdefault(name, value)
    return parsed


def wants_gzip(request: Request) -> bool:
    """Only when the client says so (``*`` is not taken as a yes)."""
    for coding in (request.getHeader("accept-encoding") or "").split(","):
        name, _, params = coding.partition(";")
        if name.strip().lower() in ("gzip", "x-gzip"):
            quality = params.strip().lower().removeprefix("q=")
            return not params.strip() or _quality(quality) > 0
    return False


def _quality(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 1.0


def gzip_compressor() -> zlib._Compress:
    return zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)


def _common_headers(request: Request, content_type: bytes, gzip: bool) -> None:
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"access-control-allow-origin", b"*")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"vary", b"Accept-Encoding")
    if gzip:
        request.setHeader(b"content-encoding", b"gzip")


def gzipped(body: bytes) -> bytes:
    compressor = gzip_compressor()
    return compressor.compress(body) + compressor.flush()


class GzipMemo:
    """Compressed copies of the large bodies sent lately.

    A catalog list is the same bytes for every player until the catalog
    changes, and players ask for gzip (okhttp-based apps always do), so
    each large body is compressed once rather than per request: a 6 MB
    list costs ~30 ms of the reactor to compress.  Bodies under
    ``min_size`` are compressed each time (cheap, and mostly per line).
    Holds at most ``max_bytes`` of bodies plus their compressed copies,
    least recently used out first.
    """

    def __init__(self, max_bytes: int = 64 << 20, min_size: int = 64 << 10) -> None:
        self._max_bytes = max_bytes
        self._min_size = min_size
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = 0

    def __call__(self, body: bytes) -> bytes:
        if len(body) < self._min_size:
            return gzipped(body)
        packed = self._entries.get(body)  # bytes cache their hash
        if packed is not None:
            self._entries.move_to_end(body)
            return packed
        packed = gzipped(body)
        self._entries[body] = packed
        self._size += len(body) + len(packed)
        while self._size > self._max_bytes and self._entries:
            old, old_packed = self._entries.popitem(last=False)
            self._size -= len(old) + len(old_packed)
        return packed


_gzip_memo = GzipMemo()


STREAM_OVER = 256 * 1024
"""Bodies larger than this go out slice by slice under backpressure."""


def send_json(request: Request, body: bytes) -> None:
    """Answer 200 with ``body`` (encoded JSON); a large one is streamed."""
    if is_gone(request):
        return
    gzip = wants_gzip(request)
    if gzip:
        body = _gzip_memo(body)
    content_type = b"application/json; charset=utf-8"
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    if len(body) > STREAM_OVER:
        BodyWriter(request, body).start(content_type, gzip)
        return
    _common_headers(request, content_type, gzip)
    request.write(body)
    request.finish()


@implementer(IPushProducer)
class BodyWriter:
    """Writes one ready-made body in slices while the client takes them.

    ``request.write(body)`` of a whole list would copy it into the
    connection's buffer and keep it there for as long as a slow player
    takes to read it, per request; this keeps a slice or two per
    connection, and the body itself is the one shared by every request.
    """

    SLICE = 64 * 1024

    def __init__(self, request: Request, body: bytes) -> None:
        self._request = request
        self._body = body
        self._offset = 0
        self._paused = False
        self._stopped = False
        self._writing = False

    def start(self, content_type: bytes, gzip: bool) -> None:
        if open_stream(self._request, self, content_type, gzip):
            self._write()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._write()

    def stopProducing(self) -> None:
        self._stopped = True

    def _write(self) -> None:
        if self._writing:  # a write paused and resumed us: the loop goes on
            return
        self._writing = True
        try:
            while not self._paused and not self._stopped:
                if self._offset >= len(self._body):
                    self._stopped = True
                    self._request.unregisterProducer()
                    self._request.finish()
                    return
                end = self._offset + self.SLICE
                piece = self._body[self._offset : end]
                self._offset = end
                self._request.write(piece)
        finally:
            self._writing = False


def open_stream(
    request: Request, producer: IPushProducer, content_type: bytes, gzip: bool
) -> bool:
    """Send a streamed 200's headers and register ``producer``; False when
    there is nothing to stream (client gone, or HEAD, finished here)."""
    if is_gone(request):
        return False
    _common_headers(request, content_type, gzip)
    if request.method == b"HEAD":
        request.finish()
        return False
    try:
        request.registerProducer(producer, True)
    except AttributeError:  # the client left: its channel is gone
        return False
    request.notifyFinish().addErrback(lambda _: producer.stopProducing())
    return True


def send_refusal(request: Request, status: int, reason: str) -> None:
    request.setHeader(b"access-control-allow-origin", b"*")
    send_text(request, status, reason)


@implementer(IPushProducer)
class ChunkWriter:
    """Streams ``chunks`` into a 200 response: one chunk per reactor turn
    (other clients get served in between), none while the transport is
    full, so only a chunk or two is ever held in memory."""

    log = Logger()

    def __init__(
        self,
        request: Request,
        chunks: Iterator[bytes],
        clock: IReactorTime,
        content_type: bytes,
    ) -> None:
        self._request = request
        self._chunks = chunks
        self._clock = clock
        self._content_type = content_type
        self._compressor = gzip_compressor() if wants_gzip(request) else None
        self._call: IDelayedCall | None = None
        self._paused = False
        self._stopped = False

    def start(self) -> None:
        gzip = self._compressor is not None
        if open_stream(self._request, self, self._content_type, gzip):
            self._schedule()

    def pauseProducing(self) -> None:
        self._paused = True
        self._cancel()

    def resumeProducing(self) -> None:
        self._paused = False
        self._schedule()

    def stopProducing(self) -> None:
        self._stopped = True
        self._cancel()

    def _cancel(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _schedule(self) -> None:
        if self._call is None and not self._paused and not self._stopped:
            self._call = self._clock.callLater(0, self._step)

    def _step(self) -> None:
        self._call = None
        try:
            chunk = next(self._chunks, None)
        except Exception:
            self.log.failure("building a streamed response", Failure())
            self.stopProducing()
            self._request.unregisterProducer()
            self._request.loseConnection()  # the status line is out: cut it
            return
        if chunk is None:
            if self._compressor is not None:
                self._request.write(self._compressor.flush())
            self._request.unregisterProducer()
            self._request.finish()
            return
        if self._compressor is not None:
            chunk = self._compressor.compress(chunk)
        if chunk:
            self._request.write(chunk)
        self._schedule()
