"""Catalog records as Xtream JSON objects, field by field.

Types follow ../shared/xtream-api.md §4 and its §9 canonical output:
ids players put in URLs are integers, counts and timestamps are digit
strings, flags are 0/1, and objects are never sent as ``[]``.  Pure
functions of the models: no Twisted, no I/O.
"""

from __future__ import annotations

import math
import time
from pathlib import PurePosixPath
from typing import Any

from xrelay.models import Category, Channel, Episode, Movie, Season, Series

JsonObject = dict[str, Any]

ORIGIN = "\x00origin\x00"
"""Stands for ``scheme://host[:port]`` of the asking request in pre-built
answers: artwork kept in the library is served by this server, whose
address each request tells (``with_origin`` fills it in).  A NUL never
occurs in catalog text, and JSON writes it escaped (``ORIGIN_JSON``)."""
ORIGIN_JSON = b"\\u0000origin\\u0000"


def with_origin(data: bytes, base: str) -> bytes:
    """``data`` (JSON or playlist text) with ``ORIGIN`` replaced by ``base``."""
    origin = base.encode("ascii")
    return data.replace(ORIGIN_JSON, origin).replace(ORIGIN.encode(), origin)


def artwork(kind: str, item_id: int, name: str, image: str) -> str:
    """An image field: a URL as it is, a library file as our ``/art/``
    URL for it (``kind`` "movie" or "series"; see ``xrelay.vod``)."""
    if not image or image.startswith(("http://", "https://")):
        return image
    suffix = PurePosixPath(image).suffix[1:].lower() or "jpg"
    return f"{ORIGIN}/art/{kind}/{item_id}/{name}.{suffix}"


def video_info(codec: str, width: int, height: int) -> JsonObject:
    """ffprobe-style ``video`` object (§4.4); ``{}`` when unknown."""
    if not codec:
        return {}
    return {
        "codec_type": "video",
        "codec_name": codec,
        "width": width,
        "height": height,
    }


def audio_info(codec: str) -> JsonObject:
    return {"codec_type": "audio", "codec_name": codec} if codec else {}


NO_CATEGORY = "0"
"""``category_id`` of uncategorised items: digits, because clients parse it
as an integer (a null or ``""`` breaks the Go and C# clients)."""


