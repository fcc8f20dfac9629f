"""The installed twistd plugin is discoverable and documents its options."""

from __future__ import annotations

import subprocess

from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import twistd_command


class PluginTests(SynchronousTestCase):
    def test_twistd_lists_and_explains_xrelay(self) -> None:
        listing = subprocess.run(
            [*twistd_command(), "--help"], capture_output=True, timeout=60, check=True
        )
        self.assertIn(b"xrelay", listing.stdout)
        result = subprocess.run(
            [*twistd_command(), "-n", "xrelay", "--help"],
            capture_output=True,
            timeout=60,
            check=True,
        )
        for option in (b"--config", b"--http", b"--demo", b"--log-format"):
            self.assertIn(option, result.stdout)

    def test_bad_http_endpoint_on_the_command_line_is_refused(self) -> None:
        result = subprocess.run(
            [*twistd_command(), "-n", "--pidfile=", "xrelay", "--http", "tcp:nope"],
            capture_output=True,
            timeout=60,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(b"server.http[0]", result.stdout + result.stderr)
