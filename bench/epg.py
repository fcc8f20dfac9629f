"""Guide (EPG) figures against the real code paths.

Generates a 1,000-channel x 14-day XMLTV guide (about 200,000 programmes),
then:

1. refresh: ``xrelay epg refresh`` (the daemon's fetch + parse + store,
   run once in its own process) from a ``file://`` source; wall time and
   the process's peak RSS;
2. starts ``twistd -n xrelay`` on loopback with that data directory and
   measures, from a keep-alive client: ``get_short_epg`` and
   ``get_simple_data_table`` latency (p50/p95/p99 over random channels),
   and ``xmltv.php`` for all channels: time to the first byte of the
   body, total time and size, plain and gzipped.

    PYTHONPATH=src:. python bench/epg.py [--channels 1000] [--days 14]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xrelay.cred.passwords import hash_password
from xrelay.models import Catalog, Category, Channel, EpgSource, User
from xrelay.store import open_sync

REPO = Path(__file__).resolve().parent.parent
LOGIN = "username=bench&password=bench"
TARGETS = {"refresh_s": 30.0, "refresh_rss_mb": 300.0, "short_epg_ms": 10.0}
TTFB_TARGET_MS = 100.0
DURATIONS = (30, 45, 60, 90, 120, 150)  # minutes; average ~82 -> ~14/day
_WORD_LIST = (
    "news weather sport drama comedy film documentary travel history science "
    "nature cooking music live studio guests report special final episode"
)
WORDS = _WORD_LIST.split()


def env() -> dict[str, str]:
    path = [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}


def write_guide(path: Path, channels: int, days: int, now: float) -> int:
    """The guide file; the number of programmes in it."""
    rng = random.Random(7)
    start_all = int(now - 2 * 86400) // 1800 * 1800
    end_all = start_all + days * 86400
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<tv>\n')
        for i in range(1, channels + 1):
            out.write(
                f'<channel id="ch{i}.bench"><display-name>Channel {i}</display-name>'
                f'<icon src="http://logos.example/{i}.png"/></channel>\n'
            )
        for i in range(1, channels + 1):
            t = start_all
            while t < end_all:
                stop = t + 60 * rng.choice(DURATIONS)
                title = " ".join(rng.choices(WORDS, k=3)).title()
                desc = " ".join(rng.choices(WORDS, k=40)).capitalize() + "."
                out.write(
                    f'<programme start="{stamp(t)}" stop="{stamp(stop)}" '
                    f'channel="ch{i}.bench"><title lang="en">{title}</title>'
                    f"<desc>{desc}</desc><category>{rng.choice(WORDS)}</category>"
                    "</programme>\n"
                )
                t = stop
                count += 1
        out.write("</tv>\n")
    return count


def stamp(seconds: int) -> str:
    return time.strftime("%Y%m%d%H%M%S +0000", time.gmtime(seconds))


def make_catalog(channels: int, guide: Path) -> Catalog:
    return Catalog(
        categories=(Category(1, "live", "Bench"),),
        channels=tuple(
            Channel(
                i,
                i,
                f"Channel {i}",
                1,
                (f"udp://@239.1.{i // 250}.{i % 250}:5000",),
                epg_id=f"ch{i}.bench",
            )
            for i in range(1, channels + 1)
        ),
        users=(User(1, "bench", hash_password("bench"), max_connections=100),),
        epg_sources=(EpgSource(1, "bench", guide.as_uri()),),
    )


def refresh(data_dir: Path) -> tuple[float, float, str]:
    """(seconds, peak RSS MB, its report) of ``xrelay epg refresh``."""
    started = time.monotonic()
    cli = [sys.executable, "-m", "xrelay.cli", "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [*cli, "epg", "refresh"],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"refresh failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``twistd -n xrelay`` on loopback; stopped by its PID."""

    def __init__(self, data_dir: Path, port: int) -> None:
        twistd = Path(sys.executable).parent / "twistd"
        command = [str(twistd)] if twistd.exists() else [
            sys.executable, "-c", "from twisted.scripts.twistd import run; run()"
        ]  # fmt: skip
        self.log = data_dir / "twistd.log"
        listen = f"tcp:{port}:interface=127.0.0.1"
        self.process = subprocess.Popen(
            [
                *command, "-n", "--pidfile=", f"--logfile={self.log}", "xrelay",
                "--data-dir", str(data_dir), "--http", listen,
            ],
            cwd=data_dir,
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def memory_mb(self) -> tuple[float, float]:
        """(RSS, peak RSS) of the daemon, in MB."""
        found = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
        return found["VmRSS"], found["VmHWM"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def get(connection: http.client.HTTPConnection, path: str) -> bytes:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")
    return body


def wait_for_guide(port: int, server: Server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    path = f"/player_api.php?{LOGIN}&action=get_short_epg&stream_id=1"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"the daemon exited:\n{server.log.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            if b'"title"' in get(connection, path):
                connection.close()
                return
            connection.close()
        except (OSError, RuntimeError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"the guide never showed:\n{server.log.read_text()}")


def latencies(port: int, action: str, channels: int, count: int) -> list[float]:
    rng = random.Random(1)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    found = []
    for _ in range(count):
        stream = rng.randint(1, channels)
        path = f"/player_api.php?{LOGIN}&action={action}&stream_id={stream}"
        started = time.perf_counter()
        body = get(connection, path)
        found.append(time.perf_counter() - started)
        assert b"epg_listings" in body
    connection.close()
    return found


def xmltv(port: int, gzip: bool) -> tuple[float, float, int]:
    """(ms to the first body byte, total s, bytes) of a full xmltv.php."""
    headers = "Accept-Encoding: gzip\r\n" if gzip else ""
    request = (
        f"GET /xmltv.php?{LOGIN} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        started = time.perf_counter()
        s.sendall(request)
        received = b""
        first = None
        total = 0
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if first is None:
                received += chunk
                head, sep, rest = received.partition(b"\r\n\r\n")
                if sep and rest:
                    first = time.perf_counter() - started
                    if b" 200 " not in head.split(b"\r\n")[0]:
                        raise SystemExit(f"xmltv.php: {head!r}")
        return (first or 0) * 1000, time.perf_counter() - started, total


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xrelay-bench-epg-"))
    server = None
    try:
        data = work / "data"
        guide = work / "guide.xml"
        started = time.monotonic()
        programmes = write_guide(guide, args.channels, args.days, time.time())
        size = guide.stat().st_size / 1e6
        print(
            f"guide: {args.channels} channels x {args.days} days = {programmes} "
            f"programmes, {size:.0f} MB of XML (written in "
            f"{time.monotonic() - started:.1f} s)"
        )
        db = open_sync(str(data / "xrelay.sqlite3"))
        db.replace_catalog(make_catalog(args.channels, guide))
        db.close()

        seconds, rss, report = refresh(data)
        print(f"refresh (xrelay epg refresh): {report}")
        print(
            f"  parse+store {seconds:.1f} s (target < {TARGETS['refresh_s']:g} s), "
            f"peak RSS {rss:.0f} MB (target < {TARGETS['refresh_rss_mb']:g} MB)"
        )

        port = free_port()
        server = Server(data, port)
        started = time.monotonic()
        wait_for_guide(port, server)
        print(f"daemon: guide served {time.monotonic() - started:.1f} s after start")
        get_short = latencies(port, "get_short_epg", args.channels, args.requests)
        table = latencies(
            port, "get_simple_data_table", args.channels, args.requests // 5
        )
        for name, values in (
            ("get_short_epg", get_short),
            ("get_simple_data_table", table),
        ):
            p50, p95, p99 = (pct(values, p) * 1000 for p in (50, 95, 99))
            print(
                f"{name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms "
                f"({len(values)} requests, one keep-alive client)"
            )
        print(f"  get_short_epg p50 target < {TARGETS['short_epg_ms']:g} ms")
        ttfbs = []
        for gzip in (False, True):
            ttfb, total, received = xmltv(port, gzip)
            ttfbs.append(ttfb)
            label = "gzip" if gzip else "plain"
            print(
                f"xmltv.php all channels ({label}): first byte {ttfb:.1f} ms "
                f"(target < {TTFB_TARGET_MS:g} ms), complete in {total:.1f} s, "
                f"{received / 1e6:.1f} MB"
            )
        rss_now, rss_peak = server.memory_mb()
        print(f"daemon memory: RSS {rss_now:.0f} MB, peak {rss_peak:.0f} MB")
        p50 = statistics.median(get_short) * 1000
        ok = (
            seconds < TARGETS["refresh_s"]
            and rss < TARGETS["refresh_rss_mb"]
            and p50 < TARGETS["short_epg_ms"]
            and max(ttfbs) < TTFB_TARGET_MS
        )
        print("targets met" if ok else "TARGETS MISSED")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
