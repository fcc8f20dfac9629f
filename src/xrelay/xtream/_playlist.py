"""``get.php`` playlists: M3U lines, pre-built per catalog, joined per line.

Each entry's ``#EXTINF`` line does not depend on who asks, so the view
builds it once; a request only adds its URL prefix (host and credentials)
and yields the playlist in slices, so a 100,000-entry playlist never sits
in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import attrs

from xrelay.models import Channel, Episode, Movie, Series
from xrelay.xtream import _fields

SLICE = 2000
"""Entries per yielded chunk (a few hundred kB)."""

# (owner id, m3u_plus #EXTINF line, m3u #EXTINF line, URL tail, catch-up
# rest).  The owner is what a line must see: the channel, the movie, or an
# episode's series.  For a channel with catch-up, the m3u_plus line stops
# inside its catch-up-source URL, which each request completes with its
# own prefix; "catch-up rest" is the line after that URL (b"" otherwise).
Row = tuple[int, bytes, bytes, bytes, bytes]

CATCHUP_TEMPLATE = "{duration:60}/{utc}/"
"""Kodi's placeholders in the timeshift path (§5.4, §6): the length in
minutes, then the start in epoch seconds, which unlike the ``{Y}-{m}-{d}``
form does not depend on the player's time zone."""

OUTPUTS = {"ts": "ts", "mpegts": "ts", "m3u8": "m3u8", "hls": "m3u8"}
"""``output=`` values and the live format (URL extension) each means."""

TYPES = ("m3u_plus", "m3u")


def attribute(text: str) -> str:
    """An attribute value: ``"`` would end it and a newline the entry."""
    return " ".join(text.replace('"', "'").splitlines())


def title(text: str) -> str:
    return " ".join(text.splitlines())


def _pairs(attributes: dict[str, str]) -> str:
    return "".join(f' {key}="{attribute(value)}"' for key, value in attributes.items())


def _extinf(attributes: dict[str, str], name: str) -> tuple[bytes, bytes]:
    """The m3u_plus and the bare m3u ``#EXTINF`` line of one entry."""
    return (
        f"#EXTINF:-1{_pairs(attributes)},{title(name)}\n".encode(),
        f"#EXTINF:-1,{title(name)}\n".encode(),
    )


def _live_row(channel: Channel, attributes: dict[str, str]) -> Row:
    """A channel's row; with catch-up, ``catchup="default"`` and a
    ``catchup-source`` on the timeshift path (§6): Kodi's ``xc`` mode would
    not match ``.ts`` live URLs."""
    plus, bare = _extinf(attributes, channel.name)
    tail = str(channel.id).encode()
    days = _fields.archive_days(channel)
    if days <= 0:
        return channel.id, plus, bare, tail, b""
    head = (
        f'#EXTINF:-1{_pairs(attributes)} catchup="default"'
        f' catchup-days="{days}" catchup-source="'
    )
    rest = f'",{title(channel.name)}\n'
    return channel.id, head.encode(), bare, tail, rest.encode()


@attrs.frozen
class PlaylistEntries:
    live: tuple[Row, ...]
    vod: tuple[Row, ...]
    episodes: tuple[Row, ...]

    @classmethod
    def build(
        cls,
        channels: list[Channel],
        movies: list[Movie],
        series: list[Series],
        episodes: Mapping[int, tuple[Episode, ...]],
        category_names: Mapping[int, str],
    ) -> PlaylistEntries:
        def group(category_id: int | None) -> str:
            return category_names.get(category_id, "") if category_id else ""

        live = []
        for c in channels:
            attributes = {
                "tvg-id": c.epg_id,
                "tvg-name": c.name,
                "tvg-logo": c.logo,
                "group-title": group(c.category_id),
                "tvg-chno": str(c.number),
            }
            live.append(_live_row(c, attributes))
        vod = []
        for m in movies:
            attributes = {
                "tvg-id": "",
                "tvg-name": m.name,
                "tvg-logo": _fields.artwork("movie", m.id, "poster", m.poster),
                "group-title": group(m.category_id),
            }
            tail = f"{m.id}.{m.container_extension}".encode()
            vod.append((m.id, *_extinf(attributes, m.name), tail, b""))
        shows = []
        for s in series:
            for e in episodes.get(s.id, ()):
                name = _fields.episode_name(s.name, e)
                attributes = {
                    "tvg-id": "",
                    "tvg-name": name,
                    "tvg-logo": _fields.artwork("series", s.id, "cover", s.cover),
                    "group-title": group(s.category_id),
                }
                tail = f"{e.id}.{e.container_extension}".encode()
                shows.append((s.id, *_extinf(attributes, name), tail, b""))
        return cls(tuple(live), tuple(vod), tuple(shows))


def playlist_chunks(
    entries: PlaylistEntries,
    visible: Mapping[str, frozenset[int]] | None,
    base: str,
    username: str,
    password: str,
    plus: bool,
    live_format: str,
) -> Iterator[bytes]:
    """The playlist in slices: live, then movies, then episodes.

    ``base`` is ``scheme://host[:port]``; the credentials' charset needs no
    escaping in URLs.  ``visible`` holds the ids a line restricted
    to bouquets sees, keyed "live", "vod", "series" (None: everything).
    """
    guide = f"{base}/xmltv.php?username={username}&password={password}"
    yield f'#EXTM3U x-tvg-url="{guide}" url-tvg="{guide}"\n'.encode()
    timeshift = f"{base}/timeshift/{username}/{password}/{CATCHUP_TEMPLATE}".encode()
    extension = f".{live_format}".encode()
    for rows, path, section, suffix in (
        (entries.live, "live", "live", f".{live_format}\n"),
        (entries.vod, "movie", "vod", "\n"),
        (entries.episodes, "series", "series", "\n"),
    ):
        prefix = f"{base}/{path}/{username}/{password}/".encode()
        end = suffix.encode()
        ids = None if visible is None else visible[section]
        for start in range(0, len(rows), SLICE):
            parts: list[bytes] = []
            for row in rows[start : start + SLICE]:
                if ids is not None and row[0] not in ids:
                    continue
                if not plus:
                    parts += (row[2], prefix, row[3], end)
                elif row[4]:  # catch-up: complete its source URL first
                    parts += (row[1], timeshift, row[3], extension, row[4])
                    parts += (prefix, row[3], end)
                else:
                    parts += (row[1], prefix, row[3], end)
            if parts:
                yield b"".join(parts)
