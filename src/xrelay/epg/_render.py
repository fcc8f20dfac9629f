"""What players receive: XMLTV text for ``xmltv.php`` and the JSON listing
objects of ``get_short_epg`` / ``get_simple_data_table``.  Pure.

XMLTV follows the DTD's element order (title, sub-title, desc, category,
icon, episode-num) and always writes times with their offset; JSON
follows xtream-api.md §4.7: base64 title and description, ``wall`` times
in the server's zone, ids and timestamps as digit strings, flags as 0/1.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from xrelay.epg._sql import StoredProgramme

Wall = Callable[[float], str]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def utc_wall(seconds: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC: ``server_info.timezone`` is "UTC"."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def xml_text(text: str) -> str:
    return (
        _NOT_XML.sub("", text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def xml_attribute(text: str) -> str:
    return xml_text(text).replace('"', "&quot;")


def xmltv_time(seconds: int) -> str:
    return time.strftime("%Y%m%d%H%M%S +0000", time.gmtime(seconds))


def document_head(base_url: str) -> bytes:
    url = xml_attribute(base_url)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<tv generator-info-name="xrelay" generator-info-url="{url}/">\n'
    ).encode()


DOCUMENT_TAIL = b"</tv>\n"


def channel_xml(channel_id: str, name: str, icon: str) -> str:
    icon_xml = f'<icon src="{xml_attribute(icon)}"/>' if icon else ""
    return (
        f'<channel id="{xml_attribute(channel_id)}">'
        f"<display-name>{xml_text(name)}</display-name>{icon_xml}</channel>\n"
    )


def programme_xml(channel_attr: str, p: StoredProgramme, offset: int) -> str:
    """``channel_attr``: the channel id, already escaped (once per channel)."""
    lang = f' lang="{xml_attribute(p.lang)}"' if p.lang else ""
    parts = [
        f'<programme start="{xmltv_time(p.start + offset)}"'
        f' stop="{xmltv_time(p.stop + offset)}" channel="{channel_attr}">'
        f"<title{lang}>{xml_text(p.title)}</title>"
    ]
    if p.sub_title:
        parts.append(f"<sub-title>{xml_text(p.sub_title)}</sub-title>")
    if p.desc:
        parts.append(f"<desc>{xml_text(p.desc)}</desc>")
    parts.extend(f"<category>{xml_text(c)}</category>" for c in p.categories)
    if p.icon:
        parts.append(f'<icon src="{xml_attribute(p.icon)}"/>')
    if p.episode:
        system = xml_attribute(p.episode_system or "onscreen")
        parts.append(
            f'<episode-num system="{system}">{xml_text(p.episode)}</episode-num>'
        )
    parts.append("</programme>\n")
    return "".join(parts)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def listing(
    p: StoredProgramme,
    offset: int,
    *,
    stream_id: int,
    epg_channel_id: str,
    source_id: int,
    now: float,
    archive: Sequence[tuple[float, float]],
    wall: Wall,
) -> dict[str, Any]:
    """One ``epg_listings`` entry.  ``has_archive``: the programme has
    ended and lies inside one unbroken span of the channel's recording."""
    start, stop = p.start + offset, p.stop + offset
    archived = stop <= now and any(a <= start and stop <= b for a, b in archive)
    return {
        "id": str(p.id),
        "epg_id": str(source_id),
        "title": _b64(p.title),
        "lang": p.lang,
        "start": wall(start),
        "end": wall(stop),
        "description": _b64(p.desc),
        "channel_id": epg_channel_id,
        "start_timestamp": str(start),
        "stop_timestamp": str(stop),
        "now_playing": 1 if start <= now < stop else 0,
        "has_archive": 1 if archived else 0,
        "stream_id": str(stream_id),
    }
