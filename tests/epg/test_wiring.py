"""The guide in the service tree: configured from ``[epg]``, idle until
started."""

from __future__ import annotations

from pathlib import Path

from twisted.application.service import IServiceCollection
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.config import Config, parse_config
from xrelay.epg import EpgService, settings_from
from xrelay.tap import Options, makeService


class WiringTests(SynchronousTestCase):
    def test_the_loop_is_in_the_tree_and_waits_for_start(self) -> None:
        data = Path(self.mktemp())
        options = Options()
        options.parseOptions(["--data-dir", str(data)])
        reactor = MemoryReactorClock()
        root = makeService(options, reactor)
        services = list(IServiceCollection(root))
        (epg,) = [s for s in services if isinstance(s, EpgService)]
        self.assertEqual(reactor.getDelayedCalls(), [])
        self.assertFalse(data.exists())
        root.startService()
        self.addCleanup(root.stopService)
        self.assertTrue(epg.running)
        self.assertTrue(data.is_dir())

    def test_settings_come_from_the_epg_section(self) -> None:
        config = parse_config(
            '[server]\ndata_dir = "/srv/x"\n'
            "[epg]\npast_days = 7\nfuture_days = 3\nmax_mb = 5\ntimeout = 9\n",
            "x.toml",
        )
        settings = settings_from(config)
        self.assertEqual(config.epg_path, "/srv/x/epg.sqlite3")
        self.assertEqual(settings.spool_dir, "/srv/x/epg-downloads")
        self.assertEqual(settings.window(100 * 86400), (93 * 86400, 103 * 86400))
        self.assertEqual((settings.max_bytes, settings.timeout), (5_000_000, 9.0))
        self.assertEqual(Config().epg_path, "./xrelay-data/epg.sqlite3")
