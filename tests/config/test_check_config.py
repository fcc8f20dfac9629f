"""``xrelay check-config PATH``, through its argparse registration."""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from xrelay.cli import _check_config


def run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="xrelay")
    _check_config.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    out = io.StringIO()
    code: int = args.func(args, out)
    return code, out.getvalue()


class CheckConfigTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.path = str(Path(directory.name) / "xrelay.toml")

    def write(self, text: str) -> None:
        Path(self.path).write_text(text, encoding="utf-8")

    def test_valid_file(self) -> None:
        self.write('[server]\nnode_name = "edge-1"\ndata_dir = "/d"\n')
        code, out = run("check-config", self.path)
        self.assertEqual(code, 0)
        self.assertEqual(
            out,
            f"{self.path}: OK\n"
            "  node: edge-1\n"
            "  data directory: /d\n"
            "  store: /d/xrelay.sqlite3\n"
            "  http: tcp:8080:interface=127.0.0.1\n"
            "  log: text, level info\n",
        )

    def test_invalid_file_prints_the_report(self) -> None:
        self.write('[log]\nformat = "xml"\n[live]\nlinger = -1\n')
        code, out = run("check-config", self.path)
        self.assertEqual(code, 1)
        self.assertEqual(
            out,
            f"{self.path}: log.format: must be one of 'text', 'json', not 'xml'\n"
            f"{self.path}: live.linger: must be between 0.0 and 3600.0, not -1.0\n",
        )

    def test_syntax_error(self) -> None:
        self.write("[log\n")
        code, out = run("check-config", self.path)
        self.assertEqual(code, 1)
        self.assertTrue(out.startswith(f"{self.path}:1: invalid TOML: "))

    def test_missing_file(self) -> None:
        code, out = run("check-config", self.path)
        self.assertEqual(code, 1)
        self.assertEqual(out, f"{self.path}: cannot read: No such file or directory\n")
