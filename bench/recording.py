"""Catch-up recording benchmark: N channels recorded at once by one xrelay.

Provisions a throw-away data directory with N always-running channels, each
a ``file://`` loop of the sample (paced by its PCR, as a live source), and
measures the daemon over a window with procmon (../shared/bench):

- baseline: the N channels running with nobody watching, not recorded;
- recording: the same N channels with ``archive_days = 1``.

It prints the CPU of each (% of one core), the recording's extra CPU, the
archive's write rate (MB/s, from the files' growth over the window) against
the channels' input rate, and whether the disk ever fell behind (the
recorder logs it).  Everything runs on 127.0.0.1 and stops by itself.

    python bench/recording.py                       # 20 channels, 30 s windows
    python bench/recording.py --channels 20 --duration 30 --sample FILE.ts
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _common import free_port, stop_process, stream_mbps, twistd

REPO = Path(__file__).resolve().parents[1]
HARNESS = Path(os.environ.get("XRELAY_BENCH_HARNESS", REPO.parent / "shared" / "bench"))
DEMO_TS = REPO / "src" / "xrelay" / "media" / "demo.ts"
WARMUP = 8.0  # the archive is read, channels start, files open


def provision(work: Path, sample: Path, channels: int, archive_days: int) -> Path:
    """A data directory with the channels (always on) and one user."""
    import tomli_w

    data = work / f"data-{archive_days}"
    rows = [
        {
            "id": n,
            "number": n,
            "name": f"bench {n}",
            "sources": [sample.as_uri()],
            "on_demand": False,
            "archive_days": archive_days,
        }
        for n in range(1, channels + 1)
    ]
    document = work / f"catalog-{archive_days}.toml"
    document.write_text(tomli_w.dumps({"version": 1, "channels": rows}))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "xrelay.cli",
            "--data-dir",
            str(data),
            "apply",
            str(document),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return data


def archive_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "archive").rglob("*") if p.is_file())


def run(work: Path, data: Path, duration: float) -> dict[str, float]:
    """Start xrelay on ``data``, measure it for ``duration`` seconds."""
    port = free_port()
    log = work / f"{data.name}.log"
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'src'}"}
    daemon = subprocess.Popen(
        [
            twistd(),
            "-n",
            "--pidfile=",
            f"--logfile={log}",
            "xrelay",
            "--data-dir",
            str(data),
            "--http",
            f"tcp:{port}:interface=127.0.0.1",
        ],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"xrelay did not start; see {log}")
        time.sleep(WARMUP)
        before = archive_bytes(data) if (data / "archive").exists() else 0
        started = time.monotonic()
        procmon = subprocess.run(
            [
                sys.executable,
                str(HARNESS / "procmon.py"),
                str(daemon.pid),
                str(duration),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 60,
        )
        elapsed = time.monotonic() - started
        after = archive_bytes(data) if (data / "archive").exists() else 0
    finally:
        stop_process(daemon, grace=30)
    stats = json.loads(procmon.stdout.strip().splitlines()[-1])
    text = log.read_text("utf-8", "replace")
    return {
        "cpu_pct": stats["cpu_pct"],
        "rss_peak_mb": stats["rss_peak_mb"],
        "write_mb_s": (after - before) / elapsed / 1e6,
        "behind": text.count("the disk is behind"),
        "tracebacks": text.count("Traceback"),
        "segments": len(list((data / "archive").rglob("*.ts")))
        if (data / "archive").exists()
        else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--sample", type=Path, default=DEMO_TS)
    args = parser.parse_args()
    if not 1 <= args.channels <= 200 or not 5 <= args.duration <= 300:
        parser.error("--channels 1-200, --duration 5-300 s")
    if not (HARNESS / "procmon.py").exists():
        sys.exit(f"procmon.py not found in {HARNESS} (set XRELAY_BENCH_HARNESS)")
    rate = stream_mbps(args.sample)
    with tempfile.TemporaryDirectory(prefix="xrelay-bench-rec-") as tmp:
        work = Path(tmp)
        results = {
            label: run(
                work, provision(work, args.sample, args.channels, days), args.duration
            )
            for label, days in (("baseline", 0), ("recording", 1))
        }
    base, rec = results["baseline"], results["recording"]
    input_mb_s = args.channels * rate / 8
    print(
        f"{args.channels} channels of {args.sample.name} ({rate:.2f} Mbit/s each, "
        f"{input_mb_s:.2f} MB/s in all), {args.duration:.0f} s windows after "
        f"{WARMUP:.0f} s warm-up, one xrelay process"
    )
    print(f"{'run':>10} {'cpu %':>7} {'rss MB':>7} {'write MB/s':>11} {'segments':>9}")
    for label, r in results.items():
        print(
            f"{label:>10} {r['cpu_pct']:>7.1f} {r['rss_peak_mb']:>7.0f} "
            f"{r['write_mb_s']:>11.2f} {r['segments']:>9.0f}"
        )
    print(
        f"recording costs {rec['cpu_pct'] - base['cpu_pct']:.1f} % of a core "
        f"({(rec['cpu_pct'] - base['cpu_pct']) / args.channels:.2f} % per channel); "
        f"writes {rec['write_mb_s']:.2f} MB/s = "
        f"{100 * rec['write_mb_s'] / input_mb_s:.0f} % of the input; "
        f"disk fell behind {rec['behind']:.0f} times; "
        f"tracebacks {base['tracebacks'] + rec['tracebacks']:.0f}"
    )


if __name__ == "__main__":
    main()
