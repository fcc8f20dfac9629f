"""Channel matching: rules in order, aliases, priorities, pins, offsets,
and a reason for every answer."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.epg import match_channels, normalise
from xrelay.epg._mapping import Key, id_stem
from xrelay.epg._sql import ChannelSetting, GuideChannelRow
from xrelay.models import Channel, EpgSource

SOURCES = (
    EpgSource(1, "Main", "http://a/g.xml", priority=5),
    EpgSource(2, "Backup", "http://b/g.xml", priority=1),
    EpgSource(3, "Off", "http://c/g.xml", enabled=False, priority=99),
)


def row(
    source: int, guide_id: str, *names: str, programmes: int = 10
) -> GuideChannelRow:
    return GuideChannelRow(source, guide_id, names, "", programmes)


GUIDE = (
    row(1, "BBCOne.uk", "BBC One"),
    row(2, "BBCOne.uk", "BBC One"),
    row(2, "bbc2.uk", "BBC Two HD"),
    row(1, "Das.Erste.de", "Das Erste"),
    row(1, "arte.fr", "ARTE"),
    row(1, "arte.de", "Arte"),
    row(1, "TF1.fr", "TF1"),
    row(1, "france2", "France 2"),
    row(2, "france2.fr", "France 2"),
    row(3, "secret", "Secret Channel"),
    row(1, "canalplus.fr", "Canal+"),
    row(1, "news.a", "News"),
    row(1, "news.b", "NEWS"),
)


def match(
    *channels: Channel,
    settings: dict[int, ChannelSetting] | None = None,
    offsets: dict[int, int] | None = None,
    guide: tuple[GuideChannelRow, ...] = GUIDE,
) -> dict[int, object]:
    return match_channels(channels, SOURCES, guide, settings or {}, offsets or {})


class NormaliseTests(SynchronousTestCase):
    def test_case_accents_quality_and_country_go(self) -> None:
        same = [
            "BBC One",
            "bbc one",
            "UK: BBC One HD",
            "BBC One FHD (UK)",
            "BBC ONE 1080p",
        ]
        self.assertEqual({normalise(n).text for n in same}, {"bbcone"})
        self.assertEqual(normalise("UK: BBC One HD").country, "uk")
        self.assertEqual(normalise("BBC One [GB]").country, "uk")
        self.assertEqual(normalise("Télé Québec").text, "telequebec")
        self.assertEqual(normalise("Canal+ HD").text, "canalplus")
        self.assertEqual(normalise("Channel 4 +1").text, "channel4plus1")

    def test_a_name_is_never_reduced_to_nothing(self) -> None:
        self.assertEqual(normalise("HD").text, "hd")
        self.assertEqual(normalise("DE").text, "de")

    def test_guide_ids_read_as_names(self) -> None:
        self.assertEqual(id_stem("BBCOne.uk"), Key("bbcone", "uk"))
        self.assertEqual(id_stem("Das.Erste.de"), Key("daserste", "de"))
        self.assertEqual(id_stem("france2"), Key("france2", ""))


class RuleTests(SynchronousTestCase):
    def test_epg_channel_id_exactly_with_source_priority(self) -> None:
        (m,) = match(Channel(1, 1, "Whatever", epg_id="BBCOne.uk")).values()
        self.assertEqual(
            (m.source_id, m.guide_id, m.rule), (1, "BBCOne.uk", "epg_channel_id")
        )  # type: ignore[attr-defined]
        self.assertEqual(m.confidence, 1.0)  # type: ignore[attr-defined]
        self.assertEqual(m.why, "id 'BBCOne.uk' listed in Main")  # type: ignore[attr-defined]

    def test_tvg_id_ignoring_case_and_punctuation(self) -> None:
        (m,) = match(Channel(1, 1, "x", epg_id="bbcone.UK")).values()
        self.assertEqual(
            (m.guide_id, m.rule, m.confidence), ("BBCOne.uk", "tvg-id", 0.9)
        )  # type: ignore[attr-defined]

    def test_names_and_aliases(self) -> None:
        found = match(
            Channel(1, 1, "BBC One"),
            Channel(2, 2, "UK: BBC Two"),
            Channel(3, 3, "Das Erste HD"),
            Channel(4, 4, "Canal+ HD"),
            Channel(5, 5, "TF1 FHD", epg_id="tf1-ignored-id"),
        )
        got = {i: (m.guide_id, m.rule, m.confidence) for i, m in found.items()}  # type: ignore[attr-defined]
        self.assertEqual(
            got,
            {
                1: ("BBCOne.uk", "name", 0.8),  # same display name
                2: ("bbc2.uk", "name", 0.7),  # same once normalised
                3: ("Das.Erste.de", "name", 0.7),
                4: ("canalplus.fr", "name", 0.7),
                5: ("TF1.fr", "name", 0.7),
            },
        )
        self.assertIn("name 'UK: BBC Two' ~ display name 'BBC Two HD'", found[2].why)  # type: ignore[attr-defined]
        self.assertTrue(found[2].why.endswith("in Backup"))  # type: ignore[attr-defined]

    def test_an_epg_id_that_is_really_a_name(self) -> None:
        (m,) = match(Channel(1, 1, "ARD", epg_id="Das Erste")).values()
        self.assertEqual((m.guide_id, m.rule), ("Das.Erste.de", "name"))  # type: ignore[attr-defined]
        self.assertIn("epg id 'Das Erste' ~ display name 'Das Erste'", m.why)  # type: ignore[attr-defined]

    def test_different_countries_never_match(self) -> None:
        found = match(Channel(1, 1, "Arte DE"), Channel(2, 2, "FR: Arte"))
        self.assertEqual(found[1].guide_id, "arte.de")  # type: ignore[attr-defined]
        self.assertEqual(found[2].guide_id, "arte.fr")  # type: ignore[attr-defined]
        (m,) = match(Channel(1, 1, "BBC One [US]")).values()
        self.assertIsNone(m.guide_id)  # type: ignore[attr-defined]

    def test_ambiguous_names_say_so(self) -> None:
        (m,) = match(Channel(1, 1, "News")).values()
        self.assertEqual(m.guide_id, "news.a")  # type: ignore[attr-defined]
        self.assertLess(m.confidence, 0.6)  # type: ignore[attr-defined]
        self.assertIn("ambiguous, also 'news.b'", m.why)  # type: ignore[attr-defined]

    def test_a_disabled_source_is_not_used(self) -> None:
        (m,) = match(Channel(1, 1, "Secret Channel", epg_id="secret")).values()
        self.assertEqual((m.guide_id, m.rule, m.confidence), (None, "none", 0.0))  # type: ignore[attr-defined]
        self.assertEqual(
            m.why,  # type: ignore[attr-defined]
            "no guide channel with id 'secret' or a name like 'secretchannel'",
        )

    def test_more_programmes_break_a_priority_tie(self) -> None:
        guide = (row(1, "x", programmes=0), row(2, "x", programmes=50))
        sources = (EpgSource(1, "A", "u"), EpgSource(2, "B", "v"))
        (m,) = match_channels(
            [Channel(1, 1, "x", epg_id="x")], sources, guide, {}, {}
        ).values()
        self.assertEqual(m.source_id, 2)


class OperatorTests(SynchronousTestCase):
    def test_a_pin_beats_every_rule(self) -> None:
        channel = Channel(1, 1, "BBC One", epg_id="BBCOne.uk")
        (m,) = match(channel, settings={1: ChannelSetting(1, "bbc2.uk")}).values()
        self.assertEqual((m.guide_id, m.source_id, m.rule), ("bbc2.uk", 2, "manual"))  # type: ignore[attr-defined]
        (m,) = match(
            channel, settings={1: ChannelSetting(1, "BBCOne.uk", source_id=2)}
        ).values()
        self.assertEqual(m.source_id, 2)  # type: ignore[attr-defined]

    def test_a_pin_to_a_missing_channel_explains(self) -> None:
        (m,) = match(
            Channel(1, 1, "BBC One"), settings={1: ChannelSetting(1, "gone")}
        ).values()
        self.assertIsNone(m.guide_id)  # type: ignore[attr-defined]
        self.assertEqual(
            m.why, "pinned to 'gone', which any enabled source does not list"
        )  # type: ignore[attr-defined]

    def test_unmapped(self) -> None:
        (m,) = match(
            Channel(1, 1, "BBC One", epg_id="BBCOne.uk"),
            settings={1: ChannelSetting(1, "")},
        ).values()
        self.assertEqual((m.guide_id, m.why), (None, "unmapped by the operator"))  # type: ignore[attr-defined]

    def test_offsets_add_up(self) -> None:
        (m,) = match(
            Channel(1, 1, "x", epg_id="BBCOne.uk"),
            settings={1: ChannelSetting(1, offset_seconds=-1800)},
            offsets={1: 3600, 2: 60},
        ).values()
        self.assertEqual(m.offset, 1800)  # type: ignore[attr-defined]
