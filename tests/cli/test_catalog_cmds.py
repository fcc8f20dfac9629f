"""``xrelay import-m3u``, ``export`` and ``apply`` end to end, on real
SQLite files in temporary data dirs."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from xrelay.cli import main
from xrelay.cred.passwords import verify_password
from xrelay.models import Catalog
from xrelay.store import open_sync

from ..catalog._rich import rich_catalog

PLAYLIST = b"""#EXTM3U
#EXTINF:-1 tvg-id="bbc1.uk" tvg-logo="http://img/1.png" group-title="UK",BBC One
http://up.example/bbc1.ts
#EXTINF:-1 tvg-chno=50 group-title="UK",ITV
http://up.example/itv.ts
#EXTINF:-1,No Group
udp://@239.1.1.1:1234
"""

BROKEN = b"""#EXTM3U
#EXTINF:-1 group-title="UK",BBC One
http://up.example/bbc1.ts
#EXTINF:-1 tvg-name="unterminated,ITV
http://up.example/itv.ts
#EXTINF:-1,Runs a command
exec:rm -rf /
#EXTINF:-1,Nothing after
"""

SRC = Path(__file__).resolve().parents[2] / "src"


class CatalogCommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.tmp = Path(self.mktemp())
        self.tmp.mkdir()
        self.data = self.tmp / "data"

    def run_cli(self, *argv: str, data: Path | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", out)
        self.patch(sys, "stderr", err)
        code = main(["--data-dir", str(data or self.data), *argv])
        return code, out.getvalue(), err.getvalue()

    def file(self, name: str, content: bytes | str) -> str:
        path = self.tmp / name
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
        return str(path)

    def catalog(self, data: Path | None = None) -> Catalog:
        with closing(open_sync(str((data or self.data) / "xrelay.sqlite3"))) as db:
            return db.read_catalog()

    def store(self, catalog: Catalog) -> None:
        with closing(open_sync(str(self.data / "xrelay.sqlite3"))) as db:
            db.replace_catalog(catalog)

    # -- import-m3u

    def test_import(self) -> None:
        playlist = self.file("list.m3u", PLAYLIST)
        code, out, err = self.run_cli("import-m3u", playlist, "--category", "Misc")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(
            out,
            f"imported {playlist}: 3 added, 0 updated, 0 unchanged; "
            "2 categories added\n",
        )
        catalog = self.catalog()
        self.assertEqual(
            [(c.id, c.kind, c.name) for c in catalog.categories],
            [(1, "live", "UK"), (2, "live", "Misc")],
        )
        self.assertEqual(
            [
                (c.id, c.number, c.name, c.category_id, c.sources)
                for c in catalog.channels
            ],
            [
                (1, 1, "BBC One", 1, ("http://up.example/bbc1.ts",)),
                (2, 50, "ITV", 1, ("http://up.example/itv.ts",)),
                (3, 2, "No Group", 2, ("udp://@239.1.1.1:1234",)),
            ],
        )
        self.assertEqual(catalog.channels[0].epg_id, "bbc1.uk")
        self.assertEqual(catalog.channels[0].logo, "http://img/1.png")
        self.assertTrue(all(c.on_demand and c.added > 0 for c in catalog.channels))

    def test_reimport_changes_nothing(self) -> None:
        playlist = self.file("list.m3u", PLAYLIST)
        self.run_cli("import-m3u", playlist)
        before = self.catalog()
        code, out, _ = self.run_cli("import-m3u", playlist)
        self.assertEqual(code, 0)
        self.assertIn("0 added, 0 updated, 3 unchanged; 0 categories added", out)
        self.assertEqual(self.catalog(), before)

    def test_broken_playlist_imports_nothing(self) -> None:
        self.store(rich_catalog())
        playlist = self.file("broken.m3u", BROKEN)
        code, out, err = self.run_cli("import-m3u", playlist)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(
            err.splitlines()[:3],
            [
                f"{playlist}:4: unterminated quote in attribute tvg-name",
                f"{playlist}:7: exec: sources run commands on the server; "
                "refused from a playlist",
                f"{playlist}:8: #EXTINF is not followed by a URL line",
            ],
        )
        self.assertIn("3 problem(s); nothing imported", err)
        self.assertEqual(self.catalog(), rich_catalog())

    def test_import_dry_run(self) -> None:
        self.store(rich_catalog())
        code, out, _ = self.run_cli(
            "import-m3u", self.file("list.m3u", PLAYLIST), "--dry-run"
        )
        self.assertEqual(code, 0)
        self.assertEqual(
            out.splitlines(),
            [
                '+ category 8 "UK"',
                # the same URL as the stored BBC One: updated, not added
                '~ channel 1 "BBC One": category_id 1 -> 8, '
                "logo 'http://img.example/bbc1.png' -> 'http://img/1.png'",
                '+ channel 10 "ITV"',
                '+ channel 11 "No Group"',
                "dry run, nothing imported: would be 2 added, 1 updated, "
                "0 unchanged; 1 categories added",
            ],
        )
        self.assertEqual(self.catalog(), rich_catalog())

    def test_missing_file(self) -> None:
        code, _, err = self.run_cli("import-m3u", str(self.tmp / "nope.m3u"))
        self.assertEqual(code, 1)
        self.assertIn("nope.m3u", err)

    # -- export and apply

    def test_export_apply_round_trip(self) -> None:
        """Every table, every field: a fresh data dir ends up equal."""
        self.store(rich_catalog())
        code, document, _ = self.run_cli("export")
        self.assertEqual(code, 0)
        fresh = self.tmp / "fresh"
        code, out, err = self.run_cli(
            "apply", self.file("c.toml", document), data=fresh
        )
        self.assertEqual((code, err), (0, ""))
        self.assertIn("applied 21 change(s)", out)
        self.assertEqual(self.catalog(fresh), rich_catalog())
        code, out, _ = self.run_cli("apply", self.file("c.toml", document), data=fresh)
        self.assertEqual((code, out), (0, "no changes\n"))

    def test_export_to_a_private_file(self) -> None:
        self.store(rich_catalog())
        target = self.tmp / "out.toml"
        target.write_text("old")
        os.chmod(target, 0o644)
        code, out, _ = self.run_cli("export", "-o", str(target))
        self.assertEqual((code, out), (0, ""))
        self.assertEqual(stat.S_IMODE(target.stat().st_mode), 0o600)
        self.assertEqual(target.read_text(), self.run_cli("export")[1])

    def test_apply_shows_the_diff(self) -> None:
        self.store(rich_catalog())
        _, document, _ = self.run_cli("export")
        document = document.replace('name = "BBC One"', 'name = "BBC 1"')
        document = document[: document.index('[[users]]\nid = 2\nusername = "bob"')]
        code, out, _ = self.run_cli("apply", self.file("c.toml", document))
        self.assertEqual(code, 0)
        self.assertEqual(
            out.splitlines(),
            [
                "~ channel 1 \"BBC One\": name 'BBC One' -> 'BBC 1'",
                "- user bob",
                '- epg_source 1 "UK"',
                '- epg_source 2 "Off"',
                "applied 4 change(s)",
            ],
        )
        self.assertEqual([u.username for u in self.catalog().users], ["alice"])

    def test_apply_dry_run_changes_nothing(self) -> None:
        self.store(rich_catalog())
        document = self.file("empty.toml", "version = 1\n")
        code, out, _ = self.run_cli("apply", "--dry-run", document)
        self.assertEqual(code, 0)
        self.assertIn("- user alice\n", out)
        self.assertTrue(out.endswith("dry run: 21 change(s), nothing applied\n"))
        self.assertEqual(self.catalog(), rich_catalog())

    def test_apply_reports_every_error_and_applies_nothing(self) -> None:
        self.store(rich_catalog())
        document = self.file(
            "bad.toml",
            "version = 1\n"
            '[[categories]]\nid = 1\nkind = "live"\nname = "A"\nsize = 3\n'
            '[[channels]]\nid = 1\nnumber = 1\nname = "X"\ncategory_id = 2\n'
            '[[users]]\nid = 1\nusername = "a b"\npassword = "pw"\n',
        )
        code, out, err = self.run_cli("apply", document)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(
            err.splitlines()[:3],
            [
                f"{document}: categories[0].size: unknown field",
                f"{document}: channels[0].category_id: no live category with id 2",
                f"{document}: users[0].username: must be 1 to 64 of the characters "
                "A-Z a-z 0-9 . _ @ -",
            ],
        )
        self.assertIn("3 error(s); nothing applied", err)
        self.assertEqual(self.catalog(), rich_catalog())

    def test_apply_plain_passwords(self) -> None:
        document = self.file(
            "users.toml",
            'version = 1\n[[users]]\nid = 1\nusername = "carol"\npassword = "s3cret"\n',
        )
        code, out, _ = self.run_cli("apply", document)
        self.assertEqual((code, out), (0, "+ user carol\napplied 1 change(s)\n"))
        (user,) = self.catalog().users
        self.assertTrue(verify_password("s3cret", user.password_hash))
        self.assertEqual(self.run_cli("apply", document)[1], "no changes\n")
        _, document_text, _ = self.run_cli("export")
        self.assertNotIn("s3cret", document_text)


class FetchCommandTests(SynchronousTestCase):
    """import-m3u from an http URL: a real command (the reactor runs once per
    process) against a server on 127.0.0.1."""

    def setUp(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/get.php"):
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(PLAYLIST)
                else:
                    self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.data = Path(self.mktemp())

    def xrelay(self, *argv: str) -> subprocess.CompletedProcess[str]:
        code = "import sys; from xrelay.cli import main; sys.exit(main(sys.argv[1:]))"
        return subprocess.run(
            [sys.executable, "-c", code, "--data-dir", str(self.data), *argv],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(SRC)},
            timeout=60,
            check=False,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def test_fetch(self) -> None:
        done = self.xrelay("import-m3u", self.url("/get.php?username=u&password=pw"))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(
            done.stdout,
            f"imported {self.url('/get.php')}: 3 added, 0 updated, 0 unchanged; "
            "1 categories added\n",
        )

    def test_http_error(self) -> None:
        done = self.xrelay("import-m3u", self.url("/nope?password=pw"))
        self.assertEqual(done.returncode, 1)
        self.assertIn(f"HTTP 404 Not Found from {self.url('/nope')}", done.stderr)
        self.assertNotIn("pw", done.stderr)
