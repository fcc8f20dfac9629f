"""Child processes without processes: a Clock that records spawnProcess."""

from __future__ import annotations

import signal
from typing import Any

from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure


class FakeProcess(StringTransport):
    """A spawned child: what is written to its stdin is ``value()``; the
    producer it was given is ``producer``; ``end()`` makes it exit."""

    def __init__(self, protocol: ProcessProtocol, argv: list[str], pid: int) -> None:
        super().__init__()
        self.protocol = protocol
        self.argv = argv
        self.pid: int | None = pid
        self.signals: list[str] = []
        self.stdin_closed = False

    def write(self, data: bytes) -> None:
        if not self.stdin_closed:
            super().write(data)

    def closeStdin(self) -> None:
        self.stdin_closed = True

    def loseConnection(self) -> None:
        self.stdin_closed = True
        self.disconnecting = True

    def signalProcess(self, name: str) -> None:
        if self.pid is None:
            raise ProcessExitedAlready()
        self.signals.append(name)

    def stdout(self, data: bytes) -> None:
        self.protocol.outReceived(data)

    def stderr(self, data: bytes) -> None:
        self.protocol.errReceived(data)

    def end(self, status: int = 0, by: str | None = None) -> None:
        """Exit with ``status``, or killed by signal ``by`` ("KILL")."""
        self.pid = None
        if self.producer is not None:
            self.producer.stopProducing()  # as a closed stdin pipe does
            self.producer = None
        if by is not None:
            number = getattr(signal, f"SIG{by}")
            reason: Exception = ProcessTerminated(None, number)
        elif status:
            reason = ProcessTerminated(status)
        else:
            reason = ProcessDone(0)
        self.protocol.processEnded(Failure(reason))


class ProcessClock(Clock):
    """IReactorTime and IReactorProcess, both by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[FakeProcess] = []

    def spawnProcess(
        self,
        protocol: ProcessProtocol,
        executable: str,
        args: list[str],
        env: Any = None,
        childFDs: Any = None,
        **kwargs: Any,
    ) -> FakeProcess:
        process = FakeProcess(protocol, list(args), 1000 + len(self.spawned))
        self.spawned.append(process)
        protocol.makeConnection(process)
        return process
