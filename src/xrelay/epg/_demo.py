"""The ``--demo`` channel's guide: generated at start around the current
time, written as an XMLTV file in the data directory, and registered as a
``file://`` guide source, so the demo goes through the same fetch, parse,
match and output path as any real guide."""

from __future__ import annotations

from pathlib import Path

import attrs

from xrelay.epg._render import document_head, programme_xml, xml_attribute, xml_text
from xrelay.epg._sql import StoredProgramme
from xrelay.interfaces import IStore
from xrelay.models import EpgSource
from xrelay.store import StoreError

DEMO_SOURCE_NAME = "xrelay demo guide"
SLOT = 1800  # every demo programme lasts half an hour
_SHOWS = (
    ("Morning Loop", "The sample stream, looped from the top."),
    ("Relay Report", "News from the fan-out: viewers, bitrates, no drops."),
    ("Packets & Pixels", "A half hour of 188-byte packets, lovingly relayed."),
    ("The Keyframe Hour", "Every join starts on a keyframe. Watch it happen."),
    ("Late Night Slate", "When every source is down, the slate carries on."),
)


def demo_guide_xml(channel_id: str, name: str, now: float, days: float = 14) -> bytes:
    """Half-hour programmes from ``days`` before to ``days`` after ``now``,
    on slots aligned to the half hour, so restarts give the same guide."""
    first = int(now - days * 86400) // SLOT * SLOT
    last = int(now + days * 86400)
    channel = xml_attribute(channel_id)
    parts = [
        document_head("http://127.0.0.1:8080"),
        (
            f'<channel id="{channel}"><display-name>{xml_text(name)}'
            "</display-name></channel>\n"
        ).encode(),
    ]
    for number, start in enumerate(range(first, last, SLOT)):
        title, desc = _SHOWS[(start // SLOT) % len(_SHOWS)]
        programme = StoredProgramme(
            number, start, start + SLOT, title, "en", "", desc, ("Demo",), "", "", ""
        )
        parts.append(programme_xml(channel, programme, 0).encode())
    parts.append(b"</tv>\n")
    return b"".join(parts)


async def seed_demo_guide(
    store: IStore, data_dir: str, channel_id: int, now: float
) -> None:
    """Write the guide of the demo channel (already seeded) and make it a
    guide source (idempotent: safe on every start)."""
    channel = await store.get_channel(channel_id)
    if channel is None or not channel.epg_id:
        return
    path = Path(data_dir).resolve() / "demo-guide.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(demo_guide_xml(channel.epg_id, channel.name, now))
    url = path.as_uri()
    for attempt in range(5):  # the demo library scan may write meanwhile
        catalog = await store.read_catalog()
        if any(s.url == url and s.enabled for s in catalog.epg_sources):
            return
        others = tuple(s for s in catalog.epg_sources if s.name != DEMO_SOURCE_NAME)
        source = EpgSource(
            id=max((s.id for s in others), default=0) + 1,
            name=DEMO_SOURCE_NAME,
            url=url,
            refresh_seconds=3600,
        )
        changed = attrs.evolve(catalog, epg_sources=(*others, source))
        try:
            await store.replace_catalog(changed, expected=catalog)
            return
        except StoreError:
            if attempt == 4:
                raise
