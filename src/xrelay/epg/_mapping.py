"""Which guide channel each catalog channel shows, with a confidence and
the reason, so an operator can review the choice (``xrelay epg status``).

Pure.  For each channel, the first rule that finds something decides:

1. manual: the operator pinned a guide channel (``xrelay epg map``) or
   none (``xrelay epg unmap``);
2. epg_channel_id: the channel's ``epg_id`` (its ``tvg-id``, and the
   ``epg_channel_id`` players see) is a guide channel id, exactly;
3. tvg-id: the same, ignoring case and punctuation (``BBCOne.uk`` and
   ``bbcone.uk``);
4. name: the channel's name (or its ``epg_id`` read as a name) equals a
   guide channel's display name, or its id without the country suffix,
   once both are normalised: case, accents, "HD"/"FHD"/"4K" tags, country
   prefixes and suffixes ("UK:", "(DE)", ".fr") and punctuation dropped.
   Two different countries never match.

Within a rule, the enabled source with the highest priority wins (then
the one whose channel has more programmes, then the lowest id).  A
channel matching several guide channels of that source by name is
ambiguous: the first is taken with a lower confidence and the others are
named in the reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import attrs

from xrelay.epg._sql import ChannelSetting, GuideChannelRow
from xrelay.models import Channel, EpgSource

_QUALITY_WORDS = "hd fhd uhd sd hq lq 4k 8k hevc h264 h265 1080p 1080i 720p 2160p 50fps"
_QUALITY = frozenset(_QUALITY_WORDS.split())
# ISO 3166 codes common in guide ids and channel names, plus a few
# spellings; only the first and last word of a name are read this way.
_COUNTRY_CODES = """
    ad ae al am ar at au az ba be bg bh br by ca ch cl cn co cy cz de dk dz ee
    eg es fi fr gb ge gr hk hr hu id ie il in iq ir is it jo jp kr kw kz lb lt
    lu lv ma md me mk mt mx my nl no nz om pe ph pk pl pt qa ro rs ru sa se sg
    si sk sy th tn tr tw ua uk us uy ve vn za usa ger"""
_COUNTRIES = frozenset(_COUNTRY_CODES.split())
_ALIASES = {"gb": "uk", "usa": "us", "ger": "de"}
_WORD = re.compile(r"[a-z0-9]+")


@attrs.frozen
class Key:
    """A name reduced for comparison, and the country it named, if any."""

    text: str
    country: str = ""


def normalise(name: str) -> Key:
    """``name`` folded for matching: "UK: BBC One HD" and "bbc one" give
    the same text ("bbcone"), the first with country "uk"."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = folded.replace("&", " and ").replace("+", " plus ")
    words = _WORD.findall(folded)
    words = [w for w in words if w not in _QUALITY] or words
    country = ""
    if len(words) > 1 and words[-1] in _COUNTRIES:
        country = words.pop()
    if len(words) > 1 and words[0] in _COUNTRIES:
        country = country or words[0]
        words.pop(0)
    return Key("".join(words), _ALIASES.get(country, country))


def id_stem(guide_id: str) -> Key:
    """A guide id read as a name: "BBCOne.uk" -> ("bbcone", "uk")."""
    stem, dot, suffix = guide_id.rpartition(".")
    if dot and suffix.casefold() in _COUNTRIES:
        key = normalise(stem)
        return Key(
            key.text, key.country or _ALIASES.get(suffix.casefold(), suffix.casefold())
        )
    return normalise(guide_id)


def loose_id(text: str) -> str:
    return "".join(_WORD.findall(text.casefold()))


@attrs.frozen
class Match:
    """The guide a channel shows.  ``source_id``/``guide_id`` are None when
    it shows none; ``offset`` (seconds, source's plus channel's) is added to
    the guide's times."""

    channel_id: int
    source_id: int | None
    guide_id: str | None
    confidence: float
    rule: str  # manual, epg_channel_id, tvg-id, name, none
    why: str
    offset: int = 0

    @property
    def matched(self) -> bool:
        return self.guide_id is not None


@attrs.frozen
class _Candidate:
    row: GuideChannelRow
    rank: tuple[int, int, int]  # higher is better


