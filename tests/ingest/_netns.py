"""Multicast tests inside a throwaway network namespace.

Multicast on the host's own network could reach other machines or be
filtered by it; a fresh namespace has only a loopback with a multicast
route.  ``NetNamespace`` makes and deletes one; this module is also the
program the tests run inside it:

    python -m tests.ingest._netns receive SECONDS READY URL OUT SIZE [URL OUT SIZE...]
    python -m tests.ingest._netns send BIND_ADDR GROUP PORT FILE
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATAGRAM = 1316  # 7 packets, as IPTV senders do


class NetNamespace:
    """``ip netns`` named xr-test-<random>, with loopback up and a multicast
    route to it; ``delete`` removes it."""

    def __init__(self) -> None:
        self.name = f"xr-test-{secrets.token_hex(4)}"
        self._ip("netns", "add", self.name)
        try:
            self._ip("-n", self.name, "link", "set", "lo", "up")
            self._ip("-n", self.name, "link", "set", "lo", "multicast", "on")
            self._ip("-n", self.name, "route", "add", "239.0.0.0/8", "dev", "lo")
        except BaseException:
            self.delete()
            raise

    def add_address(self, cidr: str) -> None:
        self._ip("-n", self.name, "addr", "add", cidr, "dev", "lo")

    def delete(self) -> None:
        self._ip("netns", "delete", self.name)

    def python(self, *args: str) -> list[str]:
        """The command line running this module inside the namespace."""
        head = ["ip", "netns", "exec", self.name, sys.executable, "-m", __name__]
        return [*head, *args]

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.python(*args), env=_env(), **kwargs)

    def run(self, *args: str, timeout: float = 30) -> None:
        subprocess.run(
            self.python(*args),
            env=_env(),
            check=True,
            timeout=timeout,
            capture_output=True,
        )

    @staticmethod
    def _ip(*args: str) -> None:
        try:
            subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as e:
            stderr = (getattr(e, "stderr", None) or b"").decode(errors="replace")
            why = f"{e}: {stderr.strip()}" if stderr.strip() else str(e)
            raise RuntimeError(
                f"`ip {' '.join(args)}` failed ({why}): "
                "the multicast tests need root and iproute2's `ip netns`"
            ) from e


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}


def receive(seconds: float, ready: str, jobs: list[tuple[str, str, int]]) -> int:
    """Run xrelay's sources for ``jobs`` (url, output file, bytes expected)
    until each has its bytes or ``seconds`` pass; write what each got."""
    from twisted.internet import reactor
    from twisted.internet.task import LoopingCall

    from xrelay.ingest import make_source
    from xrelay.testing import PacketRecorder

    runs = []
    for url, out, size in jobs:
        sink = PacketRecorder()
        source = make_source(url, reactor)
        source.start(sink)
        runs.append((source, sink, Path(out), size))
    Path(ready).touch()
    deadline = time.monotonic() + seconds

    def check() -> None:
        done = all(len(sink.data()) >= size for _, sink, _, size in runs)
        ended = any(sink.ended for _, sink, _, _ in runs)
        if done or ended or time.monotonic() > deadline:
            poll.stop()
            for source, sink, out, _ in runs:
                source.stop()
                out.write_bytes(sink.data())
                for reason in sink.ended:
                    print(f"source ended: {reason}", file=sys.stderr)
            reactor.stop()

    poll = LoopingCall(check)
    poll.start(0.05)
    reactor.run()
    return 1 if any(sink.ended for _, sink, _, _ in runs) else 0


def send(bind: str, group: str, port: int, path: str) -> None:
    """Send the file in 1316-byte datagrams from ``bind``, paced gently."""
    data = Path(path).read_bytes()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((bind, 0))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        for n, offset in enumerate(range(0, len(data), DATAGRAM)):
            s.sendto(data[offset : offset + DATAGRAM], (group, port))
            if n % 10 == 9:
                time.sleep(0.002)


def main(argv: list[str]) -> int:
    match argv:
        case ["receive", seconds, ready, *rest] if rest and len(rest) % 3 == 0:
            jobs = [(u, o, int(s)) for u, o, s in zip(*[iter(rest)] * 3, strict=True)]
            return receive(float(seconds), ready, jobs)
        case ["send", bind, group, port, path]:
            send(bind, group, int(port), path)
            return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
