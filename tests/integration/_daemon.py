"""Run a real ``twistd -n xrelay`` on loopback for integration tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(
            f"{name} is required for this test but is not installed "
            f"(apt-get install -y {'ffmpeg' if name.startswith('ff') else name})"
        )
    return path


def twistd_command() -> list[str]:
    beside = Path(sys.executable).parent / "twistd"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def xrelay_cli() -> list[str]:
    return [sys.executable, "-m", "xrelay.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """One xrelay process; always stopped by PID in ``stop()``."""

    def __init__(self, workdir: Path, *args: str, listen: bool = True) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / "twistd.log"
        self.stdout_path = workdir / "stdout.txt"
        self.args = [
            *twistd_command(),
            "-n",
            "--pidfile=",
            f"--logfile={self.log_path}",
            "xrelay",
            *(["--http", f"tcp:{self.port}:interface=127.0.0.1"] if listen else []),
            *args,
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str | None = None, timeout: float = 20) -> None:
        with self.stdout_path.open("wb") as out:
            self.process = subprocess.Popen(
                self.args, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"xrelay exited early:\n{self.output()}")
            if self._answers(ready_path):
                return
            time.sleep(0.1)
        raise AssertionError(
            f"xrelay did not get ready in {timeout}s:\n{self.output()}"
        )

    def _answers(self, path: str | None) -> bool:
        try:
            with urllib.request.urlopen(self.base + (path or "/"), timeout=2) as r:
                r.read(1)
            return True
        except urllib.error.HTTPError:
            return path is None  # any HTTP answer means the port is up
        except OSError:
            return False

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, wait; SIGKILL only if it hangs.  Returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
            raise AssertionError(f"xrelay ignored SIGTERM:\n{self.output()}") from None

    def output(self) -> str:
        """Everything the daemon printed and logged so far."""
        return "".join(
            path.read_text("utf-8", "replace")
            for path in (self.stdout_path, self.log_path)
            if path.exists()
        )
