"""What players get: ``get_short_epg``, ``get_simple_data_table`` and
``xmltv.php`` through the real Site, Xtream API and login path."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncGenerator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
from lxml import etree
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Site
from twisted.web.test.requesthelper import DummyRequest
from zope.interface.verify import verifyObject

from tests.epg._samples import guide, programme
from tests.xtream._harness import NOW, XtreamTestCase, verify_now
from tests.xtream.test_player_api import B01, DIGITS, STR
from tests.xtream.test_player_api import WALL as WALL_TIME
from xrelay.epg import (
    Guide,
    InlineDatabase,
    XmltvEndpoint,
    _sql,
    assignments,
    import_guide,
    match_channels,
)
from xrelay.epg._http import StreamedBody
from xrelay.fanout import ChannelRegistry, HubSettings
from xrelay.interfaces import IGuide
from xrelay.models import EpgSource
from xrelay.testing import FakeSource
from xrelay.web import AdminApi, LiveStreams, XRelayRoot
from xrelay.xtream import XtreamApi

DTD = etree.DTD(str(Path(__file__).with_name("xmltv.dtd")))
HOUR = 3600
WALL = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def shows(channel: str, first: float, count: int, title: str) -> list[str]:
    return [
        programme(channel, first + i * HOUR, first + (i + 1) * HOUR, f"{title} {i}")
        for i in range(count)
    ]


# Channel 1 ("News 24", epg_id n.uk) by id; channel 2 ('Sport "Live" HD',
# no epg_id) by name; channel 3 ("Loose") has no guide.  The hour-long
# programmes start 3 h before NOW: the 4th ("News 2") starts at NOW.
GUIDE = guide(
    programme(
        "n.uk",
        NOW - 3 * HOUR,
        NOW - 2 * HOUR,
        "Fish &amp; &lt;Chips&gt;",
        "<desc>Über &quot;alles&quot;</desc><category>Food</category>",
    ),
    *shows("n.uk", NOW - 2 * HOUR, 30, "News")[:],
    *shows("sport", NOW - 3 * HOUR, 10, "Match"),
    channels=(("n.uk", "News 24 HD"), ("sport", "Sport Live")),
)


def XMLTV_TIME(text: str | None) -> int:
    """Epoch seconds of an XMLTV time such as ``20231114221320 +0000``."""
    assert text is not None
    return int(datetime.strptime(text, "%Y%m%d%H%M%S %z").timestamp())


def BASE64(value: Any) -> bool:
    """Standard base64 with padding, of UTF-8 text."""
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True).decode("utf-8")
    except ValueError:
        return False
    return True


# xtream-api.md §4.7 ("Emit"), shared by §4.8.
LISTING = {
    "id": DIGITS,
    "epg_id": DIGITS,
    "title": BASE64,
    "description": BASE64,
    "lang": STR,
    "start": WALL_TIME,
    "end": WALL_TIME,
    "channel_id": STR,
    "start_timestamp": DIGITS,
    "stop_timestamp": DIGITS,
    "now_playing": B01,
    "has_archive": B01,
    "stream_id": DIGITS,
}


class GuideOutputTests(XtreamTestCase):
    def setUp(self) -> None:
        self.archive: dict[int, list[tuple[float, float]]] = {}
        self.db = InlineDatabase(":memory:")
        super().setUp()  # calls setUp_site, which makes the guide
        path = Path(self.mktemp())
        path.write_bytes(GUIDE)
        state = _sql.SourceState(7, "file:///g.xml")
        window = (NOW - 2 * 86400, NOW + 14 * 86400)
        self.db.run(import_guide, state, str(path), window, 10**9)
        self.rematch()

    def setUp_site(self) -> None:
        self.guide = Guide(
            self.db, self.clock, 2, 14, lambda channel: self.archive.get(channel, [])
        )
        registry = ChannelRegistry(
            self.clock, lambda c: FakeSource(c.sources[0]), HubSettings(), linger=5
        )
        live = LiveStreams(self.auth, self.store, registry, self.tracker)
        xtream = XtreamApi(
            self.auth, self.catalog, self.address, self.clock, guide=self.guide
        )
        xmltv = XmltvEndpoint(self.auth, self.catalog, self.guide, self.address)
        admin = AdminApi("", verify_now, dict)
        root = XRelayRoot(live, admin, xtream, xmltv=xmltv)
        self.site = Site(root, reactor=self.clock)  # no timers on the real reactor

    def rematch(
        self,
        settings: dict[int, _sql.ChannelSetting] | None = None,
        source_offsets: dict[int, int] | None = None,
    ) -> None:
        catalog = self.successResultOf(self.store.read_catalog())
        matches = match_channels(
            catalog.channels,
            [EpgSource(7, "Guide", "file:///g.xml")],
            self.db.run(_sql.guide_channels),
            settings or {},
            source_offsets or {},
        )
        self.guide.assign(assignments(catalog.channels, matches))

    def test_the_guide_provides_the_interface(self) -> None:
        self.assertTrue(verifyObject(IGuide, self.guide))

    def listings(self, action: str, user: str = "alice", **params: str) -> list[Any]:
        body = self.api(user, action=action, **params)
        self.assertEqual(list(body), ["epg_listings"])
        return list(body["epg_listings"])

    # -- get_short_epg / get_simple_data_table

    def test_short_epg_has_the_documented_shape(self) -> None:
        entries = self.listings("get_short_epg", stream_id="1")
        self.assertEqual(len(entries), 4)  # the default limit
        first = entries[0]
        self.assertEqual(
            list(first),
            [
                "id",
                "epg_id",
                "title",
                "lang",
                "start",
                "end",
                "description",
                "channel_id",
                "start_timestamp",
                "stop_timestamp",
                "now_playing",
                "has_archive",
                "stream_id",
            ],
        )
        self.assertTrue(first["id"].isdigit())
        self.assertEqual(first["epg_id"], "7")
        self.assertEqual(base64.b64decode(first["title"]).decode(), "News 2")
        self.assertEqual(first["description"], "")
        self.assertEqual(first["channel_id"], "n.uk")
        self.assertEqual(first["stream_id"], "1")
        start = NOW
        self.assertEqual(first["start_timestamp"], str(start))
        self.assertEqual(first["stop_timestamp"], str(start + HOUR))
        self.assertEqual(
            [e["now_playing"] for e in entries], [1, 0, 0, 0]
        )  # integers, not strings
        self.assertEqual([e["has_archive"] for e in entries], [0, 0, 0, 0])

    def test_wall_times_are_in_the_advertised_zone(self) -> None:
        login = self.api()
        self.assertEqual(login["server_info"]["timezone"], "UTC")
        (entry,) = self.listings("get_short_epg", stream_id="1", limit="1")
        for wall, stamp in (
            (entry["start"], "start_timestamp"),
            (entry["end"], "stop_timestamp"),
        ):
            self.assertRegex(wall, WALL)
            when = time.strptime(wall + " UTC", "%Y-%m-%d %H:%M:%S %Z")
            self.assertEqual(str(int(time.mktime(when) - time.timezone)), entry[stamp])
        now_wall = login["server_info"]["time_now"]
        self.assertEqual(now_wall, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(NOW)))

    def test_limit(self) -> None:
        self.assertEqual(
            len(self.listings("get_short_epg", stream_id="1", limit="2")), 2
        )
        self.assertEqual(
            len(self.listings("get_short_epg", stream_id="1", limit="x")), 4
        )
        self.assertEqual(
            len(self.listings("get_short_epg", stream_id="1", limit="0")), 4
        )

    def test_every_listing_field_has_its_reference_type(self) -> None:
        """xtream-api.md §4.7 and §4.8, field by field, for GET and POST."""
        self.archive[1] = [(NOW - 2.5 * HOUR, NOW)]
        for method in ("GET", "POST"):
            self.api_method = method
            for action in ("get_short_epg", "get_simple_data_table"):
                entries = self.listings(action, stream_id="1")
                self.assertTrue(entries, action)
                for entry in entries:
                    what = f"{method} {action}"
                    self.assertEqual(sorted(entry), sorted(LISTING), what)
                    for name, check in LISTING.items():
                        self.assertTrue(check(entry[name]), f"{what}.{name}")

    def test_channel_and_source_offsets_shift_what_players_see(self) -> None:
        def starts() -> tuple[list[int], list[str]]:
            entries = self.listings("get_simple_data_table", stream_id="1")
            xml = self.xmltv().findall("programme[@channel='n.uk']")
            return [int(e["start_timestamp"]) for e in entries], [
                p.get("start") for p in xml
            ]

        stamps, xml_starts = starts()
        # the channel is 30 min late, its source an hour early: -30 min in all
        self.rematch({1: _sql.ChannelSetting(1, offset_seconds=1800)}, {7: -3600})
        shifted, shifted_xml = starts()
        self.assertEqual(shifted, [s - 1800 for s in stamps])
        self.assertEqual(len(shifted_xml), len(xml_starts))
        for before, after in zip(xml_starts, shifted_xml, strict=True):
            delta = XMLTV_TIME(after) - XMLTV_TIME(before)
            self.assertEqual(delta, -1800, (before, after))

    def test_data_table_has_past_programmes_and_archive_flags(self) -> None:
        self.archive[1] = [(NOW - 2.5 * HOUR, NOW)]
        entries = self.listings("get_simple_data_table", stream_id="1")
        self.assertEqual(len(entries), 31)
        titles = [base64.b64decode(e["title"]).decode() for e in entries[:3]]
        self.assertEqual(titles, ["Fish & <Chips>", "News 0", "News 1"])
        self.assertEqual(
            base64.b64decode(entries[0]["description"]).decode(), 'Über "alles"'
        )
        self.assertEqual([e["now_playing"] for e in entries[:5]], [0, 0, 0, 1, 0])
        # Ended and inside the recording: not the first (it began before the
        # recording did), nor the one on now (not ended).
        self.assertEqual([e["has_archive"] for e in entries[:5]], [0, 1, 1, 0, 0])
        starts = [int(e["start_timestamp"]) for e in entries]
        self.assertEqual(starts, sorted(starts))
        # a gap in the recording (the channel was down for ten minutes in
        # the middle of "News 0"): that programme is not playable whole
        news0 = int(entries[1]["start_timestamp"])
        self.archive[1] = [(NOW - 2.5 * HOUR, news0 + 600), (news0 + 1200, NOW)]
        entries = self.listings("get_simple_data_table", stream_id="1")
        self.assertEqual([e["has_archive"] for e in entries[:5]], [0, 0, 1, 0, 0])

    def test_a_channel_matched_by_name_has_a_guide_but_no_channel_id(self) -> None:
        (entry,) = self.listings("get_short_epg", stream_id="2", limit="1")
        self.assertEqual(base64.b64decode(entry["title"]).decode(), "Match 3")
        self.assertEqual(entry["channel_id"], "")

    def test_nothing_for_channels_without_a_guide_or_not_visible(self) -> None:
        self.assertEqual(self.listings("get_short_epg", stream_id="3"), [])
        self.assertEqual(self.listings("get_short_epg", stream_id="99"), [])
        self.assertEqual(self.listings("get_short_epg", stream_id="1x"), [])
        self.assertEqual(self.listings("get_short_epg"), [])
        # bob's bouquet has channel 1 only; old is expired, off disabled
        self.assertEqual(self.listings("get_short_epg", "bob", stream_id="2"), [])
        self.assertEqual(len(self.listings("get_short_epg", "bob", stream_id="1")), 4)
        self.assertEqual(
            self.listings("get_simple_data_table", "old", stream_id="1"), []
        )
        self.assertEqual(
            self.listings("get_simple_data_table", "off", stream_id="1"), []
        )

    # -- xmltv.php

    def xmltv(self, user: str = "alice", **params: str) -> Any:
        response = self.call("xmltv.php", user, **params)
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(
            response.headers["content-type"], "application/xml; charset=utf-8"
        )
        return etree.fromstring(response.body)

    def test_xmltv_is_valid_and_uses_the_players_ids(self) -> None:
        tree = self.xmltv()
        self.assertTrue(DTD.validate(tree), DTD.error_log.filter_from_errors())
        self.assertEqual([c.get("id") for c in tree.iter("channel")], ["n.uk"])
        (live,) = [
            s for s in self.api(action="get_live_streams") if s["stream_id"] == 1
        ]
        self.assertEqual(live["epg_channel_id"], "n.uk")
        playlist = self.call("get.php", "alice").text
        self.assertIn('tvg-id="n.uk" tvg-name="News 24"', playlist)
        self.assertEqual(tree.find("channel/display-name").text, "News 24")
        programmes = tree.findall("programme")
        self.assertEqual(len(programmes), 31)
        self.assertEqual({p.get("channel") for p in programmes}, {"n.uk"})
        first = programmes[0]
        self.assertEqual(
            first.get("start"),
            time.strftime("%Y%m%d%H%M%S +0000", time.gmtime(NOW - 3 * HOUR)),
        )
        self.assertEqual(first.findtext("title"), "Fish & <Chips>")
        self.assertEqual(first.findtext("desc"), 'Über "alles"')
        starts = [p.get("start") for p in programmes]
        self.assertEqual(starts, sorted(starts))

    def test_xmltv_lists_only_the_lines_channels(self) -> None:
        sport = self.successResultOf(self.store.get_channel(2))
        assert sport is not None
        self.successResultOf(
            self.store.put_channel(attrs.evolve(sport, epg_id="sport"))
        )
        self.rematch()
        self.clock.advance(4)  # the catalog cache looks again
        self.xmltv()  # (that look happens in the background)
        ids = [c.get("id") for c in self.xmltv().iter("channel")]
        self.assertEqual(ids, ["n.uk", "sport"])
        self.assertEqual(
            [c.get("id") for c in self.xmltv("bob").iter("channel")], ["n.uk"]
        )

    def test_xmltv_window_parameters(self) -> None:
        tree = self.xmltv(prev_days="0", days="1")
        titles = [p.findtext("title") for p in tree.iter("programme")]
        self.assertEqual(titles, [f"News {i}" for i in range(2, 26)])

    def test_xmltv_refusals_are_text(self) -> None:
        response = self.request("/xmltv.php?username=alice&password=wrong")
        self.assertEqual(response.status, 401)
        self.assertTrue(response.headers["content-type"].startswith("text/plain"))
        self.assertEqual(self.call("xmltv.php", "old").status, 403)

    def test_xmltv_gzip_when_asked_and_head(self) -> None:
        response = self.request(
            "/xmltv.php?username=alice&password=pw", headers={"Accept-Encoding": "gzip"}
        )
        self.assertEqual(response.headers["content-encoding"], "gzip")
        self.assertTrue(DTD.validate(etree.fromstring(response.body)))
        plain = self.request("/xmltv.php?username=alice&password=pw")
        self.assertNotIn("content-encoding", plain.headers)
        head = self.request("/xmltv.php?username=alice&password=pw", method="HEAD")
        self.assertEqual((head.status, head.raw_body), (200, b""))


class PushRequest(DummyRequest):
    """DummyRequest drives every producer as a pull producer: not ours."""

    def registerProducer(self, producer: object, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None


class StreamedBodyTests(SynchronousTestCase):
    """The body pulls its next chunk only while the client takes data."""

    def setUp(self) -> None:
        self.gates = [Deferred[None]() for _ in range(3)]
        self.closed = False
        self.request = PushRequest([b"xmltv.php"])

        async def chunks() -> AsyncGenerator[bytes, None]:
            try:
                for i, gate in enumerate(self.gates):
                    await gate
                    yield b"chunk%d" % i
            finally:
                self.closed = True

        self.body = StreamedBody(self.request, chunks())
        self.done = Deferred.fromCoroutine(self.body.run())

    def test_pause_holds_chunks_until_resume(self) -> None:
        self.assertIs(self.request.producer, self.body)
        self.gates[0].callback(None)
        self.assertEqual(self.request.written, [b"chunk0"])
        self.body.pauseProducing()
        self.gates[1].callback(None)
        self.assertEqual(self.request.written, [b"chunk0"])
        self.body.resumeProducing()
        self.assertEqual(self.request.written, [b"chunk0", b"chunk1"])
        self.gates[2].callback(None)
        self.successResultOf(self.done)
        self.assertEqual(self.request.finished, 1)
        self.assertIsNone(self.request.producer)

    def test_stop_ends_it_and_closes_the_source(self) -> None:
        self.gates[0].callback(None)
        self.body.pauseProducing()
        self.gates[1].callback(None)
        self.body.stopProducing()
        self.successResultOf(self.done)
        self.assertTrue(self.closed)
        self.assertEqual(self.request.written, [b"chunk0"])
        self.assertEqual(self.request.finished, 0)
