"""The Xtream API of a real ``twistd -n xrelay``, provisioned with the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import Daemon, xrelay_cli

REPO = Path(__file__).resolve().parents[2]


class DaemonTests(SynchronousTestCase):
    def setUp(self) -> None:
        # The subprocesses run elsewhere: a relative PYTHONPATH (src:.) would
        # not find this checkout's package and plugin from there.
        previous = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = _pythonpath()
        self.addCleanup(_restore_pythonpath, previous)
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)
        self.data = self.workdir / "data"
        self.cli("users", "add", "alice", "--password-stdin", stdin="pw\n")
        self.cli("categories", "add", "live", "News")
        self.cli(
            "channels", "add", "News 24", "--number", "7", "--category", "1",
            "--source", "udp://@239.1.1.1:5000", "--epg-id", "news.uk",
        )  # fmt: skip
        self.daemon = Daemon(self.workdir, "--data-dir", str(self.data))
        self.addCleanup(self.daemon.stop)
        self.daemon.start()

    def cli(self, *argv: str, stdin: str = "") -> None:
        subprocess.run(
            [*xrelay_cli(), "--data-dir", str(self.data), *argv],
            input=stdin.encode(),
            check=True,
            capture_output=True,
            timeout=30,
        )

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        with urllib.request.urlopen(self.daemon.base + path, timeout=10) as response:
            return response.status, dict(response.headers), response.read()

    def api(self, **params: str) -> Any:
        query = "".join(f"&{k}={v}" for k, v in params.items())
        _, _, body = self.get(f"/player_api.php?username=alice&password=pw{query}")
        return json.loads(body)

    def test_login_lists_and_playlist(self) -> None:
        login = self.api()
        self.assertEqual(login["user_info"]["auth"], 1)
        self.assertEqual(login["server_info"]["url"], "127.0.0.1")
        self.assertEqual(login["server_info"]["port"], str(self.daemon.port))
        [channel] = self.api(action="get_live_streams")
        self.assertEqual(
            (channel["num"], channel["name"], channel["epg_channel_id"]),
            (7, "News 24", "news.uk"),
        )
        status, headers, body = self.get("/get.php?username=alice&password=pw")
        self.assertEqual((status, headers["Content-Type"]), (200, "audio/x-mpegurl"))
        base = self.daemon.base
        self.assertEqual(
            body.decode().splitlines(),
            [
                f'#EXTM3U x-tvg-url="{base}/xmltv.php?username=alice&password=pw"'
                f' url-tvg="{base}/xmltv.php?username=alice&password=pw"',
                '#EXTINF:-1 tvg-id="news.uk" tvg-name="News 24" tvg-logo=""'
                ' group-title="News" tvg-chno="7",News 24',
                f"{base}/live/alice/pw/1.ts",
            ],
        )
        failed = self.get("/player_api.php?username=alice&password=nope")
        self.assertEqual((failed[0], failed[2]), (200, b'{"user_info":{"auth":0}}'))

    def test_cli_changes_show_within_seconds(self) -> None:
        self.assertEqual(len(self.api(action="get_live_streams")), 1)
        self.cli("channels", "add", "Sport", "--number", "8")
        deadline = time.monotonic() + 15
        while len(self.api(action="get_live_streams")) != 2:
            self.assertLess(time.monotonic(), deadline, "the change never showed")
            time.sleep(0.2)


def _pythonpath() -> str:
    entries = [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(filter(None, entries))


def _restore_pythonpath(previous: str | None) -> None:
    if previous is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = previous
