"""A real redis-server for tests: started on a free loopback port in a
temporary directory, stopped by its PID.  Never the system's Redis.

``shared_redis_url()`` is one server for the whole run (or
``$XRELAY_TEST_REDIS_URL``); tests sharing it keep apart by key prefix
(``fresh_prefix()``) and never flush it.  Tests that stop or pause Redis
start their own ``RedisServer``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from twisted.internet import reactor as _reactor
from twisted.internet.task import deferLater

from xrelay.redis import RedisService


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise AssertionError(
            "redis-server is required for this test but is not installed "
            "(apt-get install -y redis-server, or tools/ensure-system-deps.sh)"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1, in its own directory."""

    def __init__(self, directory: Path | None = None, *args: str) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="xrelay-redis-"))
        self.args = args
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                *self.args,
            ],
            stdout=(self.directory / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise AssertionError(f"redis-server exited early:\n{log}")
            if self.answers():
                return
            time.sleep(0.02)
        self.stop()
        raise AssertionError(f"redis-server did not answer within {timeout}s")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def command(self, *args: str | int) -> object:
        """One command, synchronously (tests provisioning what a panel
        would): the reply as bytes, int, list or None; an error raises."""
        parts = [str(a).encode() for a in args]
        request = b"*%d\r\n" % len(parts) + b"".join(
            b"$%d\r\n%s\r\n" % (len(p), p) for p in parts
        )
        with socket.create_connection(("127.0.0.1", self.port), 5) as s:
            s.sendall(request)
            return _read_reply(s.makefile("rb"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.kill()
            self.process.wait(10)

    def pause(self) -> None:
        """Stop answering without closing connections (SIGSTOP)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


def _read_reply(reply: BinaryIO) -> object:
    line = reply.readline()[:-2]
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise AssertionError(f"Redis answered {rest.decode()}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else reply.read(size + 2)[:-2]
    if kind == b"*":
        return [_read_reply(reply) for _ in range(int(rest))]
    raise AssertionError(f"not a Redis reply: {line!r}")


_shared: RedisServer | None = None


def shared_redis_url() -> str:
    global _shared
    if os.environ.get("XRELAY_TEST_REDIS_URL"):
        return os.environ["XRELAY_TEST_REDIS_URL"]
    if _shared is None:
        _shared = RedisServer()
        _shared.start()
        atexit.register(shutil.rmtree, _shared.directory, True)
        atexit.register(_shared.stop)
    return _shared.url


def fresh_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


async def connected(redis: RedisService, timeout: float = 10.0) -> None:
    """Wait until ``redis`` answers a PING."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await redis.execute("PING")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await deferLater(_reactor, 0.02)
