"""Sending a slice of an open file as a response body, with backpressure.

``FileBody`` reads 64 KiB at a time into the response and stops whenever
the transport says its buffer is full, so a connection holds at most a
couple of chunks however slow its player (and the file is never read
whole).  ``SendfileBody`` is for plain TCP: the kernel copies the file
into the socket (``sendfile(2)``) for as long as the socket takes it, and
nothing is buffered in between.  When the socket is full it asks the
transport to watch for writability as if it had paused us (its
``producerPaused`` and ``startWriting``: Twisted's own flow control, with
an empty buffer), and the transport resumes us once the socket drains.
TLS and HTTP/2 need the bytes in user space, so they get ``FileBody``.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import tcp
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger
from twisted.web import http
from twisted.web.server import Request
from zope.interface import implementer

from xrelay.vod._files import OpenFile

CHUNK = 64 * 1024  # Twisted's transport buffer: it pauses us past this
_TURN = 16  # writes per reactor turn, so one fast reader cannot starve others
_SENDFILE_MAX = 1 << 22  # bytes per sendfile(2) call


@implementer(IPushProducer)
class FileBody:
    """Writes ``length`` bytes of ``file`` from ``offset`` to ``request``,
    then finishes it; the file is closed once the body is all sent or the
    client went away."""

    log = Logger()

    def __init__(
        self,
        request: Request,
        file: OpenFile,
        offset: int,
        length: int,
        clock: IReactorTime,
    ) -> None:
        self._request = request
        self._file = file
        self._offset = offset
        self._remaining = length
        self._clock = clock
        self._paused = False
        self._stopped = False
        self._call: IDelayedCall | None = None

    def start(self) -> None:
        try:
            self._request.registerProducer(self, True)
        except AttributeError:  # the client left: its channel is gone
            self._end()
            return
        self._request.notifyFinish().addErrback(lambda _: self.stopProducing())
        self._pump()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        if self._call is None:
            self._pump()

    def stopProducing(self) -> None:
        self._stopped = True
        self._end()

    def _pump(self) -> None:
        self._call = None
        for _ in range(_TURN):
            if self._paused or self._stopped:
                return
            if self._remaining <= 0:
                self._request.unregisterProducer()
                self._request.finish()
                self._end()
                return
            try:
                sent = self._send()
            except ConnectionError:  # sendfile(2) saw the player go
                sent = 0
            except OSError as e:
                self.log.warn("cannot read a library file: {error}", error=e.strerror)
                sent = 0
            if sent is None:  # the socket is full: resumeProducing goes on
                return
            if sent <= 0:  # the file shrank, or sending failed: cut it off
                self._abort()
                return
            self._offset += sent
            self._remaining -= sent
        self._call = self._clock.callLater(0, self._pump)

    def _send(self) -> int | None:
        """Send some more: how much (0 if the file ended early), or None
        to wait for ``resumeProducing``."""
        data = os.pread(self._file.fd, min(CHUNK, self._remaining), self._offset)
        if data:
            self._request.write(data)
        return len(data)

    def _abort(self) -> None:
        """Fewer bytes than Content-Length promised: only closing the
        connection tells the player so."""
        self._stopped = True
        self._request.unregisterProducer()
        abort(self._request)
        self._end()

    def _end(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._file.close()


class SendfileBody(FileBody):
    """``FileBody`` for a plain TCP transport; see the module docstring."""

    def __init__(
        self,
        request: Request,
        file: OpenFile,
        offset: int,
        length: int,
        clock: IReactorTime,
        transport: tcp.Server,
    ) -> None:
        super().__init__(request, file, offset, length, clock)
        self._transport = transport

    def _send(self) -> int | None:
        transport = self._transport
        if not _drained(transport):
            # The headers are still buffered: the body must not overtake them.
            self._wait(transport)
            return None
        try:
            sent = os.sendfile(
                transport.fileno(),
                self._file.fd,
                self._offset,
                min(self._remaining, _SENDFILE_MAX),
            )
        except BlockingIOError:
            self._wait(transport)
            return None
        self._request.sentLength += sent  # for the access log
        return sent

    def _wait(self, transport: tcp.Server) -> None:
        """Be resumed when the transport has written out its buffer (or,
        with none, when the socket is writable again)."""
        self._paused = True
        transport.producerPaused = True
        transport.startWriting()


def _drained(transport: Any) -> bool:
    return (
        getattr(transport, "_tempDataLen", 1) == 0
        and len(transport.dataBuffer) == transport.offset
    )


def sendfile_transport(request: Request) -> tcp.Server | None:
    """The plain TCP transport under ``request``, if it has one."""
    channel = request.channel
    if not isinstance(channel, http.HTTPChannel):
        return None  # HTTP/2: the stream frames the body
    transport = channel.transport
    if isinstance(transport, tcp.Server) and not getattr(transport, "TLS", False):
        return transport
    return None


def abort(request: Request) -> None:
    """Drop the request's connection at once (no graceful close: that
    would wait for a producer that will never finish)."""
    transport = getattr(request.channel, "transport", None)
    if transport is not None and hasattr(transport, "abortConnection"):
        transport.abortConnection()
    else:
        request.loseConnection()