class _Index:
    """The enabled sources' guide channels, looked up every way the rules
    need."""

    def __init__(
        self, rows: Iterable[GuideChannelRow], sources: Sequence[EpgSource]
    ) -> None:
        enabled = {s.id: s for s in sources if s.enabled}
        self.sources = enabled
        self.exact: dict[str, list[_Candidate]] = {}
        self.loose: dict[str, list[_Candidate]] = {}
        self.names: dict[str, list[tuple[_Candidate, Key, str]]] = {}
        for row in rows:
            source = enabled.get(row.source_id)
            if source is None:
                continue
            candidate = _Candidate(row, (source.priority, row.programmes, -source.id))
            self.exact.setdefault(row.id, []).append(candidate)
            self.loose.setdefault(loose_id(row.id), []).append(candidate)
            stem = id_stem(row.id)  # its country suffix holds for its names
            keys = [(normalise(n), f"display name {n!r}") for n in row.names]
            keys = [(Key(k.text, k.country or stem.country), n) for k, n in keys]
            keys.append((stem, f"id {row.id!r}"))
            seen = set()
            for key, label in keys:
                if key.text and (key.text, key.country) not in seen:
                    seen.add((key.text, key.country))
                    self.names.setdefault(key.text, []).append((candidate, key, label))

    def source_name(self, source_id: int) -> str:
        source = self.sources.get(source_id)
        return source.name if source is not None else f"source {source_id}"


def match_channels(
    channels: Iterable[Channel],
    sources: Sequence[EpgSource],
    guide: Iterable[GuideChannelRow],
    settings: Mapping[int, ChannelSetting],
    source_offsets: Mapping[int, int],
) -> dict[int, Match]:
    """A match for every channel, keyed by channel id."""
    index = _Index(guide, sources)
    matches = {}
    for channel in channels:
        setting = settings.get(channel.id, ChannelSetting(channel.id))
        match = _match(channel, setting, index)
        if match.source_id is not None:
            offset = source_offsets.get(match.source_id, 0) + setting.offset_seconds
            match = attrs.evolve(match, offset=offset)
        matches[channel.id] = match
    return matches


def _best(candidates: Iterable[_Candidate]) -> _Candidate | None:
    return max(candidates, key=lambda c: c.rank, default=None)


def _found(
    channel: Channel,
    index: _Index,
    candidate: _Candidate,
    confidence: float,
    rule: str,
    why: str,
) -> Match:
    row = candidate.row
    return Match(
        channel.id,
        row.source_id,
        row.id,
        confidence,
        rule,
        f"{why} in {index.source_name(row.source_id)}",
    )


def _match(channel: Channel, setting: ChannelSetting, index: _Index) -> Match:
    if setting.guide_id == "":
        return Match(channel.id, None, None, 1.0, "manual", "unmapped by the operator")
    if setting.guide_id is not None:
        pinned = [
            c
            for c in index.exact.get(setting.guide_id, ())
            if setting.source_id in (None, c.row.source_id)
        ]
        best = _best(pinned)
        if best is None:
            where = (
                f"source {setting.source_id}"
                if setting.source_id is not None
                else "any enabled source"
            )
            why = f"pinned to {setting.guide_id!r}, which {where} does not list"
            return Match(channel.id, None, None, 0.0, "manual", why)
        return _found(
            channel, index, best, 1.0, "manual", f"pinned to {setting.guide_id!r}"
        )
    epg_id = channel.epg_id.strip()
    if epg_id:
        best = _best(index.exact.get(epg_id, ()))
        if best is not None:
            return _found(
                channel, index, best, 1.0, "epg_channel_id", f"id {epg_id!r} listed"
            )
        loose = _best(index.loose.get(loose_id(epg_id), ()))
        if loose is not None:
            why = f"id {epg_id!r} listed as {loose.row.id!r}"
            return _found(channel, index, loose, 0.9, "tvg-id", why)
    return _by_name(channel, index)


def _by_name(channel: Channel, index: _Index) -> Match:
    tried = [(channel.name, "name")]
    if channel.epg_id.strip():
        tried.append((channel.epg_id, "epg id"))
    for text, what in tried:
        key = id_stem(text) if what == "epg id" else normalise(text)
        found = [
            (candidate, label)
            for candidate, other, label in index.names.get(key.text, ())
            if not (key.country and other.country and key.country != other.country)
        ]
        if not found:
            continue
        best = _best(c for c, _ in found)
        assert best is not None
        label = next(label for c, label in found if c is best)
        exact = any(
            label == f"display name {n!r}" and n.casefold() == text.casefold()
            for n in best.row.names
        )
        confidence = 0.8 if exact else 0.7 if label.startswith("display") else 0.6
        why = f"{what} {text!r} ~ {label}"
        rivals = sorted(
            {
                c.row.id
                for c, _ in found
                if c.row.source_id == best.row.source_id and c.row.id != best.row.id
            }
        )
        if rivals:
            confidence -= 0.3
            why += f"; ambiguous, also {', '.join(map(repr, rivals[:3]))}"
        return _found(channel, index, best, round(confidence, 2), "name", why)
    searched = f"id {channel.epg_id!r} or " if channel.epg_id.strip() else ""
    key = normalise(channel.name)
    return Match(
        channel.id,
        None,
        None,
        0.0,
        "none",
        f"no guide channel with {searched}a name like {key.text!r}",
    )
