"""What the benchmark scripts share: ports, the daemon, /proc figures.

Scripts import it as ``_common``: ``python bench/NAME.py`` puts this folder
first on ``sys.path``.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> None:
    """The ``xrelay`` admin command on ``data_dir`` (provisioning a run)."""
    subprocess.run(
        [sys.executable, "-m", "xrelay.cli", "--data-dir", str(data_dir), *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )


def twistd() -> str:
    """The venv's twistd when running from one, else the one on PATH."""
    beside = Path(sys.executable).parent / "twistd"
    return str(beside) if beside.exists() else "twistd"


def stop_process(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it is still running after ``grace`` s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def stream_mbps(sample: Path) -> float:
    """The sample's rate from its first and last PCR (what pacing delivers)."""
    sys.path.insert(0, str(REPO / "src"))
    from xrelay.mpegts import PACKET_SIZE, pcr

    data = sample.read_bytes()
    values = [
        v
        for off in range(0, len(data), PACKET_SIZE)
        if (v := pcr(data, off)) is not None
    ]
    return len(data) * 8 / ((values[-1] - values[0]) / 27e6) / 1e6


def cpu_ticks(pid: int) -> int:
    """User and system clock ticks ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid: int) -> int:
    """``pid``'s resident memory now (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def requests_per_second(
    clients: int, seconds: float, session: Callable[[Callable[[], bool]], None]
) -> float:
    """Completed requests per second of ``clients`` threads for ``seconds``.
    Each thread runs ``session(more)``: open a client, make one request
    per ``more()`` until it answers False, close the client."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def run(index: int) -> None:
        def more() -> bool:
            if time.perf_counter() >= stop:
                return False
            done[index] += 1
            return True

        session(more)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return sum(done) / (time.perf_counter() - started)
