"""makeService wiring, with a memory reactor: nothing opens before start."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site

from xrelay.tap import Options, makeService


def options(*argv: str) -> Options:
    parsed = Options()
    parsed.parseOptions(list(argv))
    return parsed


class MakeServiceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.data_dir = Path(self.mktemp())

    def test_listens_on_each_endpoint_only_after_start(self) -> None:
        reactor = MemoryReactorClock()
        service = makeService(
            options(
                "--data-dir",
                str(self.data_dir),
                "--http",
                "tcp:8080:interface=127.0.0.1",
                "--http",
                "tcp:8081:interface=127.0.0.1",
            ),
            reactor,
        )
        self.assertEqual(reactor.tcpServers, [])
        self.assertEqual(reactor.getDelayedCalls(), [])
        self.assertFalse(self.data_dir.exists())
        service.startService()
        self.addCleanup(service.stopService)
        ports = [(port, interface) for port, _, _, interface in reactor.tcpServers]
        self.assertEqual(ports, [(8080, "127.0.0.1"), (8081, "127.0.0.1")])
        self.assertIsInstance(reactor.tcpServers[0][1], Site)

    def test_default_binds_loopback_8080(self) -> None:
        reactor = MemoryReactorClock()
        service = makeService(options("--data-dir", str(self.data_dir)), reactor)
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(reactor.tcpServers[0][0], 8080)
        self.assertEqual(reactor.tcpServers[0][3], "127.0.0.1")

    def test_command_line_overrides_the_file(self) -> None:
        config = Path(self.mktemp())
        config.write_text('[server]\nhttp = ["tcp:9000:interface=127.0.0.1"]\n')
        parsed = options(
            "--config", str(config), "--http", "tcp:9001:interface=127.0.0.1"
        )
        assert parsed.config is not None
        self.assertEqual(parsed.config.server.http, ("tcp:9001:interface=127.0.0.1",))

    def test_demo_uses_its_own_data_dir(self) -> None:
        parsed = options("--demo")
        assert parsed.config is not None
        self.assertEqual(parsed.config.server.data_dir, "./xrelay-demo-data")

    def test_invalid_config_is_a_usage_error_naming_the_key(self) -> None:
        config = Path(self.mktemp())
        config.write_text('[live]\nlinger = "soon"\n')
        with self.assertRaises(usage.UsageError) as e:
            options("--config", str(config))
        self.assertIn("live.linger", str(e.exception))
