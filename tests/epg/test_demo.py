"""The --demo guide: generated around now, registered once."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.epg._samples import NOW
from xrelay.demo import DEMO_CHANNEL_ID, DemoSeeder, seed_demo
from xrelay.epg import XmltvParser, seed_demo_guide
from xrelay.epg._demo import DEMO_SOURCE_NAME, demo_guide_xml
from xrelay.testing import MemoryStore

DTD = etree.DTD(str(Path(__file__).with_name("xmltv.dtd")))


class DemoGuideTests(SynchronousTestCase):
    def test_it_covers_now_and_is_valid(self) -> None:
        data = demo_guide_xml("demo.xrelay", "xrelay demo", NOW)
        self.assertTrue(DTD.validate(etree.fromstring(data)))
        parser = XmltvParser()
        events = parser.feed(data) + parser.close()
        programmes = events[1:]
        self.assertEqual(parser.rejects, {})
        self.assertTrue(any(p.start <= NOW < p.stop for p in programmes))  # type: ignore[attr-defined]
        self.assertLess(programmes[0].start, NOW - 13 * 86400)  # type: ignore[attr-defined]
        self.assertGreater(programmes[-1].stop, NOW + 13 * 86400)  # type: ignore[attr-defined]

    def test_seeding_registers_one_source(self) -> None:
        store = MemoryStore()
        data_dir = self.mktemp()
        self.successResultOf(Deferred.fromCoroutine(seed_demo(store, NOW)))
        for _ in range(2):
            self.successResultOf(
                Deferred.fromCoroutine(
                    seed_demo_guide(store, data_dir, DEMO_CHANNEL_ID, NOW)
                )
            )
        sources = self.successResultOf(store.read_catalog()).epg_sources
        self.assertEqual([s.name for s in sources], [DEMO_SOURCE_NAME])
        self.assertEqual(
            sources[0].url, (Path(data_dir).resolve() / "demo-guide.xml").as_uri()
        )


class DemoSeederTests(SynchronousTestCase):
    def test_the_guide_is_written_again_every_day(self) -> None:
        clock = Clock()
        clock.advance(NOW)
        store = MemoryStore()
        data_dir = self.mktemp()
        seeder = DemoSeeder(store, clock, data_dir)
        seeder.startService()
        self.addCleanup(seeder.stopService)
        path = Path(data_dir).resolve() / "demo-guide.xml"

        def covers(when: float) -> bool:
            parser = XmltvParser()
            events = parser.feed(path.read_bytes()) + parser.close()
            return any(p.start <= when < p.stop for p in events[1:])  # type: ignore[attr-defined]

        later = NOW + 20 * 86400  # past the first guide's 14 days
        self.assertTrue(covers(NOW))
        self.assertFalse(covers(later))
        for _ in range(20):
            clock.advance(DemoSeeder.REGENERATE)
        self.assertTrue(covers(later))
        sources = self.successResultOf(store.read_catalog()).epg_sources
        self.assertEqual([s.name for s in sources], [DEMO_SOURCE_NAME])
