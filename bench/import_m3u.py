"""Time `xrelay import-m3u` on a 10,000-entry playlist (50 groups).

Runs the real command line (what the ``xrelay`` console script runs) in a
subprocess on a fresh data dir, so the figure includes start-up, parsing,
planning and the one SQLite transaction.  Then: a re-import (which must
change nothing), and a playlist with broken lines (which must import
nothing).

    PYTHONPATH=src python bench/import_m3u.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRIES = 10_000
GROUPS = 50
TARGET_SECONDS = 10.0
SRC = Path(__file__).resolve().parent.parent / "src"
XRELAY = "import sys; from xrelay.cli import main; sys.exit(main(sys.argv[1:]))"


def playlist(broken_lines: int = 0) -> str:
    lines = ['#EXTM3U url-tvg="http://epg.example/guide.xml"']
    for i in range(ENTRIES):
        lines.append(
            f'#EXTINF:-1 tvg-id="ch{i}.example" tvg-name="Channel {i}" '
            f'tvg-logo="http://img.example/{i}.png" group-title="Group {i % GROUPS}",'
            f"Channel {i}"
        )
        lines.append(f"http://upstream.example:8080/live/{i}.ts")
    for i in range(broken_lines):  # spread through the file
        lines[1 + i * 2 * (ENTRIES // broken_lines)] = (
            f'#EXTINF:-1 tvg-name="broken {i},X'
        )
    return "\n".join(lines) + "\n"


def xrelay(
    data_dir: Path, *args: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", XRELAY, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return time.perf_counter() - start, done


def channels_in_store(data_dir: Path) -> int:
    _, done = xrelay(data_dir, "export")
    return done.stdout.count("[[channels]]")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        good, bad = root / "good.m3u", root / "bad.m3u"
        good.write_text(playlist())
        bad.write_text(playlist(broken_lines=3))

        data = root / "data"
        elapsed, done = xrelay(data, "import-m3u", str(good))
        if done.returncode != 0:
            print(done.stdout, done.stderr, sep="\n")
            return 1
        verdict = "OK" if elapsed < TARGET_SECONDS else "TOO SLOW"
        print(
            f"import-m3u, {ENTRIES} entries in {GROUPS} groups: {elapsed:.2f} s "
            f"(target < {TARGET_SECONDS:g} s) {verdict}"
        )
        print(f"  {done.stdout.strip()}")

        elapsed, done = xrelay(data, "import-m3u", str(good))
        print(f"re-import of the same playlist: {elapsed:.2f} s")
        print(f"  {done.stdout.strip()}")

        empty = root / "empty"
        elapsed, done = xrelay(empty, "import-m3u", str(bad))
        problems = done.stderr.strip().splitlines()
        print(
            f"broken playlist: exit {done.returncode} in {elapsed:.2f} s, "
            f"{channels_in_store(empty)} channels in the store; stderr:"
        )
        for line in problems:
            print(f"  {line}")
        return 0 if elapsed < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
