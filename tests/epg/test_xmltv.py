"""The XMLTV parser: pure, incremental, tolerant of sloppy guides and
refusing hostile ones without using much memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.epg._samples import HOUR, NOW, guide, hourly, programme, stamp
from xrelay.epg import GuideChannel, Programme, XmltvError, XmltvParser
from xrelay.epg._xmltv import MAX_TEXT, parse_time

SAMPLE = guide(
    programme(
        "one.uk",
        NOW,
        NOW + HOUR,
        "News &amp; Weather",
        '<sub-title>Late</sub-title><desc lang="en">The   day\n  in brief.</desc>'
        "<credits><actor>A</actor></credits><category>News</category>"
        "<category>Current affairs</category>"
        '<icon src="http://i/1.png"/>'
        '<episode-num system="xmltv_ns">0.4.</episode-num>'
        "<episode-num>S1E5</episode-num>",
    ),
    programme("two.uk", NOW, NOW + HOUR, "Sport"),
    channels=(("one.uk", "One HD"), ("two.uk", "Two")),
)


def parse(data: bytes, chunk: int = 1 << 16) -> tuple[list[object], XmltvParser]:
    parser = XmltvParser()
    events: list[object] = []
    for at in range(0, len(data), chunk):
        events += parser.feed(data[at : at + chunk])
    events += parser.close()
    return events, parser


class ParseTests(SynchronousTestCase):
    def test_channels_and_programmes(self) -> None:
        events, parser = parse(SAMPLE)
        self.assertEqual(
            events[:2],
            [
                GuideChannel("one.uk", ("One HD",)),
                GuideChannel("two.uk", ("Two",)),
            ],
        )
        self.assertEqual(
            events[2],
            Programme(
                channel="one.uk",
                start=NOW,
                stop=NOW + HOUR,
                title="News & Weather",
                lang="",
                sub_title="Late",
                desc="The day in brief.",
                categories=("News", "Current affairs"),
                icon="http://i/1.png",
                episode_system="xmltv_ns",
                episode="0.4.",
            ),
        )
        self.assertEqual(events[3].title, "Sport")  # type: ignore[attr-defined]
        self.assertEqual(parser.rejects, {})

    def test_title_language_is_kept(self) -> None:
        events, _ = parse(
            guide(
                f'<programme start="{stamp(NOW)}" stop="{stamp(NOW + 60)}" '
                'channel="c"><title lang="de">Nachrichten</title>'
                '<title lang="en">News</title></programme>'
            )
        )
        self.assertEqual((events[0].title, events[0].lang), ("Nachrichten", "de"))  # type: ignore[attr-defined]

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.integers(min_value=1, max_value=len(SAMPLE)), max_size=12))
    def test_chunk_boundaries_do_not_matter(self, cuts: list[int]) -> None:
        expected, _ = parse(SAMPLE)
        parser = XmltvParser()
        events: list[object] = []
        last = 0
        for cut in sorted(cuts):
            events += parser.feed(SAMPLE[last:cut])
            last = cut
        events += parser.feed(SAMPLE[last:])
        events += parser.close()
        self.assertEqual(events, expected)

    def test_a_truncated_document_fails_with_its_position(self) -> None:
        parser = XmltvParser()
        parser.feed(SAMPLE[:-40])
        with self.assertRaises(XmltvError) as caught:
            parser.close()
        self.assertIn("line ", str(caught.exception))

    def test_not_xml_fails(self) -> None:
        with self.assertRaises(XmltvError):
            parse(b"\x1f\x8b this is not xml")


class TimeTests(SynchronousTestCase):
    def test_offsets(self) -> None:
        self.assertEqual(parse_time("20250615150000 +0000"), (1749999600, True))
        self.assertEqual(parse_time("20250615170000 +0200"), (1749999600, True))
        self.assertEqual(parse_time("20250615100000 -0500"), (1749999600, True))
        self.assertEqual(parse_time("20250615170000 +02:00"), (1749999600, True))
        self.assertEqual(parse_time("20250615150000Z"), (1749999600, True))
        self.assertEqual(parse_time("202506151500 +0000"), (1749999600, True))

    def test_a_missing_zone_is_read_as_utc_and_said(self) -> None:
        self.assertEqual(parse_time("20250615150000"), (1749999600, False))

    def test_nonsense_is_none(self) -> None:
        for text in (
            "",
            "2025",
            "20250615",
            "20251315150000 +0000",
            "20250230150000 +0000",
            "20250615250000 +0000",
            "20250615150000 +2500",
            "yesterday",
            "20250615150000 BST",
        ):
            self.assertIsNone(parse_time(text), text)


class SloppyGuideTests(SynchronousTestCase):
    def test_bad_programmes_are_rejected_alone_and_counted(self) -> None:
        good = programme("c", NOW, NOW + HOUR, "Good")
        events, parser = parse(
            guide(
                good,
                f'<programme start="tomorrow" stop="{stamp(NOW)}" channel="c">'
                "<title>Bad start</title></programme>",
                f'<programme start="{stamp(NOW)}" stop="{stamp(NOW - 60)}"'
                ' channel="c"><title>Backwards</title></programme>',
                f'<programme start="{stamp(NOW)}" stop="{stamp(NOW + 60)}"'
                ' channel="c"></programme>',
                f'<programme start="{stamp(NOW)}" stop="{stamp(NOW + 60)}">'
                "<title>Nowhere</title></programme>",
                "<channel><display-name>No id</display-name></channel>",
            )
        )
        self.assertEqual([e.title for e in events], ["Good"])  # type: ignore[attr-defined]
        self.assertEqual(
            parser.rejects,
            {
                "bad start time": 1,
                "stop is not after start": 1,
                "no title": 1,
                "no channel": 1,
                "channel without an id": 1,
            },
        )
        self.assertEqual(len(parser.notes), 4)
        self.assertIn("bad start time 'tomorrow'", parser.notes[0])
        self.assertTrue(parser.notes[0].startswith("line 5: programme on 'c'"))

    def test_zoneless_times_are_used_and_counted(self) -> None:
        item = (
            f'<programme start="{stamp(NOW, "")}" stop="{stamp(NOW + 60, "")}"'
            ' channel="c"><title>Local?</title></programme>'
        )
        events, parser = parse(guide(item))
        self.assertEqual(events[0].start, NOW)  # type: ignore[attr-defined]
        self.assertEqual(parser.zoneless, 2)
        self.assertEqual(parser.rejects, {})

    def test_a_programme_without_stop_ends_where_the_next_starts(self) -> None:
        events, parser = parse(
            guide(
                programme("a", NOW, None, "First"),
                programme("b", NOW, NOW + 60, "Other channel"),
                programme("a", NOW + 1800, NOW + HOUR, "Second"),
                programme("a", NOW + 2 * HOUR, None, "Last, no stop"),
            )
        )
        by_title = {e.title: (e.start, e.stop) for e in events}  # type: ignore[attr-defined]
        self.assertEqual(by_title["First"], (NOW, NOW + 1800))
        self.assertEqual(by_title["Second"], (NOW + 1800, NOW + HOUR))
        self.assertNotIn("Last, no stop", by_title)
        self.assertEqual(
            parser.rejects, {"no stop time (last programme of its channel)": 1}
        )

    def test_huge_text_is_cut_not_kept(self) -> None:
        desc = "word " * 1_000_000  # 5 MB
        events, _ = parse(
            guide(programme("c", NOW, NOW + 60, "T", f"<desc>{desc}</desc>"))
        )
        self.assertEqual(len(events[0].desc), MAX_TEXT)  # type: ignore[attr-defined]


def _traced_peak(chunks: Iterator[bytes]) -> tuple[int, int, Exception | None]:
    """Feed ``chunks``; (events, peak traced bytes, error raised)."""
    parser = XmltvParser()
    count = 0
    error = None
    tracemalloc.start()
    try:
        for chunk in chunks:
            count += len(parser.feed(chunk))
        count += len(parser.close())
    except XmltvError as e:
        error = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return count, peak, error


class HostileXmlTests(SynchronousTestCase):
    def assertRefused(self, data: bytes, reason: str) -> None:
        _count, peak, error = _traced_peak(iter([data]))
        self.assertIsNotNone(error)
        self.assertIn(reason, str(error))
        self.assertLess(peak, 2_000_000)

    def test_billion_laughs(self) -> None:
        entities = '<!ENTITY lol "lol">' + "".join(
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
            for i in range(1, 10)
        )
        data = (
            f"<?xml version='1.0'?><!DOCTYPE tv [{entities}]>"
            '<tv><programme start="20250101000000 +0000" channel="c">'
            "<title>&lol9;</title></programme></tv>"
        ).encode()
        self.assertRefused(data, "entity declaration 'lol' refused")

    def test_quadratic_blowup(self) -> None:
        big = "x" * 100_000
        data = (
            f'<!DOCTYPE tv [<!ENTITY a "{big}">]><tv><channel id="c">'
            f"<display-name>{'&a;' * 1000}</display-name></channel></tv>"
        ).encode()
        self.assertRefused(data, "entity declaration 'a' refused")

    def test_external_entity_is_never_read(self) -> None:
        secret = Path(self.mktemp())
        secret.write_text("TOP SECRET")
        data = (
            f'<!DOCTYPE tv [<!ENTITY xxe SYSTEM "{secret.resolve().as_uri()}">]>'
            '<tv><channel id="c"><display-name>&xxe;</display-name></channel></tv>'
        ).encode()
        self.assertRefused(data, "entity declaration 'xxe' refused")

    def test_external_parameter_entity_is_never_fetched(self) -> None:
        data = (
            b'<!DOCTYPE tv [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/x.dtd"> %ext;]>'
            b"<tv/>"
        )
        self.assertRefused(data, "entity declaration 'ext' refused")

    def test_an_external_dtd_is_not_loaded(self) -> None:
        dtd = Path(self.mktemp())
        dtd.write_text('<!ENTITY name "FROM THE DTD">')
        data = (
            f'<!DOCTYPE tv SYSTEM "{dtd.resolve().as_uri()}">'
            '<tv><channel id="c"><display-name>x&name;</display-name></channel></tv>'
        ).encode()
        events, _ = parse(data)
        self.assertEqual(events, [GuideChannel("c", ("x",))])

    def test_a_giant_token_stops_the_parse_early(self) -> None:
        def chunks() -> Iterator[bytes]:
            yield b"<tv><!-- "
            for _ in range(400):  # 26 MB of one comment, never closed
                yield b"a" * 65536

        _count, peak, error = _traced_peak(chunks())
        self.assertIn("single XML token is over", str(error))
        self.assertLess(peak, 10_000_000)

    def test_deep_nesting(self) -> None:
        data = b"<tv>" + b"<a>" * 100 + b"</a>" * 100 + b"</tv>"
        self.assertRefused(data, "nested deeper than")

    def test_memory_does_not_grow_with_the_guide(self) -> None:
        per_channel = "".join(hourly("c", NOW, 24, "A title " * 4)).encode()

        def chunks() -> Iterator[bytes]:
            yield b"<tv>"
            for _ in range(2000):  # about 12 MB, 48,000 programmes
                yield per_channel
            yield b"</tv>"

        count, peak, error = _traced_peak(chunks())
        self.assertIsNone(error)
        self.assertEqual(count, 48_000)
        self.assertLess(peak, 3_000_000)
