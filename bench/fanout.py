"""Fan-out benchmark: xrelay against the C reference writer, side by side.

Uses the shared load harness (../shared/bench: tsclients, tssource, refwriter,
run-fanout.sh), builds it into a temporary directory, generates its sample
TS, provisions a throw-away xrelay data directory and prints:

- paced: one channel (the sample, paced by its PCR), N viewers, xrelay on
  core 0 and the clients on core 1; the same N against ``refwriter`` paced
  at the stream rate; the CPU ratio, per-viewer rate (p1 against the stream
  rate), stalls, TS sync errors and time to first byte;
- unpaced: an unpaced HTTP source (tssource -r 0) into xrelay, aggregate
  egress against unpaced refwriter;
- memory: RSS growth per added viewer and per running channel;
- with --two-workers: two xrelay processes sharing the port (SO_REUSEPORT).

Every run is bounded (run-fanout.sh wraps each client run in ``timeout``;
sources are started with their own ``-d``); everything is on 127.0.0.1.

    python bench/fanout.py                      # 100 and 1000 viewers, 10 s windows
    python bench/fanout.py --viewers 1000 --duration 60
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import cli, free_port, rss_kib, stream_mbps, twistd

REPO = Path(__file__).resolve().parents[1]
HARNESS = Path(os.environ.get("XRELAY_BENCH_HARNESS", REPO.parent / "shared" / "bench"))


def prepare(work: Path) -> tuple[Path, Path]:
    """Build the harness, make the sample, provision xrelay; (tools, data)."""
    if not (HARNESS / "tsclients.c").exists():
        sys.exit(f"load harness not found at {HARNESS} (set XRELAY_BENCH_HARNESS)")
    tools = work / "harness"
    shutil.copytree(HARNESS, tools)
    for path in tools.iterdir():
        path.chmod(0o755)
    subprocess.run(["make", "-s", "-C", str(tools)], check=True)
    subprocess.run(
        [str(tools / "make-sample.sh"), str(tools / "sample.ts")],
        check=True,
        capture_output=True,
    )
    data = work / "data"
    cli(data, "categories", "add", "live", "Bench")
    cli(
        data,
        "users",
        "add",
        "u",
        "--password-stdin",
        "--max-connections",
        "100000",
        stdin="p\n",
    )
    for number in range(1, 12):
        cli(
            data,
            "channels",
            "add",
            f"bench {number}",
            "--number",
            str(number),
            "--category",
            "1",
            "--source",
            (tools / "sample.ts").as_uri(),
        )
    return tools, data


def xrelay_command(data: Path, port: int, http: str | None = None) -> str:
    listen = http or f"tcp:{port}:interface=127.0.0.1"
    return (
        f"{twistd()} -n --pidfile= --logfile=/dev/null xrelay "
        f"--data-dir {data} --http {listen}"
    )


def run_fanout(
    tools: Path,
    label: str,
    url: str,
    viewers: str,
    duration: int,
    server: str,
    source: str | None = None,
    extra: str = "-t",
    cores: tuple[str, str] = ("0", "1"),
    ramp: int = 1000,
) -> list[dict[str, dict[str, float]]]:
    """One run-fanout.sh call; returns its JSON rows (client + server)."""
    out = tools / f"{label}.jsonl"
    out.unlink(missing_ok=True)
    args = [
        str(tools / "run-fanout.sh"),
        "-S",
        server,
        "-u",
        url,
        "-n",
        viewers,
        "-d",
        str(duration),
        "-L",
        label,
        "-o",
        str(out),
        "-x",
        extra,
        "-C",
        cores[0],
        "-c",
        cores[1],
        "-r",
        str(ramp),
    ]
    if source:
        args += ["-s", source]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return [json.loads(line) for line in out.read_text().splitlines()]


def paced(tools: Path, data: Path, viewers: str, duration: int) -> None:
    rate = stream_mbps(tools / "sample.ts")
    port = free_port()
    mine = run_fanout(
        tools,
        "xrelay",
        f"http://127.0.0.1:{port}/live/u/p/1.ts",
        viewers,
        duration,
        xrelay_command(data, port),
    )
    ref_port = free_port()
    ref = run_fanout(
        tools,
        "refwriter",
        f"http://127.0.0.1:{ref_port}/",
        viewers,
        duration,
        f"{tools / 'refwriter'} -p {ref_port} -r {rate:.3f} -d 600",
        extra="",
    )
    print(
        f"\npaced: one channel at {rate:.2f} Mbit/s, {duration} s windows, "
        "xrelay and refwriter on core 0, clients on core 1"
    )
    print(
        f"{'viewers':>8} {'xrelay cpu':>10} {'ref cpu':>8} {'ratio':>6} "
        f"{'p1/rate':>8} {'stalls':>6} {'ts err':>6} {'ttfb med':>9} "
        f"{'ttfb p99':>9} {'failed':>6} {'pss MB':>7}"
    )
    for a, b in zip(mine, ref, strict=True):
        c, s = a["client"], a["server"]
        print(
            f"{c['n']:>8} {s['cpu_pct']:>9.1f}% {b['server']['cpu_pct']:>7.1f}% "
            f"{s['cpu_pct'] / max(b['server']['cpu_pct'], 0.1):>6.2f} "
            f"{c['per_client_mbps_p1'] / rate:>8.3f} {c['stalls']:>6} "
            f"{c['ts_sync_errors']:>6} {c['ttfb_ms_median']:>8.1f}ms "
            f"{c['ttfb_ms_p99']:>8.1f}ms {c['failed']:>6} {s['pss_end_mb']:>7.1f}"
        )
    if len(mine) > 1:
        low, high = mine[0], mine[-1]
        grown = high["server"]["pss_end_mb"] - low["server"]["pss_end_mb"]
        added = high["client"]["n"] - low["client"]["n"]
        print(
            f"memory per added viewer: {grown * 1024 / added:.1f} KiB "
            f"(PSS {low['server']['pss_end_mb']} -> {high['server']['pss_end_mb']} MB "
            f"from {low['client']['n']} to {high['client']['n']} viewers; target <= 64)"
        )


def join_latency(tools: Path, data: Path) -> None:
    """Time to first byte for viewers joining a channel that is running:
    one viewer starts it, then 50 join one by one (20 per second)."""
    port = free_port()
    rows = run_fanout(
        tools,
        "xrelay-join",
        f"http://127.0.0.1:{port}/live/u/p/1.ts",
        "1 50",
        3,
        xrelay_command(data, port),
        ramp=20,
    )
    c = rows[-1]["client"]
    print(
        f"\ntime to first byte joining a running channel: median "
        f"{c['ttfb_ms_median']:.1f} ms, p99 {c['ttfb_ms_p99']:.1f} ms "
        f"({c['n']} viewers joining at 20/s; target < 20 ms)"
    )


def unpaced(tools: Path, data: Path, viewers: str, duration: int) -> None:
    """tssource unpaced over HTTP into xrelay, vs refwriter unpaced."""
    src_port, port = free_port(), free_port()
    channel_source = f"http://127.0.0.1:{src_port}/feed.ts"
    cli(data, "channels", "set", "11", "--source", channel_source)
    mine = run_fanout(
        tools,
        "xr-unpaced",
        f"http://127.0.0.1:{port}/live/u/p/11.ts",
        viewers,
        duration,
        xrelay_command(data, port),
        source=f"-f {tools / 'sample.ts'} -H {src_port} -r 0 -C",
        extra="",  # as for refwriter: TS checking would load the client core
    )
    ref_port = free_port()
    ref = run_fanout(
        tools,
        "ref-unpaced",
        f"http://127.0.0.1:{ref_port}/",
        viewers,
        duration,
        f"{tools / 'refwriter'} -p {ref_port} -r 0 -d 600",
        extra="",
    )
    print("\nunpaced source (tssource -r 0 over HTTP) vs refwriter -r 0")
    print(
        f"{'viewers':>8} {'xrelay Mbps':>12} {'ref Mbps':>10} {'ratio':>6} "
        f"{'xrelay cpu':>10} {'ref cpu':>8} {'client cpu x/ref':>16}"
    )
    for a, b in zip(mine, ref, strict=True):
        c = a["client"]
        print(
            f"{c['n']:>8} {c['agg_mbps']:>12.1f} {b['client']['agg_mbps']:>10.1f} "
            f"{c['agg_mbps'] / max(b['client']['agg_mbps'], 0.1):>6.2f} "
            f"{a['server']['cpu_pct']:>9.1f}% {b['server']['cpu_pct']:>7.1f}% "
            f"{c['client_cpu_pct']:>8.0f}%/{b['client']['client_cpu_pct']:.0f}%"
        )


def channel_memory(data: Path, channels: int = 10, settle: float = 4.0) -> None:
    """RSS with one running channel, then with ``channels`` more."""
    port = free_port()
    server = subprocess.Popen(xrelay_command(data, port).split())
    sockets: list[socket.socket] = []
    try:
        time.sleep(2)

        def watch(channel: int) -> None:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(
                f"GET /live/u/p/{channel}.ts HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            sockets.append(s)

        def drain(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for s in sockets:
                    s.settimeout(0.01)
                    with contextlib.suppress(TimeoutError, BlockingIOError):
                        s.recv(1 << 20)

        watch(1)
        drain(settle)
        one = rss_kib(server.pid)
        for channel in range(2, 2 + channels):
            watch(channel)
        drain(settle)
        more = rss_kib(server.pid)
    finally:
        for s in sockets:
            s.close()
        server.terminate()
        server.wait(15)
    print(
        f"\nmemory per running channel: {(more - one) / channels / 1024:.1f} MiB "
        f"(RSS {one / 1024:.1f} -> {more / 1024:.1f} MiB for {channels} more "
        "channels, one viewer each; target <= 16)"
    )


def two_workers(tools: Path, data: Path, viewers: str, duration: int) -> None:
    port = free_port()
    listen = f"reuseport:{port}:interface=127.0.0.1"
    one = xrelay_command(data, port, listen)
    # The harness stops the server command with SIGTERM: pass it on to both.
    both = (
        f"bash -c '{one} & a=$!; {one} & b=$!; "
        'trap "kill $a $b; wait" TERM INT; wait\''
    )
    rows = run_fanout(
        tools,
        "xrelay-2proc",
        f"http://127.0.0.1:{port}/live/u/p/1.ts",
        viewers,
        duration,
        both,
        cores=("0,1", "0,1"),
    )
    print("\ntwo xrelay workers sharing the port (SO_REUSEPORT), all on both cores")
    for row in rows:
        c, s = row["client"], row["server"]
        print(
            f"{c['n']:>8} viewers: cpu {s['cpu_pct']:.1f}% (of one core), "
            f"agg {c['agg_mbps']:.0f} Mbit/s, p1 {c['per_client_mbps_p1']:.3f}, "
            f"stalls {c['stalls']}, failed {c['failed']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", default="100 1000", help='e.g. "100 1000"')
    parser.add_argument("--duration", type=int, default=10, help="window, seconds")
    parser.add_argument("--skip-unpaced", action="store_true")
    parser.add_argument("--two-workers", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xrelay-bench-") as tmp:
        tools, data = prepare(Path(tmp))
        paced(tools, data, args.viewers, args.duration)
        join_latency(tools, data)
        channel_memory(data)
        if not args.skip_unpaced:
            unpaced(tools, data, args.viewers, args.duration)
        if args.two_workers:
            two_workers(tools, data, args.viewers, args.duration)


if __name__ == "__main__":
    main()
