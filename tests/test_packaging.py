"""The built wheel carries the twistd plugin, every package, and the demo."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

REPO = Path(__file__).resolve().parents[1]


class WheelTests(SynchronousTestCase):
    def setUp(self) -> None:
        outdir = Path(self.mktemp())
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "-q",
                "-w",
                str(outdir),
                str(REPO),
            ],
            check=True,
            timeout=300,
        )
        [wheel] = outdir.glob("xrelay-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            self.names = set(archive.namelist())

    def test_plugin_is_shipped_without_a_plugins_init(self) -> None:
        self.assertIn("twisted/plugins/xrelay_plugin.py", self.names)
        self.assertIn("twisted/plugins/xrelay_endpoints.py", self.names)
        self.assertNotIn("twisted/plugins/__init__.py", self.names)
        self.assertNotIn("twisted/__init__.py", self.names)

    def test_every_package_is_in_the_wheel(self) -> None:
        packages = sorted(
            init.parent.relative_to(REPO / "src").as_posix()
            for init in (REPO / "src" / "xrelay").rglob("__init__.py")
        )
        self.assertIn("xrelay/web", packages)
        missing = [p for p in packages if f"{p}/__init__.py" not in self.names]
        self.assertEqual(missing, [], "add these to setup.cfg [options] packages")

    def test_demo_media_and_type_marker_are_shipped(self) -> None:
        self.assertIn("xrelay/media/demo.ts", self.names)
        self.assertIn("xrelay/media/slate.ts", self.names)
        self.assertIn("xrelay/py.typed", self.names)

    def test_repository_has_no_plugins_init(self) -> None:
        self.assertFalse((REPO / "twisted" / "plugins" / "__init__.py").exists())
        self.assertFalse((REPO / "twisted" / "__init__.py").exists())
