"""Planning an M3U import: the current catalog plus playlist entries give the
new catalog.  Pure.

Rules:

- An entry's group (or the default category when it has none) is a ``live``
  category, found by exact name or created with the next free id.
- An entry updates an existing channel when one has the entry's URL among its
  sources; failing that, when one has the same name in the same category
  (this is what keeps a re-import from duplicating channels after a provider
  rotates the tokens in its URLs).  Each channel is matched by one entry at
  most; otherwise the entry is a new channel.
- A new channel gets the next free id, ``tvg-chno`` as its number when that
  number is free (else the next number after the highest in use),
  ``tvg-id`` as ``epg_id``, ``tvg-logo`` as ``logo``, the URL as its single
  source, ``on_demand=True`` and ``added=now``.
- An updated channel takes the entry's name, and its category, logo, epg id
  and number when the entry gives them.  Its sources stay as they are when
  they already hold the URL; otherwise the URL replaces the first source and
  the failover sources after it are kept.
- Channels the playlist does not mention are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from xrelay.catalog._m3u import Entry
from xrelay.models import Catalog, Category, Channel


@attrs.frozen
class ImportPlan:
    catalog: Catalog  # what the store should hold after the import
    added: int
    updated: int
    unchanged: int
    categories_added: int


def plan_import(
    current: Catalog,
    entries: Sequence[Entry],
    *,
    default_category: str = "",
    now: int = 0,
) -> ImportPlan:
    categories = _Categories(current.categories)
    category_ids = [categories.resolve(e.group or default_category) for e in entries]
    matches = _match(current.channels, entries, category_ids)
    numbers = _number(current.channels, entries, matches)

    channels = {c.id: c for c in current.channels}
    next_id = max(channels, default=0) + 1
    added = updated = unchanged = 0
    for index, (entry, category_id) in enumerate(
        zip(entries, category_ids, strict=True)
    ):
        old = matches.get(index)
        if old is None:
            channel = Channel(
                id=next_id,
                number=numbers[index],
                name=entry.name,
                category_id=category_id,
                sources=(entry.url,),
                logo=entry.logo,
                epg_id=entry.tvg_id,
                on_demand=True,
                added=now,
            )
            next_id += 1
            added += 1
        else:
            channel = attrs.evolve(
                old,
                number=numbers.get(index, old.number),
                name=entry.name,
                category_id=old.category_id if category_id is None else category_id,
                sources=_sources(old.sources, entry.url),
                logo=entry.logo or old.logo,
                epg_id=entry.tvg_id or old.epg_id,
            )
            if channel == old:
                unchanged += 1
            else:
                updated += 1
        channels[channel.id] = channel
    catalog = attrs.evolve(
        current,
        categories=categories.all(),
        channels=tuple(channels[i] for i in sorted(channels)),
    )
    return ImportPlan(catalog, added, updated, unchanged, categories.added)


@attrs.define
class _Categories:
    """Live categories by name, creating the missing ones."""

    existing: tuple[Category, ...]
    new: list[Category] = attrs.Factory(list)
    by_name: dict[str, int] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        for category in reversed(self.existing):  # the lowest id wins
            if category.kind == "live":
                self.by_name[category.name] = category.id

    @property
    def added(self) -> int:
        return len(self.new)

    def resolve(self, name: str) -> int | None:
        if not name:
            return None
        if name not in self.by_name:
            everything = (*self.existing, *self.new)
            live_orders = [c.sort_order for c in everything if c.kind == "live"]
            category = Category(
                id=max((c.id for c in everything), default=0) + 1,
                kind="live",
                name=name,
                sort_order=max(live_orders, default=0) + 1,
            )
            self.new.append(category)
            self.by_name[name] = category.id
        return self.by_name[name]

    def all(self) -> tuple[Category, ...]:
        return self.existing + tuple(self.new)  # new ids are above the rest


def _match(
    channels: tuple[Channel, ...],
    entries: Sequence[Entry],
    category_ids: list[int | None],
) -> dict[int, Channel]:
    """Entry index -> the existing channel it updates."""
    by_url: dict[str, Channel] = {}
    by_name: dict[tuple[int | None, str], list[Channel]] = {}
    for channel in channels:
        for url in channel.sources:
            by_url.setdefault(url, channel)
        by_name.setdefault((channel.category_id, channel.name), []).append(channel)

    matches: dict[int, Channel] = {}
    claimed: set[int] = set()
    for index, entry in enumerate(entries):
        same_url = by_url.get(entry.url)
        if same_url is not None and same_url.id not in claimed:
            matches[index] = same_url
            claimed.add(same_url.id)
    for index, entry in enumerate(entries):
        if index in matches:
            continue
        for same_name in by_name.get((category_ids[index], entry.name), ()):
            if same_name.id not in claimed:
                matches[index] = same_name
                claimed.add(same_name.id)
                break
    return matches


def _number(
    channels: tuple[Channel, ...],
    entries: Sequence[Entry],
    matches: dict[int, Channel],
) -> dict[int, int]:
    """Entry index -> channel number, for new channels and for updated ones
    whose number changes.  Free ``tvg-chno`` numbers are handed out first,
    in playlist order, so that no number given by the playlist is taken by
    an earlier entry without one."""
    taken = {c.number for c in channels}
    numbers: dict[int, int] = {}
    for index, entry in enumerate(entries):
        if entry.chno is None or entry.chno in taken:
            continue
        numbers[index] = entry.chno
        taken.add(entry.chno)
        if index in matches:
            taken.discard(matches[index].number)
    next_number = max((c.number for c in channels), default=0) + 1
    for index in range(len(entries)):
        if index in numbers or index in matches:
            continue
        while next_number in taken:
            next_number += 1
        numbers[index] = next_number
        taken.add(next_number)
    return numbers


def _sources(old: tuple[str, ...], url: str) -> tuple[str, ...]:
    return old if url in old else (url, *old[1:])
