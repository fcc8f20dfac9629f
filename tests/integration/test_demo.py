"""``twistd -n xrelay --demo`` end to end: real process, sockets, ffprobe."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import Daemon, require_binary, xrelay_cli

DEMO_PATH = "/live/demo/demo/1.ts"


def read_some(url: str, size: int, timeout: float = 10) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.headers["content-type"], response.read(size)


def open_as(url: str, player: str) -> Any:
    """A stream opened by one player (User-Agent): limits count players."""
    request = urllib.request.Request(url, headers={"User-Agent": player})
    return urllib.request.urlopen(request, timeout=10)


def http_error(url: str, player: str = "Python-urllib") -> urllib.error.HTTPError:
    try:
        open_as(url, player).close()
    except urllib.error.HTTPError as e:
        return e
    raise AssertionError(f"{url} did not fail")


class JsonLogTests(SynchronousTestCase):
    def test_json_log_is_one_structured_event_per_line(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir(parents=True)
        daemon = Daemon(workdir, "--demo", "--log-format", "json")
        self.addCleanup(daemon.stop)
        daemon.start(ready_path=DEMO_PATH)
        read_some(daemon.base + DEMO_PATH, 188)
        http_error(daemon.base + "/live/demo/s3cr3t-guess/1.ts")
        daemon.stop()
        text = daemon.log_path.read_text()
        self.assertNotIn("s3cr3t-guess", text)
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        self.assertGreater(len(events), 3)
        for event in events:
            self.assertIn("log_level", event)
            self.assertIn("log_namespace", event)
        ours = [e for e in events if e["log_namespace"].startswith("xrelay")]
        self.assertTrue(ours, "xrelay's own events are in the log")
        # fields stay separate values, not only text baked into a message
        self.assertTrue(any(len(e) > 8 for e in ours), ours[:3])


class DemoTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.ffprobe = require_binary("ffprobe")
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)
        self.daemon = Daemon(self.workdir, "--demo")
        self.addCleanup(self.daemon.stop)
        self.daemon.start(ready_path=DEMO_PATH)

    def test_ffprobe_finds_h264_and_aac_quickly(self) -> None:
        started = time.monotonic()
        result = subprocess.run(
            [
                self.ffprobe,
                "-v",
                "error",
                "-show_streams",
                "-of",
                "json",
                self.daemon.base + DEMO_PATH,
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        elapsed = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        codecs = {s["codec_name"] for s in json.loads(result.stdout)["streams"]}
        self.assertEqual(codecs, {"h264", "aac"})
        self.assertLess(elapsed, 5.0, f"ffprobe needed {elapsed:.1f}s")

    def test_a_joining_viewer_decodes_its_first_frame_cleanly(self) -> None:
        read_some(self.daemon.base + DEMO_PATH, 188)  # the channel is running now
        _, _, head = read_some(self.daemon.base + DEMO_PATH, 150_000)
        capture = self.workdir / "join.ts"
        capture.write_bytes(head)
        result = subprocess.run(
            [
                require_binary("ffmpeg"),
                "-v",
                "error",
                "-i",
                str(capture),
                "-frames:v",
                "1",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        self.assertEqual(result.returncode, 0)
        self.assertEqual(result.stderr.decode(), "", "decoding errors at the join")

    def test_stream_is_mpegts_and_paced(self) -> None:
        url = self.daemon.base + DEMO_PATH
        with urllib.request.urlopen(url, timeout=10) as response:
            self.assertEqual(response.headers["content-type"], "video/mp2t")
            burst = response.read(600_000)  # join burst (<= ~3 s) and then some
            started = time.monotonic()
            paced = response.read(300_000)  # ~2 s of the 1.2 Mbit/s demo
            elapsed = time.monotonic() - started
        data = burst + paced
        self.assertEqual(data[::188], b"\x47" * len(data[::188]))
        self.assertGreater(elapsed, 1.2, "a live channel must come in real time")

    def test_wrong_password_gets_401_and_no_media(self) -> None:
        error = http_error(self.daemon.base + "/live/demo/wrong/1.ts")
        self.assertEqual(error.code, 401)
        self.assertEqual(error.headers["content-type"], "text/plain; charset=utf-8")
        self.assertNotIn(b"\x47", error.read()[:1])

    def test_third_connection_is_refused(self) -> None:
        url = self.daemon.base + DEMO_PATH
        time.sleep(3.5)  # the readiness probe's slot stays reserved for 3 s (zap grace)
        first = open_as(url, "tv-1")
        second = open_as(url, "tv-2")
        try:
            first.read(188)
            second.read(188)
            self.assertEqual(http_error(url, "tv-3").code, 403)
        finally:
            first.close()
            second.close()
        # the slots come back once the viewers leave
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                read_some(url, 188)
                break
            except urllib.error.HTTPError:
                time.sleep(0.2)
        else:
            self.fail("connection slots were not released")

    def test_legacy_url_and_unknown_channel(self) -> None:
        status, _, data = read_some(self.daemon.base + "/demo/demo/1", 188)
        self.assertEqual((status, data[:1]), (200, b"\x47"))
        self.assertEqual(
            http_error(self.daemon.base + "/live/demo/demo/99.ts").code, 404
        )

    def test_credentials_never_reach_the_log(self) -> None:
        read_some(self.daemon.base + DEMO_PATH, 188)
        http_error(self.daemon.base + "/live/demo/s3cr3t-guess/1.ts")
        self.daemon.stop()
        log = self.daemon.output()
        self.assertIn("/live/demo/***/1.ts", log)
        self.assertNotIn("s3cr3t-guess", log)

    def test_sigterm_closes_viewers_and_flushes_the_store(self) -> None:
        response = urllib.request.urlopen(self.daemon.base + DEMO_PATH, timeout=10)
        response.read(188)
        # twistd ends a clean SIGTERM shutdown by re-raising the signal
        self.assertIn(self.daemon.stop(), (0, -signal.SIGTERM))
        response.read()  # returns (EOF) instead of hanging: the viewer was closed
        response.close()
        log = self.daemon.output()
        self.assertIn("Server Shut Down", log)
        self.assertNotIn("Traceback", log)
        wal = self.workdir / "xrelay-demo-data" / "xrelay.sqlite3-wal"
        self.assertTrue(
            not wal.exists() or wal.stat().st_size == 0, "WAL not checkpointed"
        )

    def test_admin_cli_works_while_the_daemon_runs(self) -> None:
        data_dir = str(self.workdir / "xrelay-demo-data")
        subprocess.run(
            [
                *xrelay_cli(),
                "--data-dir",
                data_dir,
                "users",
                "add",
                "bob",
                "--password-stdin",
                "--max-connections",
                "1",
            ],
            input=b"hunter2\n",
            check=True,
            timeout=30,
            cwd=self.workdir,
        )
        status, _, data = read_some(self.daemon.base + "/live/bob/hunter2/1.ts", 188)
        self.assertEqual((status, data[:1]), (200, b"\x47"))


class ConfigRefusalTests(SynchronousTestCase):
    def test_invalid_config_is_refused_naming_every_bad_key(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir(parents=True)
        config = workdir / "bad.toml"
        config.write_text(
            '[server]\nhttp = ["tcp:notaport"]\ndata_dir = 42\nbogus = 1\n'
            '[live]\nlinger = "long"\n'
        )
        daemon = Daemon(workdir, "--config", str(config), listen=False)
        result = subprocess.run(
            daemon.args, cwd=workdir, capture_output=True, timeout=60
        )
        output = (result.stdout + result.stderr).decode()
        self.assertNotEqual(result.returncode, 0)
        for key in ("server.http[0]", "server.data_dir", "server.bogus", "live.linger"):
            self.assertIn(key, output)
        self.assertIn(str(config), output)
        self.assertEqual(list(workdir.iterdir()), [config], "nothing may be written")
