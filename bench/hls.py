"""Live HLS benchmark: many HLS players on one channel, xrelay on one core.

Provisions a throw-away data directory with one channel (a ``file://``
source looping a TS, paced in real time), starts ``twistd -n xrelay``
pinned to core 0 (taskset) and a client process pinned to core 1 that
runs N players on asyncio, each like a real one: it opens
``/live/u/p/1.m3u8`` (a 302 to its session's playlist), then on one
keep-alive connection polls the playlist every half target duration and
fetches every new segment.  After a warm-up it measures a window and
prints requests/s, segment and playlist fetch times (request sent to
last byte), errors, and xrelay's CPU (from /proc, % of one core) and RSS.

Everything is on 127.0.0.1 and bounded in time: the client stops after
warm-up + window, the parent kills it (and xrelay, by PID) after a grace.

    python bench/hls.py                                # 500 players, demo.ts
    python bench/hls.py --clients 100 --duration 10
    python bench/hls.py --sample path/to/4mbit.ts --segment-seconds 4

(Run from an environment where xrelay is installed, or with
``PYTHONPATH=src:.`` from the checkout.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
from _common import cli, cpu_ticks, free_port, stop_process, stream_mbps

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "src" / "xrelay" / "media" / "demo.ts"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------------------
# The client process: N players on one asyncio loop


class Stats:
    def __init__(self) -> None:
        self.measuring = False
        self.playlist_ms: list[float] = []
        self.segment_ms: list[float] = []
        self.segment_ttfb_ms: list[float] = []  # until the response headers
        self.segment_bytes = 0
        self.errors: dict[str, int] = {}
        self.gone = 0  # segments that left the server before being fetched

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


@attrs.define
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # kept for playlists only; segments are counted
    size: int
    first: bytes  # the body's first byte
    arrived: float  # when the headers came


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time, that
    counts a segment's bytes as they arrive instead of buffering them
    (the players share one core: they must cost little)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._response: Response | None = None
        self._keep = False
        self._left = 0
        self._parts: list[bytes] = []
        self._done: asyncio.Future[Response] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(ConnectionError("closed by xrelay"))

    async def get(self, path: str, agent: str, keep: bool) -> Response:
        assert self.transport is not None
        self._done = asyncio.get_running_loop().create_future()
        self._keep, self._response, self._parts = keep, None, []
        head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {agent}\r\n"
        self.transport.write(head.encode() + b"\r\n")
        return await self._done

    def data_received(self, data: bytes) -> None:
        if self._response is None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self._head[:end].decode("latin-1").split("\r\n")
            data = bytes(self._head[end + 4 :])
            self._head.clear()
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            status = int(lines[0].split(" ", 2)[1])
            self._left = int(headers.get("content-length", "0"))
            self._response = Response(
                status, headers, b"", self._left, data[:1], time.monotonic()
            )
        response = self._response
        if not response.first:
            response.first = data[:1]
        if self._keep:
            self._parts.append(data)
        self._left -= len(data)
        if self._left <= 0 and self._done is not None:
            response.body = b"".join(self._parts)
            self._done.set_result(response)
            self._done = None


def segment_numbers(playlist: bytes) -> tuple[float, list[int]]:
    target, numbers = 4.0, []
    for line in playlist.decode("ascii").splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.partition(":")[2])
        elif line and not line.startswith("#"):
            numbers.append(int(line.partition(".")[0]))
    return target, numbers


async def player(n: int, port: int, stats: Stats, stop_at: float) -> None:
    agent = f"bench-player-{n}"
    loop = asyncio.get_running_loop()
    try:
        _, conn = await loop.create_connection(Connection, "127.0.0.1", port)
    except OSError as e:
        stats.error(f"connect: {e.strerror}")
        return
    try:
        opened = await conn.get("/live/u/p/1.m3u8", agent, keep=False)
        if opened.status != 302:
            stats.error(f"open {opened.status}")
            return
        playlist_path = opened.headers["location"]
        base = playlist_path.rsplit("/", 1)[0]
        last: int | None = None
        while time.monotonic() < stop_at:
            started = time.monotonic()
            playlist = await conn.get(playlist_path, agent, keep=True)
            if stats.measuring:
                stats.playlist_ms.append((time.monotonic() - started) * 1000)
            if playlist.status != 200:
                stats.error(f"playlist {playlist.status}")
                return
            target, numbers = segment_numbers(playlist.body)
            # a player starts at the newest segment, then takes each new one
            wanted = [s for s in numbers if last is None or s > last]
            for number in wanted[-1:] if last is None else wanted:
                began = time.monotonic()
                got = await conn.get(f"{base}/{number}.ts", agent, keep=False)
                if got.status == 404:
                    stats.gone += 1
                elif got.status != 200 or got.first != b"\x47" or got.size % 188:
                    stats.error(f"segment {got.status}")
                elif stats.measuring:
                    stats.segment_ms.append((time.monotonic() - began) * 1000)
                    stats.segment_ttfb_ms.append((got.arrived - began) * 1000)
                    stats.segment_bytes += got.size
                last = number
            pause = target / 2 - (time.monotonic() - started)
            await asyncio.sleep(max(0.0, min(pause, stop_at - time.monotonic())))
    except OSError as e:
        stats.error(f"connection: {type(e).__name__}")
    finally:
        if conn.transport is not None:
            conn.transport.close()


async def run_clients(port: int, clients: int, warmup: float, window: float) -> None:
    stats = Stats()
    stop_at = time.monotonic() + warmup + window
    tasks = []
    for n in range(clients):
        tasks.append(asyncio.create_task(player(n, port, stats, stop_at)))
        await asyncio.sleep(random.uniform(0, 2.0 / clients * 2))  # ~1 s ramp
    await asyncio.sleep(max(0.0, stop_at - window - time.monotonic()))
    print("WINDOW", flush=True)  # the parent starts measuring xrelay
    cpu0, t0 = time.process_time(), time.monotonic()
    stats.measuring = True
    await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
    stats.measuring = False
    elapsed = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    print("END", flush=True)
    await asyncio.wait(tasks, timeout=30)
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "client_cpu_pct": 100 * cpu / elapsed,
                "playlist_ms": stats.playlist_ms,
                "segment_ms": stats.segment_ms,
                "segment_ttfb_ms": stats.segment_ttfb_ms,
                "segment_bytes": stats.segment_bytes,
                "errors": stats.errors,
                "gone": stats.gone,
            }
        ),
        flush=True,
    )


# ---------------------------------------------------------------------------
# The parent: provisioning, xrelay, measurement


def core_times(core: str) -> tuple[int, int]:
    """(busy, total) jiffies of one core, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + values[4]  # idle, iowait
            return sum(values) - idle, sum(values)
    raise LookupError(f"no core {core}")


