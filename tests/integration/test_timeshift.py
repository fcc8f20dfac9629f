"""Catch-up end to end: ``twistd -n xrelay --demo`` records its channel,
serves a past second of it (checked by PTS with ffprobe against what a
live viewer saw at that time), keeps it over a restart, and prunes by
quota."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import Daemon, require_binary
from tests.integration._sources import HttpViewer, wait_for, write_config

PACKET = 188
VIDEO_PID = 0x100  # the demo clip's


def video_pts(data: bytes) -> list[tuple[int, int]]:
    """(offset, PTS) of each video PES start in ``data``."""
    found = []
    for off in range(0, len(data) - PACKET + 1, PACKET):
        pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
        if pid != VIDEO_PID or not data[off + 1] & 0x40:
            continue
        start = off + 4 + (1 + data[off + 4] if data[off + 3] & 0x20 else 0)
        if data[start : start + 3] != b"\x00\x00\x01" or not data[start + 7] & 0x80:
            continue
        t = data[start + 9 : start + 14]
        pts = (
            ((t[0] >> 1) & 7) << 30
            | t[1] << 22
            | (t[2] >> 1) << 15
            | t[3] << 7
            | t[4] >> 1
        )
        found.append((off, pts))
    return found


def first_video_pts_by_ffprobe(ffprobe: str, path: Path) -> int:
    result = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_packets",
            "-show_entries",
            "packet=pts,flags",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    packets = json.loads(result.stdout)["packets"]
    assert packets, f"ffprobe found no video in {path}"
    assert packets[0]["flags"].startswith("K"), "the first frame is not a keyframe"
    return int(packets[0]["pts"])


def fetch(url: str, size: int) -> bytes:
    with urllib.request.urlopen(url, timeout=20) as response:
        assert response.status == 200, response.status
        assert response.headers["content-type"] == "video/mp2t"
        return response.read(size)


class TimeshiftDaemonTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.ffprobe = require_binary("ffprobe")
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)

    def start(self, **archive: float) -> Daemon:
        config = write_config(
            self.workdir / "xrelay.toml",
            self.workdir / "xrelay-demo-data",
            archive={"segment_seconds": 4.0, **archive},
        )
        daemon = Daemon(self.workdir, "--demo", "--config", str(config))
        self.addCleanup(daemon.stop)
        daemon.start(ready_path="/live/demo/demo/1.ts")
        return daemon

    def test_a_past_second_is_served_from_its_keyframe_even_after_a_restart(
        self,
    ) -> None:
        daemon = self.start()
        # A live viewer notes when each frame arrives: wall clock <-> PTS.
        viewer = HttpViewer(daemon.port, "/live/demo/demo/1.ts")
        self.addCleanup(viewer.close)
        clock_offset = time.time() - time.monotonic()
        watched_from = time.time()
        viewer.read_for(20)
        viewer.join(40)
        offsets = []
        for off, pts in video_pts(bytes(viewer.body)):
            arrived = next(t for t, n in viewer.arrivals if n > off) + clock_offset
            if arrived > watched_from + 4:  # past the join burst
                offsets.append(arrived - pts / 90_000)
        self.assertGreater(len(offsets), 100)
        wall_minus_pts = statistics.median(offsets)

        asked = int(watched_from + 12)
        url = f"{daemon.base}/timeshift/demo/demo/1/{asked}/1.ts"
        capture = self.workdir / "catchup.ts"
        capture.write_bytes(fetch(url, 400_000))
        first = first_video_pts_by_ffprobe(self.ffprobe, capture)
        starts_at = first / 90_000 + wall_minus_pts
        self.assertLessEqual(abs(starts_at - asked), 2.0, f"{starts_at - asked:+.2f} s")
        self.assertLessEqual(starts_at, asked + 0.5, "from the keyframe before it")

        # The minute forms and timeshift.php answer from the same recording.
        minute = time.strftime("%Y-%m-%d:%H-%M", time.gmtime(asked))
        php = (
            f"{daemon.base}/streaming/timeshift.php?username=demo&password=demo"
            f"&stream=1&start={time.strftime('%Y-%m-%d:%H:%M', time.gmtime(asked))}"
            "&duration=2"
        )
        self.assertEqual(fetch(php, PACKET)[:1], b"\x47")
        self.assertEqual(
            fetch(f"{daemon.base}/timeshift/demo/demo/2/{minute}/1.ts", PACKET)[:1],
            b"\x47",
        )

        # Players see the catch-up that is recorded.
        streams = wait_for(
            lambda: [
                s
                for s in json.load(
                    urllib.request.urlopen(
                        f"{daemon.base}/player_api.php?username=demo&password=demo"
                        "&action=get_live_streams",
                        timeout=10,
                    )
                )
                if s["tv_archive"] == 1
            ],
            15,
            "tv_archive 1 in get_live_streams",
            step=1.0,
        )
        self.assertEqual(streams[0]["tv_archive_duration"], 1)
        with urllib.request.urlopen(
            f"{daemon.base}/get.php?username=demo&password=demo&type=m3u_plus",
            timeout=10,
        ) as playlist:
            self.assertIn(b'catchup-source="', playlist.read())

        # Stopped and started again, the recording is still there.
        daemon.stop()
        recorded = sorted(
            (self.workdir / "xrelay-demo-data" / "archive" / "1").rglob("*")
        )
        self.assertTrue(any(p.suffix == ".ts" for p in recorded))
        self.assertTrue(any(p.suffix == ".idx" for p in recorded))
        again = self.start()
        capture.write_bytes(
            fetch(f"{again.base}/timeshift/demo/demo/1/{asked}/1.ts", 400_000)
        )
        self.assertEqual(first_video_pts_by_ffprobe(self.ffprobe, capture), first)
        again.stop()
        self.assertNotIn("Traceback", daemon.output() + again.output())

    def test_the_quota_deletes_the_oldest_recordings(self) -> None:
        # The demo clip is ~150 kB/s: 2 s segments of ~300 kB, 700 kB kept.
        daemon = self.start(segment_seconds=2.0, quota_gb=0.0007, prune_interval=1.0)
        archive = self.workdir / "xrelay-demo-data" / "archive"

        def names() -> list[str]:
            return sorted(p.name for p in archive.rglob("*.ts"))

        first = wait_for(names, 15, "a recording")[0]
        wait_for(lambda: first not in names(), 20, "the oldest segment deleted")
        size = sum(p.stat().st_size for p in archive.rglob("*.ts"))
        self.assertLess(size, 700_000 + 2 * 400_000)  # the quota, plus what records
        daemon.stop()
        self.assertIn("past their age or the quota", daemon.output())
