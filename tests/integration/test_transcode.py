"""Transcoded channels end to end: a real ``twistd -n xrelay`` running a
real ffmpeg on the demo channel, real viewers, ffprobe on what they got, and
the daemon's child processes read from /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import (
    Daemon,
    require_binary,
    twistd_command,
    xrelay_cli,
)
from tests.integration._sources import (
    PACKET,
    HttpViewer,
    alive,
    children_of,
    ffprobe_streams,
    kill_if_alive,
    provision,
    wait_for,
    write_config,
)
from xrelay.cred.passwords import hash_password
from xrelay.demo import demo_media_path

USER, PASSWORD = "viewer", "pw"
PROFILE = {  # small and fast: this machine is shared
    "height": 180,
    "video_bitrate": 300,
    "preset": "ultrafast",
    "audio_bitrate": 64,
}
TRANSCODED = 2  # channel 2 is channel 1 (the demo media) through "small"
CHANNELS = [
    {
        "id": 1,
        "number": 1,
        "name": "Demo",
        "sources": [demo_media_path().as_uri()],
    },
    {
        "id": TRANSCODED,
        "number": 2,
        "name": "Demo small",
        "sources": ["transcode:1?profile=small"],
    },
]


def processes_with(marker: str) -> dict[int, str]:
    """Every live process whose command line mentions ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if marker.encode() in cmdline and alive(int(entry.name)):
            found[int(entry.name)] = cmdline.decode("utf-8", "replace")
    return found


class TranscodeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.ffprobe = require_binary("ffprobe")
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)
        # ffmpeg is run through a link whose path names this test run, so
        # its processes are found even if they outlived the daemon.
        self.marker = f"xrelay-transcode-{uuid.uuid4().hex[:12]}"
        bin_dir = self.workdir / self.marker
        bin_dir.mkdir()
        self.ffmpeg = bin_dir / "ffmpeg"
        self.ffmpeg.symlink_to(require_binary("ffmpeg"))
        self.addCleanup(self.kill_leftovers)
        self.token = uuid.uuid4().hex

    def kill_leftovers(self) -> None:
        for pid in processes_with(self.marker):
            kill_if_alive(pid)

    def start_daemon(self) -> Daemon:
        data_dir = self.workdir / "data"
        provision(
            data_dir,
            CHANNELS,
            [{"id": 1, "username": USER, "password": PASSWORD, "max_connections": 5}],
            xrelay_cli(),
        )
        config = write_config(
            self.workdir / "xrelay.toml",
            data_dir,
            live={"linger": 1.0},
            failover={"stall_timeout": 5.0, "retry_interval": 1.0},
            admin={"token_hash": hash_password(self.token)},
            transcode={"ffmpeg": str(self.ffmpeg), "profiles": {"small": PROFILE}},
        )
        daemon = Daemon(self.workdir, "--config", str(config))
        self.addCleanup(daemon.stop)
        daemon.start()
        return daemon

    def viewer(self, daemon: Daemon, path: str) -> HttpViewer:
        viewer = HttpViewer(daemon.port, f"/live/{USER}/{PASSWORD}/{path}")
        self.addCleanup(viewer.close)
        return viewer

    def status(self, daemon: Daemon) -> dict[str, Any]:
        request = urllib.request.Request(
            daemon.base + "/admin/status",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def transcoding(self, daemon: Daemon) -> dict[str, Any] | None:
        """Channel 2's source health while its ffmpeg plays, else None."""
        for channel in self.status(daemon)["channels"]:
            source = channel["source"]
            if channel["channel"] == TRANSCODED and source.get("state") == "live":
                health: dict[str, Any] = source["active_health"]
                return health if health.get("pid") else None
        return None

    def assert_transcoded(self, data: bytes, name: str) -> None:
        self.assertEqual(data[::PACKET], b"\x47" * len(data[::PACKET]), "not TS")
        capture = self.workdir / name
        capture.write_bytes(data[: len(data) - len(data) % PACKET])
        streams = ffprobe_streams(capture)
        video = next(s for s in streams if s["codec_type"] == "video")
        self.assertEqual(
            (video["codec_name"], video["width"], video["height"]),
            ("h264", 320, 180),  # the demo is 640x360, like the slate
        )
        self.assertIn("aac", [s["codec_name"] for s in streams])

    def stop_daemon(self, daemon: Daemon) -> None:
        self.assertIn(daemon.stop(), (0, -signal.SIGTERM))
        log = daemon.output()
        for bad in ("Traceback", "Unhandled Error", "Unhandled error"):
            self.assertNotIn(bad, log)

    def test_a_transcoded_channel_and_a_profile_variant_play(self) -> None:
        daemon = self.start_daemon()
        derived = self.viewer(daemon, f"{TRANSCODED}.ts")
        self.assertEqual(derived.read_headers(), 200)
        self.assert_transcoded(derived.read_until(120_000, timeout=40), "derived.ts")
        variant = self.viewer(daemon, "1.ts?profile=small")
        self.assertEqual(variant.read_headers(), 200)
        self.assert_transcoded(variant.read_until(120_000, timeout=40), "variant.ts")
        health = self.transcoding(daemon)
        assert health is not None
        self.assertEqual(
            (health["transcode"], health["parent"], health["encoder"]),
            ("small", 1, "libx264"),
        )
        channels = self.status(daemon)["channels"]
        self.assertIn(
            ("small", 1), [(c.get("variant"), c["channel"]) for c in channels]
        )
        ffmpegs = processes_with(self.marker)
        self.assertEqual(len(ffmpegs), 2, ffmpegs)  # one per derived channel
        self.assertTrue(set(ffmpegs) <= set(children_of(daemon.process.pid)))  # type: ignore[union-attr]
        # SIGTERM with both still watched: every ffmpeg goes with the daemon.
        self.stop_daemon(daemon)
        self.assertEqual(processes_with(self.marker), {})

    def test_a_killed_ffmpeg_restarts_and_none_is_left_behind(self) -> None:
        daemon = self.start_daemon()
        assert daemon.process is not None
        viewer = self.viewer(daemon, f"{TRANSCODED}.ts")
        viewer.read_for(120)  # in a thread; closed below
        first = wait_for(lambda: self.transcoding(daemon), 40, "ffmpeg to run")
        pid = first["pid"]
        self.assertIn(pid, children_of(daemon.process.pid))
        self.assertIn(self.marker, processes_with(self.marker)[pid])
        wait_for(lambda: len(viewer.body) > 50_000, 30, "the first ffmpeg's output")

        os.kill(pid, signal.SIGKILL)  # a child of our daemon, checked above
        again = wait_for(
            lambda: (h := self.transcoding(daemon)) and h["pid"] != pid and h,
            40,
            "ffmpeg to be restarted",
        )
        self.assertIn(again["pid"], children_of(daemon.process.pid))
        self.assertEqual(again["ffmpeg_starts"], 2)
        self.assertIn("transcode:1?profile=small: killed by SIGKILL", daemon.output())
        # What the viewer gets from now on is the new ffmpeg's output.
        time.sleep(1.0)
        start = len(viewer.body)
        wait_for(lambda: len(viewer.body) > start + 100_000, 40, "data after restart")
        self.assert_transcoded(bytes(viewer.body[start:]), "after-restart.ts")

        viewer.close()  # the last viewer leaves: after the linger, no ffmpeg
        wait_for(lambda: not processes_with(self.marker), 20, "ffmpeg to end")
        wait_for(
            lambda: not self.status(daemon)["channels"], 20, "both channels to stop"
        )
        self.stop_daemon(daemon)
        self.assertEqual(processes_with(self.marker), {})


class MissingFfmpegTests(SynchronousTestCase):
    def run_twistd(self, config: Path, path: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*twistd_command(), "-n", "--pidfile=", "xrelay", "--config", str(config)],
            env={**os.environ, "PATH": path},
            cwd=config.parent,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def test_no_ffmpeg_on_path_refuses_to_start(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir(parents=True)
        empty = workdir / "bin"
        empty.mkdir()
        config = write_config(
            workdir / "xrelay.toml",
            workdir / "data",
            transcode={"profiles": {"small": PROFILE}},
        )
        result = self.run_twistd(config, str(empty))
        self.assertNotEqual(result.returncode, 0)
        output = result.stdout + result.stderr
        self.assertIn(
            f"{config}: transcode.ffmpeg: 'ffmpeg' not found (an executable on "
            "PATH or a path); transcode.profiles (small) need it",
            output,
        )
        self.assertNotIn("Traceback", output)
        self.assertFalse((workdir / "data").exists(), "it must not have started")
