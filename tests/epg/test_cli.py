"""``xrelay epg``: sources, operator choices, refresh and the status review."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.test_crud import CliTestCase
from tests.epg._samples import guide, hourly, programme
from xrelay.epg import InlineDatabase, _sql
from xrelay.models import EpgSource

NO_ID = "no epg_id, so xmltv.php cannot list it (set one)"


def now() -> float:
    return time.time()


class EpgCommandTests(CliTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.ok(
            "channels",
            "add",
            "BBC One HD",
            "--number",
            "1",
            "--source",
            "udp://@239.1.1.1:5000",
        )
        self.ok(
            "channels", "add", "News", "--number", "2", "--epg-id", "news.uk",
            "--source", "udp://@239.1.1.2:5000",
        )  # fmt: skip
        self.ok(
            "channels",
            "add",
            "Nothing",
            "--number",
            "3",
            "--source",
            "udp://@239.1.1.3:5000",
        )
        self.guide_file = Path(self.mktemp()).resolve()
        self.guide_file.write_bytes(
            guide(
                *hourly("BBCOne.uk", now() - 3600, 5, "B"),
                *hourly("news.uk", now() - 3600, 5, "N"),
                programme("news.uk", now(), now() - 60, "Backwards"),
                channels=(("BBCOne.uk", "BBC One"), ("news.uk", "News")),
            )
        )

    def guide_db(self) -> InlineDatabase:
        db = InlineDatabase(os.path.join(self.data_dir, "epg.sqlite3"))
        self.addCleanup(db.close)
        return db

    def refresh(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """``xrelay epg refresh`` in its own process: it runs a reactor."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        cli = [sys.executable, "-m", "xrelay.cli", "--data-dir", self.data_dir]
        return subprocess.run(
            [*cli, "epg", "refresh", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )

    def test_sources(self) -> None:
        out = self.ok(
            "epg",
            "sources",
            "add",
            "Main",
            self.guide_file.as_uri(),
            "--priority",
            "5",
            "--offset",
            "-60",
        )
        self.assertEqual(out, "added guide source 1: Main\n")
        self.ok(
            "epg",
            "sources",
            "add",
            "Other",
            "https://example.org/g.xml.gz",
            "--disabled",
        )
        self.assertEqual(
            self.db().list_epg_sources(),
            [
                EpgSource(1, "Main", self.guide_file.as_uri(), True, 5, 0),
                EpgSource(2, "Other", "https://example.org/g.xml.gz", False, 0, 0),
            ],
        )
        self.assertEqual(self.guide_db().run(_sql.get_states)[1].offset_seconds, -3600)
        listed = self.ok("epg", "sources", "list")
        self.assertIn("-60 min", listed)
        self.assertIn("https://example.org/…", listed)
        self.ok(
            "epg", "sources", "set", "2", "--enabled", "--refresh", "600", "--name", "O"
        )
        self.assertEqual(
            self.db().list_epg_sources()[1],
            EpgSource(2, "O", "https://example.org/g.xml.gz", True, 0, 600),
        )
        self.ok("epg", "sources", "remove", "2")
        self.assertIn("no guide source 2", self.fails("epg", "sources", "remove", "2"))
        for bad in ("ftp://h/g.xml", "file:relative/g.xml", "http:///g.xml"):
            self.assertIn(
                "the URL must be" if bad.startswith("ftp") else bad,
                self.fails("epg", "sources", "add", "Bad", bad),
            )

    def test_refresh_then_review(self) -> None:
        self.ok("epg", "sources", "add", "Main", self.guide_file.as_uri())
        done = self.refresh()
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(
            "2 channels, 10 programmes (1 stop is not after start)", done.stdout
        )
        self.assertIn("programme on 'news.uk': stop is not after start", done.stdout)
        again = self.refresh()
        self.assertIn("unchanged", again.stdout)
        forced = self.refresh("--force")
        self.assertIn("10 programmes", forced.stdout)

        text = self.ok("epg", "status")
        lines = text.splitlines()
        self.assertRegex(
            lines[1],
            r"^1\s+BBC One HD\s+-\s+BBCOne\.uk\s+1\s+0\.70\s+5\s+name\s+"
            r"name 'BBC One HD' ~ display name 'BBC One' in Main; no epg_id",
        )
        self.assertRegex(
            lines[2],
            r"^2\s+News\s+news\.uk\s+news\.uk\s+1\s+1\.00\s+5\s+epg_channel_id\s+"
            r"id 'news\.uk' listed in Main$",
        )
        self.assertRegex(
            lines[3],
            r"^3\s+Nothing\s+-\s+-\s+-\s+0\.00\s+0\s+none\s+"
            r"no guide channel with a name like 'nothing'$",
        )
        self.assertIn("1 stop is not after start", text)
        self.assertTrue(
            text.endswith("Unmatched: 1 of 3 channels: 3 'Nothing'\n"), text
        )
        report = json.loads(self.ok("epg", "status", "--json", "--unmatched"))
        self.assertEqual(report["unmatched"], [3])
        self.assertEqual([c["channel"] for c in report["channels"]], [3])
        self.assertEqual(report["sources"][0]["state"], "ok")
        self.assertEqual(report["sources"][0]["programmes"], 10)

    def test_operator_choices(self) -> None:
        self.ok("epg", "sources", "add", "Main", self.guide_file.as_uri())
        self.assertEqual(self.refresh().returncode, 0)
        self.ok("epg", "map", "3", "news.uk")
        self.ok("epg", "unmap", "2")
        self.ok("epg", "offset", "1", "-30")
        report = json.loads(self.ok("epg", "status", "--json"))
        by_id = {c["channel"]: c for c in report["channels"]}
        self.assertEqual(
            (by_id[3]["guide_id"], by_id[3]["rule"], by_id[3]["why"]),
            ("news.uk", "manual", f"pinned to 'news.uk' in Main; {NO_ID}"),
        )
        self.assertEqual(
            (by_id[2]["guide_id"], by_id[2]["why"]), (None, "unmapped by the operator")
        )
        self.assertEqual(by_id[1]["offset_minutes"], -30)
        self.ok("epg", "auto", "2")
        report = json.loads(self.ok("epg", "status", "--json"))
        self.assertEqual(report["channels"][1]["rule"], "epg_channel_id")
        self.assertIn("no channel 9", self.fails("epg", "map", "9", "news.uk"))

    def test_refresh_failures_and_asking_the_daemon(self) -> None:
        self.ok("epg", "sources", "add", "Gone", "file:///nonexistent/guide.xml")
        done = self.refresh()
        self.assertEqual(done.returncode, 1)
        self.assertIn(
            "failed: file:///nonexistent/guide.xml: No such file", done.stdout
        )
        status = json.loads(self.ok("epg", "status", "--json"))
        self.assertEqual(status["sources"][0]["state"], "failing (1x)")
        self.assertEqual(
            self.ok("epg", "refresh", "--daemon"),
            "asked the daemon to refresh 1 sources\n",
        )
        self.assertIsNone(self.guide_db().run(_sql.get_states)[1].next_at)