def wall(seconds: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, the advertised server timezone."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def hms(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def release_date(year: int | None) -> str:
    """The store keeps a year only; clients parse a full date (J reads a
    nullable date, where ``""`` is "unknown")."""
    return f"{year:04d}-01-01" if year else ""


def rating_value(text: str) -> float:
    """The stored ten-point rating, 0 when empty or not a number."""
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def _number(value: float) -> int | float:
    """A JSON number without a pointless ``.0``."""
    return int(value) if value == int(value) else value


def rating_text(text: str) -> str:
    """A decimal digit string (``"6.4"``), never ``""``."""
    return f"{_number(round(rating_value(text), 1))}"


def rating_5based(text: str) -> int | float:
    return _number(round(rating_value(text) / 2, 2))


def _category_fields(category_id: int | None) -> JsonObject:
    if category_id is None:
        return {"category_id": NO_CATEGORY, "category_ids": []}
    return {"category_id": str(category_id), "category_ids": [category_id]}


def category(record: Category) -> JsonObject:
    return {
        "category_id": str(record.id),
        "category_name": record.name,
        "parent_id": 0,
    }


def archive_days(channel: Channel) -> int:
    """How many days of catch-up the channel offers; 0: none.

    ``tv_archive``, ``tv_archive_duration`` and the playlist's catch-up
    attributes all follow from this one value.  In the daemon the catalog
    cache is handed channels whose ``archive_days`` is what the archive
    actually holds (``xrelay.archive.Archive.shown``).
    """
    return channel.archive_days


def live_stream(record: Channel) -> JsonObject:
    days = archive_days(record)
    return {
        "num": record.number,
        "name": record.name,
        "stream_type": "live",
        "stream_id": record.id,
        "stream_icon": record.logo,
        "epg_channel_id": record.epg_id,
        "added": str(record.added),
        "is_adult": "0",
        **_category_fields(record.category_id),
        "custom_sid": "",
        "tv_archive": 1 if days > 0 else 0,
        "direct_source": "",  # never the upstream URL: it may hold secrets
        "tv_archive_duration": max(days, 0),  # in days (§4.2)
        "thumbnail": "",
    }


def vod_stream(record: Movie, num: int) -> JsonObject:
    return {
        "num": num,
        "name": record.name,
        "stream_type": "movie",
        "stream_id": record.id,
        "stream_icon": artwork("movie", record.id, "poster", record.poster),
        "rating": rating_text(record.rating),
        "rating_5based": rating_5based(record.rating),
        "added": str(record.added),
        "is_adult": "0",
        **_category_fields(record.category_id),
        "container_extension": record.container_extension,
        "custom_sid": "",
        "direct_source": "",
    }


def vod_info(record: Movie) -> JsonObject:
    """``get_vod_info``: the details object plus ``movie_data``."""
    released = release_date(record.year)
    poster = artwork("movie", record.id, "poster", record.poster)
    backdrop = artwork("movie", record.id, "backdrop", record.backdrop)
    info = {
        "name": record.name,
        "o_name": record.name,
        "cover_big": poster,
        "movie_image": poster,
        "releasedate": released,
        "release_date": released,
        "youtube_trailer": "",
        "director": "",
        "actors": "",
        "cast": "",
        "description": record.plot,
        "plot": record.plot,
        "age": "",
        "mpaa_rating": "",
        "country": "",
        "genre": "",
        "backdrop_path": [backdrop] if backdrop else [],
        "duration_secs": record.duration_secs,
        "duration": hms(record.duration_secs),
        "video": video_info(record.video_codec, record.width, record.height),
        "audio": audio_info(record.audio_codec),
        "bitrate": record.bitrate,
        "rating": rating_text(record.rating),
        "tmdb_id": 0,
    }
    movie_data = {
        "stream_id": record.id,
        "name": record.name,
        "added": str(record.added),
        **_category_fields(record.category_id),
        "container_extension": record.container_extension,
        "custom_sid": "",
        "direct_source": "",
    }
    return {"info": info, "movie_data": movie_data}


def _series_info(record: Series, episodes: tuple[Episode, ...]) -> JsonObject:
    """The fields ``get_series`` and ``get_series_info.info`` share."""
    released = release_date(record.year)
    backdrop = artwork("series", record.id, "backdrop", record.backdrop)
    run_time = next((e.duration_secs for e in episodes if e.duration_secs > 0), 0)
    return {
        "name": record.name,
        "cover": artwork("series", record.id, "cover", record.cover),
        "plot": record.plot,
        "cast": "",
        "director": "",
        "genre": "",
        "releaseDate": released,
        "release_date": released,
        "last_modified": str(max([record.added, *(e.added for e in episodes)])),
        # Whole numbers: the Go client decodes this one as quoted integer
        # text; rating_5based keeps the precision.
        "rating": str(round(rating_value(record.rating))),
        "rating_5based": rating_5based(record.rating),
        "backdrop_path": [backdrop] if backdrop else [],
        "youtube_trailer": "",
        "episode_run_time": str(round(run_time / 60)),
        **_category_fields(record.category_id),
    }


def series_entry(record: Series, num: int, episodes: tuple[Episode, ...]) -> JsonObject:
    return {"num": num, "series_id": record.id, **_series_info(record, episodes)}


def series_info(
    record: Series, seasons: tuple[Season, ...], episodes: tuple[Episode, ...]
) -> JsonObject:
    """``get_series_info``: one ``seasons`` entry per key of ``episodes``
    (an object keyed by season number as text, even when empty).
    ``episodes`` are in play order."""
    by_season: dict[int, list[Episode]] = {}
    for episode in episodes:
        by_season.setdefault(episode.season_number, []).append(episode)
    known = {season.number: season for season in seasons}
    names: set[str] = set()
    season_list = []
    for number in sorted(by_season):
        season = known.get(number)
        name = season.name if season is not None and season.name else ""
        if not name or name in names:  # clients key seasons by name
            name = f"Season {number}"
        names.add(name)
        cover = _season_cover(record, season, number)
        season_list.append(
            {
                "id": number,
                "season_number": number,
                "name": name,
                "episode_count": len(by_season[number]),
                "overview": season.plot if season is not None else "",
                "air_date": "",
                "cover": cover,
                "cover_big": cover,
            }
        )
    return {
        "seasons": season_list,
        "info": _series_info(record, episodes),
        "episodes": {
            str(number): _season_episodes(record, group, known.get(number))
            for number, group in sorted(by_season.items())
        },
    }


def _season_episodes(
    record: Series, episodes: list[Episode], season: Season | None
) -> list[JsonObject]:
    """One season's entries, titles unique: clients key episodes by title,
    and nothing stops two episodes sharing a number."""
    entries = []
    titles: set[str] = set()
    for episode in episodes:
        entry = episode_entry(record, episode, season)
        if entry["title"] in titles:
            entry["title"] += f" ({episode.id})"
        titles.add(entry["title"])
        entries.append(entry)
    return entries


def _season_cover(record: Series, season: Season | None, number: int) -> str:
    if season is not None and season.cover:
        return artwork("series", record.id, f"season-{number}", season.cover)
    return artwork("series", record.id, "cover", record.cover)


def episode_name(show: str, episode: Episode) -> str:
    """``Show S01E02 Title``: the name in playlists."""
    code = f"S{episode.season_number:02d}E{episode.episode_number:02d}"
    return f"{show} {code} {episode.title}".rstrip()


def episode_entry(
    record: Series, episode: Episode, season: Season | None
) -> JsonObject:
    code = f"S{episode.season_number:02d}E{episode.episode_number:02d}"
    title = " - ".join(part for part in (record.name, code, episode.title) if part)
    image = _season_cover(record, season, episode.season_number)
    return {
        "id": str(episode.id),
        "episode_num": episode.episode_number,
        "title": title,
        "container_extension": episode.container_extension,
        "info": {
            "name": episode.title,
            "tmdb_id": 0,
            "releasedate": "",
            "plot": episode.plot,
            "duration_secs": episode.duration_secs,
            "duration": hms(episode.duration_secs),
            "movie_image": image,
            "cover_big": image,
            "video": video_info(episode.video_codec, episode.width, episode.height),
            "audio": audio_info(episode.audio_codec),
            "bitrate": episode.bitrate,
            "rating": 0,  # a number (§4.6); episodes have no rating of their own
            "season": episode.season_number,
        },
        "custom_sid": "",
        "added": str(episode.added),
        "season": episode.season_number,
        "direct_source": "",
    }


# The "nothing here" answers (§4): objects stay objects.
EMPTY_VOD_INFO: JsonObject = {"info": {}, "movie_data": {}}
EMPTY_SERIES_INFO: JsonObject = {"seasons": [], "info": {}, "episodes": {}}
EMPTY_EPG: JsonObject = {"epg_listings": []}
