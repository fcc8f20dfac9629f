"""Xtream API latency, throughput and memory against a real daemon.

Generates the issue's catalog (10,000 live channels, 20,000 movies, 2,000
series of which 500 have 10 seasons x 10 episodes) into a temporary data
dir, starts ``twistd -n xrelay`` on loopback (pinned to CPU 0 when there
are two or more), and measures from keep-alive HTTP clients in threads
(pinned to CPU 1): p50/p99 of a login, the three stream lists and the full
``m3u_plus`` playlist, the server's RSS growth while it streams the
playlist, and the sustained login rate.

    PYTHONPATH=src:. python bench/xtream_api.py
"""

from __future__ import annotations

import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import free_port, requests_per_second, stop_process

from xrelay.cred.passwords import hash_password
from xrelay.models import (
    Bouquet,
    Catalog,
    Category,
    Channel,
    Episode,
    Movie,
    Season,
    Series,
    User,
)
from xrelay.store import open_sync

REPO = Path(__file__).resolve().parent.parent
NOW = 1_700_000_000
LOGIN = "/player_api.php?username=bench&password=bench"
BOUQUET_LOGIN = "/player_api.php?username=half&password=bench"
TARGETS = {  # p50 seconds, from the issue
    "login": 0.005,
    "get_live_streams": 0.050,
    "m3u_plus": 0.300,
}
RSS_TARGET_MB = 50
LOGIN_RATE_TARGET = 500
RESULTS: list[tuple[str, bool]] = []  # (target line, met), for the summary


def verdict(what: str, figure: float, target: float, unit: str, below: bool) -> str:
    """`` target ...: ratio, ok|MISSED``, recorded for the summary; the ratio
    is figure / target (below 1 is good for a ceiling, above 1 for a floor)."""
    met = figure < target if below else figure > target
    ratio = figure / target
    sign = "<" if below else ">"
    wanted = f"target {sign} {target:g} {unit}"
    RESULTS.append((f"{what} {figure:.1f} {unit} ({wanted}, ratio {ratio:.2f})", met))
    return f"  {wanted}: ratio {ratio:.2f} " + ("ok" if met else "MISSED")


def make_catalog() -> Catalog:
    categories = (
        *(Category(i, "live", f"Live {i}", i) for i in range(1, 51)),
        *(Category(100 + i, "vod", f"Movies {i}", i) for i in range(1, 51)),
        *(Category(200 + i, "series", f"Series {i}", i) for i in range(1, 31)),
    )
    channels = tuple(
        Channel(
            i,
            i,
            f"Channel {i} HD",
            1 + i % 50,
            (f"udp://@239.1.{i // 250}.{i % 250}:5000",),
            f"http://logos.example/{i}.png",
            f"ch{i}.example",
            added=NOW,
        )
        for i in range(1, 10_001)
    )
    movies = tuple(
        Movie(
            i,
            f"Movie {i} ({2000 + i % 25})",
            f"/srv/vod/{i}.mp4",
            101 + i % 50,
            "mp4",
            2000 + i % 25,
            "A plot of a movie. " * 5,
            f"http://img.example/m{i}.jpg",
            f"{i % 10}.{i % 7}",
            5400,
            NOW,
        )
        for i in range(1, 20_001)
    )
    series = tuple(
        Series(
            i,
            f"Show {i}",
            201 + i % 30,
            "A plot of a show. " * 5,
            f"http://img.example/s{i}.jpg",
            2010 + i % 12,
            "8.1",
            NOW,
        )
        for i in range(1, 2_001)
    )
    seasons = tuple(
        Season(s, n, f"Season {n}") for s in range(1, 501) for n in range(1, 11)
    )
    episodes = tuple(
        Episode(
            (s - 1) * 100 + (n - 1) * 10 + e,
            s,
            n,
            e,
            f"Episode {e}",
            f"/srv/series/{s}/{n}/{e}.mkv",
            "mkv",
            "What happens.",
            2700,
            NOW,
        )
        for s in range(1, 501)
        for n in range(1, 11)
        for e in range(1, 11)
    )
    password = hash_password("bench")
    user = User(1, "bench", password, max_connections=100)
    # A line restricted to a bouquet of every other item: the filtered path.
    half = Bouquet(
        1,
        "Half",
        tuple(c.id for c in channels[::2]),
        tuple(m.id for m in movies[::2]),
        tuple(s.id for s in series[::2]),
    )
    half_user = User(2, "half", password, max_connections=100, bouquet_ids=(1,))
    return Catalog(
        categories=categories,
        channels=channels,
        movies=movies,
        series=series,
        seasons=seasons,
        episodes=episodes,
        bouquets=(half,),
        users=(user, half_user),
    )


