"""VOD benchmark: library scans, and many range readers of one big file.

Library: generates a library of (by default) 20,000 movies, each in its
own "Title (Year)" folder, and 500 shows of 100 episodes (10 season
folders of 10), all tiny files, then times in this process, with a real
SQLite store and the reactor's threads:

- the first scan, with a stand-in for ffprobe that answers at once (the
  walk, the probe cache, the plan and the one catalog write: everything
  but ffprobe itself);
- a rescan of the unchanged library (all real: no ffprobe runs);
- real ffprobe on copies of the demo movie, to give its rate and so what
  a first scan with real ffprobe would take (library.probe_concurrency 4).

Readers: makes a 1 GB MPEG-TS file (the demo channel, repeated), scans it
in with `xrelay library scan`, starts `twistd -n xrelay` pinned to core 0,
and runs N readers (a Python epoll client pinned to core 1) that each ask
for random ranges of the file, one after another on a kept-alive
connection, and discard the bodies.  Once with sendfile(2), once with the
copying producer.  Prints aggregate throughput, the server's CPU and its
RSS growth over the idle daemon.

Every run is bounded in time; everything stays on 127.0.0.1; the daemon
is stopped by its PID.

    python bench/vod.py                         # both parts, defaults
    python bench/vod.py --skip-readers --movies 2000 --shows 50
    python bench/vod.py --skip-library --readers 200 --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import cpu_ticks, free_port, rss_kib, stop_process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
DEMO_TS = REPO / "src" / "xrelay" / "media" / "demo.ts"
DEMO_MOVIE = (
    REPO / "src" / "xrelay" / "media" / "vod" / "movies" / "Sample.Movie.2024.mp4"
)


def env() -> dict[str, str]:
    paths = [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}


def cli(data: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "xrelay.cli", "--data-dir", str(data), *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        env=env(),
        timeout=600,
    )
    return result.stdout


# -- library scans ----------------------------------------------------------


def make_library(
    root: Path, movies: int, shows: int, episodes: int
) -> tuple[Path, Path]:
    movie_dir, series_dir = root / "Movies", root / "Shows"
    filler = b"\0" * 512
    for i in range(movies):
        name = f"Movie {i:05d} ({1950 + i % 70})"
        folder = movie_dir / name
        folder.mkdir(parents=True)
        (folder / f"{name}.mkv").write_bytes(filler)
    seasons = 10
    per_season = max(episodes // seasons, 1)
    for s in range(shows):
        show = series_dir / f"Show {s:03d}"
        for season in range(1, seasons + 1):
            folder = show / f"Season {season:02d}"
            folder.mkdir(parents=True)
            for e in range(1, per_season + 1):
                (folder / f"Show {s:03d} S{season:02d}E{e:02d}.mkv").write_bytes(filler)
    return movie_dir, series_dir


async def scan_library(work: Path, movies: int, shows: int, episodes: int) -> None:
    from twisted.internet import reactor
    from zope.interface import implementer

    from xrelay.store import SqliteStore
    from xrelay.vod import (
        FFprobe,
        IProber,
        LibraryScanner,
        MediaFacts,
        ProbeCache,
        in_threads,
    )
    from xrelay.xtream import file_stamp

    @implementer(IProber)
    class InstantProber:
        def unavailable(self) -> str | None:
            return None

        def probe(self, path: str, size: int) -> Any:
            from twisted.internet.defer import succeed

            return succeed(MediaFacts(5400, "h264", "aac", 1920, 1080, 5000))

    started = time.monotonic()
    movie_dir, series_dir = make_library(work / "library", movies, shows, episodes)
    files = movies + shows * (episodes // 10) * 10
    print(
        f"library: {movies} movies (a folder each), {shows} shows x"
        f" {episodes // 10 * 10} episodes = {files} files,"
        f" made in {time.monotonic() - started:.1f} s"
    )
    db = str(work / "data" / "xrelay.sqlite3")
    store = SqliteStore(db, reactor)
    await store.start()

    def new_scanner(stamp: Any = None) -> LibraryScanner:
        return LibraryScanner(
            store,
            (str(movie_dir),),
            (str(series_dir),),
            InstantProber(),
            ProbeCache(str(work / "data" / "probe-cache.sqlite3")),
            reactor,
            in_threads(reactor),
            stamp,
        )

    scanner = new_scanner(file_stamp(db, db + "-wal"))  # as the daemon's
    first = await scanner.scan()
    assert first.movies.total == movies, first.summary()
    print(
        f"first scan, ffprobe stood in for: {first.seconds:5.2f} s  ({_phases(first)})"
    )

    async def rescans(scanner: LibraryScanner) -> str:
        done = []
        for _ in range(3):
            report = await scanner.scan()
            assert not report.changed and report.probed == 0, report.summary()
            done.append(report)
        best = min(done, key=lambda r: r.seconds)
        return (
            f"{best.seconds:5.2f} s  ({_phases(best)};"
            f" best of {', '.join(f'{r.seconds:.2f}' for r in done)}; target < 5 s)"
        )

    # The daemon's scanner knows the store's stamp (it skips the catalog
    # read and plan while the store is as its last scan left it); a new
    # process (`xrelay library scan`) reads and plans everything.
    print(f"rescan, library unchanged, daemon:  {await rescans(scanner)}")
    print(f"rescan, library unchanged, new process: {await rescans(new_scanner())}")
    await store.close()

    sample = work / "probe-sample"
    sample.mkdir()
    for i in range(40):
        shutil.copy(DEMO_MOVIE, sample / f"Sample {i:02d}.mp4")
    prober = FFprobe(reactor, "ffprobe", concurrency=4)
    started = time.monotonic()
    from twisted.internet.defer import gatherResults

    results = await gatherResults(
        [prober.probe(str(p), p.stat().st_size) for p in sorted(sample.iterdir())]
    )
    took = time.monotonic() - started
    assert all(isinstance(r, MediaFacts) for r in results), results
    rate = len(results) / took
    print(
        f"real ffprobe: {rate:.1f} files/s (40 files, 4 at once);"
        f" a first scan of {files} real files would take about"
        f" {first.seconds + files / rate:.0f} s, then rescans as above"
    )


def _phases(report: Any) -> str:
    return ", ".join(f"{name} {seconds:.2f}" for name, seconds in report.phases)


# -- range readers ----------------------------------------------------------

READER = r"""
import json, random, select, socket, sys, time
port, path, n, duration, warmup, size, span = sys.argv[1:8]
port, n, size, span = int(port), int(n), int(size), int(span)
duration, warmup = float(duration), float(warmup)
buf = bytearray(1 << 22)
ep = select.epoll()
conns = {}
stats = {"bytes": 0, "responses": 0, "errors": 0, "closed": 0}
window = {"bytes": 0, "responses": 0}
def ask(c):
    start = random.randrange(0, size - span)
    c["sock"].send(("GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\n\r\n"
                    % (path, start, start + span - 1)).encode())
    c["head"], c["left"] = b"", None
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    c = {"sock": s}
    conns[s.fileno()] = c
    ep.register(s.fileno(), select.EPOLLIN)
    ask(c)
