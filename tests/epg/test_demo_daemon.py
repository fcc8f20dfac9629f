"""``twistd -n xrelay --demo``: the demo channel has a guide covering now,
through the whole real path (file:// source, loop, database, API)."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from lxml import etree
from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import Daemon, xrelay_cli

CREDENTIALS = "username=demo&password=demo"


class DemoGuideTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)
        self.daemon = Daemon(self.workdir, "--demo")
        self.addCleanup(self.daemon.stop)
        self.daemon.start(ready_path=f"/player_api.php?{CREDENTIALS}")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(self.daemon.base + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers, response.read()

    def short_epg(self) -> list[dict[str, Any]]:
        _, body = self.get(
            f"/player_api.php?{CREDENTIALS}&action=get_short_epg&stream_id=1"
        )
        return list(json.loads(body)["epg_listings"])

    def test_the_demo_channel_has_a_guide_covering_now(self) -> None:
        deadline = time.monotonic() + 40  # the loop looks every 10 s
        while True:
            # The server reads its clock between these two: a programme
            # boundary may fall in between (the demo's are on the half hour).
            before = time.time()
            entries = self.short_epg()
            after = time.time()
            if entries:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no guide yet:\n{self.daemon.output()}")
            time.sleep(0.5)
        first = entries[0]
        self.assertEqual(first["now_playing"], 1)
        self.assertLessEqual(int(first["start_timestamp"]), after)
        self.assertGreater(int(first["stop_timestamp"]), before)
        self.assertTrue(base64.b64decode(first["title"]))
        self.assertEqual(first["channel_id"], "demo.xrelay")

        headers, body = self.get(
            f"/xmltv.php?{CREDENTIALS}", {"Accept-Encoding": "gzip"}
        )
        self.assertEqual(headers["content-encoding"], "gzip")
        tree = etree.fromstring(gzip.decompress(body))
        dtd = etree.DTD(str(Path(__file__).with_name("xmltv.dtd")))
        self.assertTrue(dtd.validate(tree), dtd.error_log.filter_from_errors())
        self.assertEqual([c.get("id") for c in tree.iter("channel")], ["demo.xrelay"])
        self.assertGreater(len(tree.findall("programme")), 100)

        status = self.cli("epg", "status", "--json")
        self.assertEqual(status["channels"][0]["rule"], "epg_channel_id")
        self.assertEqual(status["sources"][0]["state"], "ok")

    def cli(self, *argv: str) -> Any:
        done = subprocess.run(
            [
                *xrelay_cli(),
                "--data-dir",
                str(self.workdir / "xrelay-demo-data"),
                *argv,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(done.stdout)