class Server:
    """The daemon under test; stopped by its PID."""

    def __init__(self, data_dir: Path, port: int, cpu: int | None) -> None:
        twistd = Path(sys.executable).parent / "twistd"
        command = [str(twistd)] if twistd.exists() else [
            sys.executable, "-c", "from twisted.scripts.twistd import run; run()"
        ]  # fmt: skip
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        self.data_dir = data_dir
        self.log = data_dir / "twistd.log"
        path = [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
        listen = f"tcp:{port}:interface=127.0.0.1"
        self.process = subprocess.Popen(
            [
                *command, "-n", "--pidfile=", f"--logfile={self.log}", "xrelay",
                "--data-dir", str(data_dir), "--http", listen,
            ],
            cwd=data_dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the server, in kB."""
        found = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
        return found

    def stop(self) -> None:
        stop_process(self.process)


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str, headers: dict[str, str] | None = None) -> bytes:
        self.connection.request("GET", path, headers=headers or {})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        return body

    def close(self) -> None:
        self.connection.close()


def wait_ready(port: int, server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"the daemon exited:\n{server.log.read_text()}")
        try:
            client = Client(port)
            client.get(LOGIN)
            client.get(LOGIN + "&action=get_live_categories")  # the first view
            client.close()
            return
        except (OSError, RuntimeError):
            time.sleep(0.2)
    raise SystemExit(f"the daemon did not get ready:\n{server.log.read_text()}")


def measure(
    port: int,
    path: str,
    clients: int,
    requests: int,
    headers: dict[str, str] | None = None,
) -> list[float]:
    """Latencies of ``requests`` GETs per client, ``clients`` at once."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        client = Client(port)
        mine = []
        try:
            for _ in range(requests):
                start = time.perf_counter()
                client.get(path, headers)
                mine.append(time.perf_counter() - start)
        except BaseException as e:  # reported below, not lost in the thread
            errors.append(e)
        finally:
            client.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    if errors:
        raise errors[0]
    return latencies


def sustained_rate(port: int, path: str, clients: int, seconds: float) -> float:
    """Completed requests per second, ``clients`` at once for ``seconds``."""

    def session(more: Callable[[], bool]) -> None:
        client = Client(port)
        try:
            while more():
                client.get(path)
        finally:
            client.close()

    return requests_per_second(clients, seconds, session)


def while_sampling(server: Server, work: Callable[[], object]) -> tuple[int, int]:
    """Run ``work``; return the largest VmRSS seen meanwhile and the VmHWM
    after it, in kB."""
    peak = [0]
    finished = threading.Event()

    def sample() -> None:
        while not finished.is_set():
            peak[0] = max(peak[0], server.memory_kb()["VmRSS"])
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        work()
    finally:
        finished.set()
        sampler.join()
    return peak[0], server.memory_kb()["VmHWM"]


def report(name: str, latencies: list[float], size: int | None = None) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    target = TARGETS.get(name)
    judged = ""
    if target is not None:
        judged = verdict(f"{name} p50", p50 * 1000, target * 1000, "ms", below=True)
    extra = f"  {size / 1e6:.1f} MB" if size is not None else ""
    print(
        f"{name:28} n={len(ordered):4}  p50 {p50 * 1000:7.1f} ms"
        f"  p99 {p99 * 1000:7.1f} ms{extra}{judged}"
    )


def report_during_a_change(server: Server, port: int) -> None:
    """Login and list latency while the daemon re-reads and rebuilds the
    catalog after a change made by another process (as the admin CLI does)."""
    db = open_sync(str(server.data_dir / "xrelay.sqlite3"))
    db.put_category(Category(0, "live", "Changed"))
    db.close()
    client = Client(port)
    changed = time.perf_counter()
    deadline = changed + 20
    logins: list[float] = []
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        client.get(LOGIN)
        logins.append(time.perf_counter() - start)
        body = client.get(f"{LOGIN}&action=get_live_categories")
        if b"Changed" in body:
            break
        time.sleep(0.01)
    client.close()
    report("login, view rebuilding", logins)
    print(f"{'':28} the change showed after {time.perf_counter() - changed:.1f} s")


def main() -> None:
    cpus = os.sched_getaffinity(0)
    pinned = len(cpus) >= 2 and shutil.which("taskset") is not None
    server_cpu, client_cpu = sorted(cpus)[:2] if pinned else (None, None)
    with tempfile.TemporaryDirectory(prefix="xrelay-bench-") as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        db = open_sync(str(data_dir / "xrelay.sqlite3"))
        db.replace_catalog(make_catalog())
        db.close()
        print(f"catalog written in {time.perf_counter() - started:.1f} s")
        port = free_port()
        server = Server(data_dir, port, server_cpu)
        try:
            if client_cpu is not None:
                os.sched_setaffinity(0, {client_cpu})  # threads inherit it
                print(f"server on CPU {server_cpu}, clients on CPU {client_cpu}")
            else:
                print("not pinned (needs taskset and two CPUs)")
            started = time.perf_counter()
            wait_ready(port, server)
            elapsed = time.perf_counter() - started
            print(f"daemon ready, first view built, in {elapsed:.1f} s")
            run_benchmarks(server, port)
        finally:
            server.stop()
    print("summary (targets from the issue):")
    for line, met in RESULTS:
        print(f"  {'PASS' if met else 'FAIL'}  {line}")
    if not all(met for _, met in RESULTS):
        sys.exit(1)


def run_benchmarks(server: Server, port: int) -> None:
    client = Client(port)
    sizes = {
        action: len(client.get(f"{LOGIN}&action={action}"))
        for action in ("get_live_streams", "get_vod_streams", "get_series")
    }
    playlist_path = LOGIN.replace("player_api", "get") + "&type=m3u_plus"
    playlist_size = len(client.get(playlist_path))
    client.close()

    before = server.memory_kb()
    playlists: list[float] = []
    peak_rss, hwm = while_sampling(
        server, lambda: playlists.extend(measure(port, playlist_path, 1, 20))
    )
    report("m3u_plus", playlists, playlist_size)
    growth = (peak_rss - before["VmRSS"]) / 1024
    print(
        f"{'':28} server RSS {before['VmRSS'] / 1024:.0f} MB before, peak"
        f" {peak_rss / 1024:.0f} MB while streaming: growth {growth:.1f} MB"
        f" (VmHWM {before['VmHWM'] / 1024:.0f} -> {hwm / 1024:.0f} MB)"
    )
    print(
        f"{'':26}"
        + verdict("m3u_plus RSS growth", growth, RSS_TARGET_MB, "MB", below=True)
    )
    concurrent: list[float] = []
    peak_rss, _ = while_sampling(
        server, lambda: concurrent.extend(measure(port, playlist_path, 4, 5))
    )
    report("m3u_plus, 4 at once", concurrent, playlist_size)
    print(f"{'':28} RSS growth {(peak_rss - before['VmRSS']) / 1024:.1f} MB")

    report("login", measure(port, LOGIN, 1, 500))
    report("login, 4 at once", measure(port, LOGIN, 4, 250))
    for action, clients, count in (
        ("get_live_streams", 1, 100),
        ("get_vod_streams", 1, 30),
        ("get_series", 1, 50),
    ):
        report(
            action,
            measure(port, f"{LOGIN}&action={action}", clients, count),
            sizes[action],
        )
    report(
        "get_live_streams, 4 at once",
        measure(port, f"{LOGIN}&action=get_live_streams", 4, 20),
        sizes["get_live_streams"],
    )
    report(
        "get_live_streams, gzip",
        measure(
            port, f"{LOGIN}&action=get_live_streams", 1, 30, {"Accept-Encoding": "gzip"}
        ),
    )
    report(
        "get_series_info",
        measure(port, f"{LOGIN}&action=get_series_info&series_id=1", 1, 200),
    )
    half_streams = f"{BOUQUET_LOGIN}&action=get_live_streams"
    client = Client(port)
    half_size = len(client.get(half_streams))
    client.close()
    report("get_live_streams, bouquet", measure(port, half_streams, 1, 50), half_size)
    report(
        "m3u_plus, bouquet",
        measure(port, BOUQUET_LOGIN.replace("player_api", "get"), 1, 10),
    )
    report_during_a_change(server, port)
    rate = sustained_rate(port, LOGIN, 8, 5.0)
    print(
        f"{'login throughput, 8 clients':28} {rate:.0f} requests/s for 5 s"
        + verdict("login throughput", rate, LOGIN_RATE_TARGET, "req/s", below=False)
    )


if __name__ == "__main__":
    main()