begin = time.monotonic()
counting = begin + warmup
end = counting + duration
def got(k):
    stats["bytes"] += k
    if time.monotonic() >= counting:
        window["bytes"] += k
while time.monotonic() < end and conns:
    for fd, _ in ep.poll(0.2):
        c = conns[fd]
        s = c["sock"]
        try:
            if c["left"] is None:
                data = s.recv(65536)
                if not data:
                    raise ConnectionError
                c["head"] += data
                head, found, body = c["head"].partition(b"\r\n\r\n")
                if not found:
                    continue
                lines = head.decode("latin-1").split("\r\n")
                if not lines[0].startswith("HTTP/1.1 206"):
                    stats["errors"] += 1
                length = [l for l in lines if l.lower().startswith("content-length:")]
                c["left"] = int(length[0].split(":")[1]) - len(body)
                got(len(body))
            else:
                k = s.recv_into(buf, min(c["left"], len(buf)), socket.MSG_TRUNC)
                if not k:
                    raise ConnectionError
                c["left"] -= k
                got(k)
            if c["left"] == 0:
                stats["responses"] += 1
                if time.monotonic() >= counting:
                    window["responses"] += 1
                ask(c)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            stats["closed"] += 1
            ep.unregister(fd)
            s.close()
            del conns[fd]
print(json.dumps({**stats, "window_bytes": window["bytes"],
                  "window_responses": window["responses"], "seconds": duration}))
