"""Player login latency and rate against a real daemon, with lines in the
SQLite store (limits and failed-login counts in memory) and with lines,
limits and counts in a real redis-server.

Each login is a ``player_api.php`` request (throttle check, portal: line
lookup and the cached password proof, line rules, ``active_cons``) or a
``HEAD`` of a stream URL (the same login, no stream).  The daemon runs on
CPU 0 and the clients on CPU 1 when there are two or more.

    PYTHONPATH=src:. python bench/logins.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import requests_per_second

from tests.cred._redis_server import RedisServer
from tests.integration._daemon import free_port, twistd_command
from xrelay.cred.passwords import hash_password
from xrelay.models import Category, Channel, User
from xrelay.store import open_sync

REPO = Path(__file__).resolve().parent.parent
P50_TARGET_MS = 5.0
RATE_TARGET = 500
PLAYER_API = "/player_api.php?username=bench&password=bench"
STREAM_HEAD = "/live/bench/bench/1.ts"


def start(workdir: Path, redis_url: str) -> tuple[subprocess.Popen[bytes], int]:
    data = workdir / "data"
    db = open_sync(str(data / "xrelay.sqlite3"))
    category = db.put_category(Category(0, "live", "Live"))
    db.put_channel(Channel(1, 1, "One", category.id, ("udp://@127.0.0.1:9",)))
    db.put_user(User(0, "bench", hash_password("bench"), max_connections=10))
    db.close()
    config = workdir / "xrelay.toml"
    text = f'[server]\ndata_dir = "{data}"\n[log]\nlevel = "warn"\n'
    if redis_url:
        text += f'[auth]\ncheckers = ["redis"]\n[redis]\nurl = "{redis_url}"\n'
    config.write_text(text)
    port = free_port()
    pin = ["taskset", "-c", "0"] if (os.cpu_count() or 1) > 1 else []
    path = os.pathsep.join(filter(None, [str(REPO / "src"), str(REPO)]))
    process = subprocess.Popen(
        [*pin, *twistd_command(), "-n", "--pidfile=",
         f"--logfile={workdir / 'twistd.log'}", "xrelay", "--config", str(config),
         "--http", f"tcp:{port}:interface=127.0.0.1"],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if request(http.client.HTTPConnection("127.0.0.1", port), "GET") == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(
        f"the daemon did not start:\n{(workdir / 'twistd.log').read_text()}"
    )


def request(conn: http.client.HTTPConnection, method: str) -> int:
    """The status of one login; 401 for a player_api.php refusal (auth 0)."""
    conn.request(method, PLAYER_API if method == "GET" else STREAM_HEAD)
    response = conn.getresponse()
    body = response.read()
    if method == "GET" and b'"auth":1' not in body:
        return 401
    return response.status


def latencies(port: int, method: str, count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        if request(conn, method) != 200:
            raise SystemExit(f"{method}: refused")
        times.append(time.perf_counter() - started)
    conn.close()
    return times


def rate(port: int, clients: int, seconds: float) -> float:
    def session(more: Callable[[], bool]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while more():
            if request(conn, "GET") != 200:
                raise SystemExit("player_api: refused")
        conn.close()

    return requests_per_second(clients, seconds, session)


def bench(name: str, redis_url: str, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="xrelay-bench-") as tmp:
        process, port = start(Path(tmp), redis_url)
        try:
            latencies(port, "GET", 50)  # warm: the password proof is cached
            for method, what in (
                ("GET", "player_api login"),
                ("HEAD", "stream URL login"),
            ):
                times = sorted(latencies(port, method, 500))
                p50, p99 = statistics.median(times) * 1000, times[494] * 1000
                ok = "ok" if p50 < P50_TARGET_MS else "MISSED"
                print(f"{name:7} {what:17} p50 {p50:5.2f} ms  p99 {p99:5.2f} ms"
                      f"  (target p50 < {P50_TARGET_MS} ms: {ok})")  # fmt: skip
            per_second = rate(port, 8, seconds)
            ok = "ok" if per_second >= RATE_TARGET else "MISSED"
            print(
                f"{name:7} player_api logins, 8 clients: {per_second:6.0f}/s for"
                f" {seconds:.0f} s (target >= {RATE_TARGET}/s: {ok})"
            )
        finally:
            process.terminate()
            process.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    seconds = parser.parse_args().seconds
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    bench("sqlite", "", seconds)
    redis = RedisServer()
    redis.start()
    line = ("password_hash", hash_password("bench"), "max_connections", 10)
    redis.command("HSET", "xrelay:line:bench", *line)
    try:
        bench("redis", redis.url, seconds)
    finally:
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
