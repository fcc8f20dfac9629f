"""``exec:COMMAND ARG...``: a child process (ffmpeg, a tuner tool) writing TS
to its stdout."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
from collections import deque
from contextlib import suppress
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IDelayedCall, IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from xrelay.ingest._errors import UnsupportedSource
from xrelay.ingest._redact import display_url, redact
from xrelay.ingest._retry import ReconnectingSource
from xrelay.interfaces import IChannelSource

_KEEP_ERRORS = 5  # stderr lines kept for health reports
_MAX_LINE = 1000  # a longer stderr "line" is cut, so memory stays bounded


class _Child(ProcessProtocol):
    def __init__(self, source: ExecSource, keep_stdin: bool) -> None:
        self._source = source
        self._keep_stdin = keep_stdin  # the source feeds it (a transcoder)

    def connectionMade(self) -> None:
        if not self._keep_stdin:
            self.transport.closeStdin()  # type: ignore[union-attr]

    def outReceived(self, data: bytes) -> None:
        self._source._received(data)

    def errReceived(self, data: bytes) -> None:
        self._source._stderr(data)

    def processEnded(self, reason: Failure) -> None:
        self._source._exited(reason)


@implementer(IChannelSource)
class ExecSource(ReconnectingSource):
    """Runs the command without a shell, reads TS from its stdout, and runs
    it again (with backoff) whenever it exits.

    ``stop()`` closes the pipes and sends SIGTERM, then SIGKILL after
    ``grace`` seconds, and fires once the child is reaped.  Signals go to
    the child's pid only: a command that forks (unlike ffmpeg) must take
    its own children down when it gets SIGTERM or loses its stdout.
    """

    def __init__(self, url: str, reactor: Any, grace: float = 2.0) -> None:
        # reactor: IReactorProcess and IReactorTime
        super().__init__(display_url(url), reactor)
        try:
            argv = shlex.split(url.removeprefix("exec:"))
        except ValueError as e:  # unbalanced quotes
            raise UnsupportedSource(f"{self.name}: {e}") from None
        if not argv:
            raise UnsupportedSource(f"{self.name}: no command")
        executable = shutil.which(argv[0])
        if executable is None:
            raise UnsupportedSource(f"{self.name}: {argv[0]} not found on PATH")
        self._executable = os.path.abspath(executable)
        self._argv = argv
        self._reactor = reactor
        self._grace = grace
        self.last_errors: deque[str] = deque(maxlen=_KEEP_ERRORS)
        self._partial = b""  # stderr after the last newline
        self._process: IProcessTransport | None = None
        self._kill: IDelayedCall | None = None
        self._reaped: list[Deferred[None]] = []

    @property
    def pid(self) -> int | None:
        """The running child's pid, or None."""
        return None if self._process is None else self._process.pid

    def _attempt(self) -> None:
        self._partial = b""
        try:
            self._process = self._spawn_child(self._argv)
        except OSError as e:
            self._attempt_failed(f"cannot start: {e.strerror}")
            return
        self.connected = True

    def _spawn_child(self, argv: list[str], keep_stdin: bool = False) -> Any:
        """The command started with ``argv`` (its IProcessTransport, also an
        IConsumer of stdin), its output read by this source; OSError when it
        cannot start."""
        return self._reactor.spawnProcess(
            _Child(self, keep_stdin),
            self._executable,
            argv,
            env=os.environ,
            childFDs={0: "w", 1: "r", 2: "r"},
        )

    def _release(self) -> Deferred[None]:
        if self._process is None:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._reaped.append(d)
        if self._kill is None:
            # Closed pipes also let processEnded come as soon as the child is
            # reaped, even if something it started still holds them open.
            self._process.loseConnection()
            self._signal("TERM")
            self._kill = self._clock.callLater(self._grace, self._signal, "KILL")
        return d

    def _signal(self, name: str) -> None:
        # ProcessExitedAlready: it exited by itself; processEnded is on its way
        if self._process is not None:
            with suppress(ProcessExitedAlready):
                self._process.signalProcess(name)

    def _stderr(self, data: bytes) -> None:
        # ffmpeg ends its progress lines with \r
        lines = (self._partial + data).replace(b"\r", b"\n").split(b"\n")
        self._partial = lines.pop()[-_MAX_LINE:]
        for line in lines:
            self._error_line(line)

    def _error_line(self, raw: bytes) -> None:
        line = redact(raw[:_MAX_LINE].decode("utf-8", "replace").strip())
        if line:
            self.last_errors.append(line)
            self.log.debug("{source}: {line}", source=self.name, line=line)

    def _exited(self, reason: Failure) -> None:
        self._process = None
        if self._kill is not None and self._kill.active():
            self._kill.cancel()
        self._kill = None
        self._error_line(self._partial)
        self._partial = b""
        cause = _exit_status(reason)
        if self.last_errors:
            cause += f": {self.last_errors[-1]}"
        self._attempt_failed(cause)
        waiting, self._reaped = self._reaped, []
        for d in waiting:
            d.callback(None)


def _exit_status(reason: Failure) -> str:
    exc = reason.value
    if isinstance(exc, ProcessTerminated) and exc.signal is not None:
        try:
            name = signal.Signals(exc.signal).name
        except ValueError:
            name = str(exc.signal)
        return f"killed by {name}"
    return f"exited with status {getattr(exc, 'exitCode', None)}"


def source_from_url(url: str, reactor: Any) -> IChannelSource:
    return ExecSource(url, reactor)