def rss_mb(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[21]) * PAGE / 2**20


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"xrelay exited early ({process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("xrelay did not start listening")


def bench(args: argparse.Namespace) -> None:
    sample = Path(args.sample).resolve()
    work = Path(tempfile.mkdtemp(prefix="xrelay-hls-bench-"))
    try:
        data = work / "data"
        cli(data, "categories", "add", "live", "Bench")
        cli(data, "users", "add", "u", "--password-stdin",
            "--max-connections", "100000", stdin="p\n")  # fmt: skip
        cli(data, "channels", "add", "bench", "--number", "1", "--category", "1",
            "--source", sample.as_uri())  # fmt: skip
        config = work / "xrelay.toml"
        config.write_text(
            f"[hls]\nsegment_seconds = {args.segment_seconds}\nwindow = {args.window}\n"
        )
        port = free_port()
        twistd = Path(sys.executable).parent / "twistd"
        server = subprocess.Popen(
            [
                "taskset", "-c", args.server_core,
                str(twistd) if twistd.exists() else "twistd",
                "-n", "--pidfile=", f"--logfile={work / 'xrelay.log'}", "xrelay",
                "--data-dir", str(data), "--config", str(config),
                "--http", f"tcp:{port}:interface=127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"},
        )  # fmt: skip
        try:
            wait_for_port(port, server, 30)
            run(args, server, port, sample)
        finally:
            stop_process(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(
    args: argparse.Namespace, server: subprocess.Popen[bytes], port: int, sample: Path
) -> None:
    client = subprocess.Popen(
        [
            "taskset", "-c", args.client_core, sys.executable, __file__, "--client",
            str(port), str(args.clients), str(args.warmup), str(args.duration),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert client.stdout is not None
    try:
        deadline = time.monotonic() + args.warmup + args.duration + 90
        lines = iter(client.stdout.readline, "")
        if next(lines).strip() != "WINDOW":
            sys.exit("the client failed")
        ticks0, t0 = cpu_ticks(server.pid), time.monotonic()
        core0 = [core_times(c) for c in (args.server_core, args.client_core)]
        if next(lines).strip() != "END":
            sys.exit("the client failed")
        ticks1, t1 = cpu_ticks(server.pid), time.monotonic()
        core1 = [core_times(c) for c in (args.server_core, args.client_core)]
        rss = rss_mb(server.pid)
        result: dict[str, Any] = json.loads(next(lines))
        client.wait(max(1.0, deadline - time.monotonic()))
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(5)
    busy = [
        100 * (b1 - b0) / max(1, t1_ - t0_)
        for (b0, t0_), (b1, t1_) in zip(core0, core1, strict=True)
    ]
    server_cpu = 100 * (ticks1 - ticks0) / TICKS / (t1 - t0)
    report(args, sample, result, server_cpu, rss, busy)


def report(
    args: argparse.Namespace,
    sample: Path,
    result: dict[str, Any],
    server_cpu: float,
    rss: float,
    busy: list[float],
) -> None:
    elapsed = result["elapsed"]
    segments, playlists = result["segment_ms"], result["playlist_ms"]
    count = len(segments)
    print(
        f"HLS: {args.clients} players, one channel ({sample.name}, "
        f"{stream_mbps(sample):.2f} Mbit/s), {args.segment_seconds:g} s segments, "
        f"window {args.window}; xrelay on core {args.server_core}, players on "
        f"core {args.client_core}; {elapsed:.0f} s window after {args.warmup:g} s "
        "warm-up"
    )
    print(
        f"requests/s       {(count + len(playlists)) / elapsed:8.1f}  "
        f"(playlists {len(playlists) / elapsed:.1f}, segments {count / elapsed:.1f})"
    )
    print(
        f"egress           {result['segment_bytes'] * 8 / elapsed / 1e6:8.1f} Mbit/s  "
        f"(segments of {result['segment_bytes'] / max(count, 1) / 1e3:.0f} kB)"
    )
    for name, values in (
        ("segment fetch ms", segments),
        ("  of which TTFB", result["segment_ttfb_ms"]),
        ("playlist ms", playlists),
    ):
        print(
            f"{name:<16} p50 {percentile(values, 50):7.1f}  "
            f"p90 {percentile(values, 90):7.1f}  p99 {percentile(values, 99):7.1f}  "
            f"max {max(values, default=float('nan')):7.1f}"
        )
    print(
        f"errors           {sum(result['errors'].values())} {result['errors'] or ''}"
        f"  segments gone before fetched: {result['gone']}"
    )
    print(
        f"xrelay CPU       {server_cpu:8.1f} % of one core, RSS {rss:.0f} MB "
        f"(core {args.server_core} busy {busy[0]:.0f} %, with other processes)"
    )
    print(
        f"players' CPU     {result['client_cpu_pct']:8.1f} % of one core "
        f"(core {args.client_core} busy {busy[1]:.0f} %)"
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        port, clients, warmup, window = sys.argv[2:6]
        asyncio.run(run_clients(int(port), int(clients), float(warmup), float(window)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--duration", type=float, default=30.0, help="window, s")
    parser.add_argument("--warmup", type=float, default=12.0)
    parser.add_argument("--sample", default=str(DEMO), help="TS file looped")
    parser.add_argument("--segment-seconds", type=float, default=4.0)
    parser.add_argument("--window", type=int, default=6)
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--client-core", default="1")
    args = parser.parse_args()
    if not 1 <= args.clients <= 5000 or not 1 <= args.duration <= 600:
        parser.error("--clients 1..5000, --duration 1..600")
    bench(args)


if __name__ == "__main__":
    main()