"""


def make_big_file(path: Path, size: int) -> int:
    """The demo channel repeated: real MPEG-TS, so ffprobe takes it."""
    block = DEMO_TS.read_bytes()
    block = block[: len(block) - len(block) % 188]
    written = 0
    with path.open("wb") as f:
        while written + len(block) <= size:
            f.write(block)
            written += len(block)
    return written


def readers_run(
    work: Path, data: Path, library: Path, use_sendfile: bool, args: argparse.Namespace,
    size: int,
) -> dict[str, Any]:  # fmt: skip
    config = work / f"xrelay-{use_sendfile}.toml"
    config.write_text(
        "[library]\n"
        f"movie_dirs = [{json.dumps(str(library))}]\n"
        "scan_interval = 0.0\n"
        f"sendfile = {'true' if use_sendfile else 'false'}\n"
    )
    port = free_port()
    twistd = Path(sys.executable).parent / "twistd"
    server = subprocess.Popen(
        ["taskset", "-c", "0", str(twistd), "-n", "--pidfile=",
         "--logfile=/dev/null", "xrelay", "--config", str(config),
         "--data-dir", str(data), "--http", f"tcp:{port}:interface=127.0.0.1"],
        env=env(), cwd=work,
    )  # fmt: skip
    try:
        api = f"http://127.0.0.1:{port}/player_api.php?username=u&password=p"
        deadline = time.monotonic() + 60
        stream_id = None
        while time.monotonic() < deadline and stream_id is None:
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(
                    f"{api}&action=get_vod_streams", timeout=5
                ) as r:
                    streams = json.load(r)
                stream_id = streams[0]["stream_id"] if streams else None
            except OSError:
                continue
        if stream_id is None:
            raise SystemExit("xrelay did not list the movie within 60 s")
        path = f"/movie/u/p/{stream_id}.ts"
        with urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", headers={"Range": "bytes=0-1023"}
            ),
            timeout=5,
        ) as r:
            r.read()
        time.sleep(1)
        idle = rss_kib(server.pid)
        reader = subprocess.Popen(
            ["taskset", "-c", "1", sys.executable, "-c", READER, str(port), path,
             str(args.readers), str(args.duration), str(args.warmup), str(size),
             str(args.range_mb * 1024 * 1024)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        peak = idle
        time.sleep(args.warmup)
        ticks = cpu_ticks(server.pid)
        started = time.monotonic()
        while reader.poll() is None and time.monotonic() < started + args.duration + 30:
            peak = max(peak, rss_kib(server.pid))
            time.sleep(0.2)
        busy = (cpu_ticks(server.pid) - ticks) / os.sysconf("SC_CLK_TCK")
        elapsed = time.monotonic() - started
        out, _ = reader.communicate(timeout=30)
        result: dict[str, Any] = json.loads(out)
        result.update(
            idle_mb=idle / 1024,
            peak_mb=peak / 1024,
            cpu_pct=100 * busy / elapsed,
        )
        return result
    finally:
        stop_process(server)


def range_readers(work: Path, args: argparse.Namespace) -> None:
    library = work / "big"
    library.mkdir()
    size = make_big_file(library / "Big File (2020).ts", int(args.size_gb * 1e9))
    data = work / "readers-data"
    cli(data, "users", "add", "u", "--password-stdin", "--max-connections", "100000",
        stdin="p\n")  # fmt: skip
    cli(data, "library", "scan", "--movies", str(library))
    print(
        f"\nrange readers: {args.readers} connections, each asking for random"
        f" {args.range_mb} MiB ranges of a {size / 1e9:.2f} GB file one after"
        f" another; {args.duration:g} s window after {args.warmup:g} s;"
        " xrelay on core 0, readers on core 1"
    )
    print(
        f"{'mode':>9} {'agg MB/s':>9} {'ranges/s':>9} {'cpu':>6} {'idle RSS':>9}"
        f" {'peak RSS':>9} {'growth':>7} {'errors':>6} {'closed':>6}"
    )
    for use_sendfile in (True, False):
        r = readers_run(work, data, library, use_sendfile, args, size)
        print(
            f"{'sendfile' if use_sendfile else 'producer':>9}"
            f" {r['window_bytes'] / r['seconds'] / 1e6:>9.0f}"
            f" {r['window_responses'] / r['seconds']:>9.1f}"
            f" {r['cpu_pct']:>5.0f}% {r['idle_mb']:>7.1f}MB {r['peak_mb']:>7.1f}MB"
            f" {r['peak_mb'] - r['idle_mb']:>5.1f}MB {r['errors']:>6} {r['closed']:>6}"
        )
    print("target: RSS growth < 50 MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=20_000)
    parser.add_argument("--shows", type=int, default=500)
    parser.add_argument("--episodes", type=int, default=100, help="per show")
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--range-mb", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--skip-library", action="store_true")
    parser.add_argument("--skip-readers", action="store_true")
    args = parser.parse_args()
    for tool in ("ffprobe", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install -y ffmpeg util-linux)")
    with tempfile.TemporaryDirectory(prefix="xrelay-vod-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_library:
            from twisted.internet.defer import Deferred
            from twisted.internet.task import react

            try:
                react(
                    lambda _: Deferred.fromCoroutine(
                        scan_library(work, args.movies, args.shows, args.episodes)
                    )
                )
            except SystemExit as e:
                if e.code:
                    raise
        if not args.skip_readers:
            range_readers(work, args)


if __name__ == "__main__":
    main()
