"""The catalog and user model: plain immutable attrs records.

Ids are the numbers players see (stream ids, category ids, ...).  An id of 0
on a record handed to a store means "new: assign the next free id".
Every time is Unix epoch seconds (UTC).
"""

from __future__ import annotations

import attrs

CATEGORY_KINDS = ("live", "vod", "series")
OUTPUT_FORMATS = ("ts", "m3u8", "rtmp")


@attrs.frozen
class Category:
    id: int
    kind: str  # one of CATEGORY_KINDS
    name: str
    sort_order: int = 0


@attrs.frozen
class Channel:
    """A live channel; ``sources`` are tried in order (failover)."""

    id: int
    number: int
    name: str
    category_id: int | None = None
    sources: tuple[str, ...] = ()
    logo: str = ""
    epg_id: str = ""
    on_demand: bool = True
    added: int = 0
    # Days of catch-up recorded (xrelay.archive); 0: none.
    archive_days: int = 0


@attrs.frozen
class Bouquet:
    """A package of content; a line sees the union of its bouquets."""

    id: int
    name: str
    channel_ids: tuple[int, ...] = ()
    movie_ids: tuple[int, ...] = ()
    series_ids: tuple[int, ...] = ()


@attrs.frozen
class User:
    """A subscriber line.

    Empty ``allowed_networks`` / ``allowed_user_agents`` mean no restriction;
    empty ``bouquet_ids`` means the line sees the whole catalog.
    ``expires_at`` None means the line never expires.
    """

    id: int
    username: str
    password_hash: str
    enabled: bool = True
    expires_at: int | None = None
    max_connections: int = 1
    allowed_output_formats: tuple[str, ...] = ("m3u8", "ts")
    allowed_networks: tuple[str, ...] = ()
    allowed_user_agents: tuple[str, ...] = ()
    bouquet_ids: tuple[int, ...] = ()
    is_trial: bool = False
    notes: str = ""
    created_at: int = 0


@attrs.frozen
class Movie:
    """A VOD movie; ``source`` is a file path or an http(s) URL.

    ``poster`` and ``backdrop`` are image URLs or image files in the
    library.  The media facts (codecs, size in pixels, bitrate in kbit/s,
    ``file_size`` in bytes) come from ffprobe; 0 or "" when unknown.
    ``library_path`` is the file's path below its library directory when
    the library scan made this record ("" for one added by hand): a scan
    keeps such records in step with the files and leaves the others alone.
    """

    id: int
    name: str
    source: str
    category_id: int | None = None
    container_extension: str = "mp4"
    year: int | None = None
    plot: str = ""
    poster: str = ""
    rating: str = ""
    duration_secs: int = 0
    added: int = 0
    backdrop: str = ""
    video_codec: str = ""
    audio_codec: str = ""
    width: int = 0
    height: int = 0
    bitrate: int = 0
    file_size: int = 0
    library_path: str = ""


@attrs.frozen
class Series:
    """``library_path``: the show's folder name in the library ("" for a
    series added by hand); see ``Movie``."""

    id: int
    name: str
    category_id: int | None = None
    plot: str = ""
    cover: str = ""
    year: int | None = None
    rating: str = ""
    added: int = 0
    backdrop: str = ""
    library_path: str = ""


@attrs.frozen
class Season:
    """Identified by (series_id, number)."""

    series_id: int
    number: int
    name: str = ""
    cover: str = ""
    plot: str = ""


@attrs.frozen
class Episode:
    id: int
    series_id: int
    season_number: int
    episode_number: int
    title: str
    source: str
    container_extension: str = "mp4"
    plot: str = ""
    duration_secs: int = 0
    added: int = 0
    video_codec: str = ""  # media facts and library_path: see Movie
    audio_codec: str = ""
    width: int = 0
    height: int = 0
    bitrate: int = 0
    file_size: int = 0
    library_path: str = ""


@attrs.frozen
class EpgSource:
    id: int
    name: str
    url: str
    enabled: bool = True
    priority: int = 0
    refresh_seconds: int = 43200


@attrs.frozen
class Catalog:
    """Everything in a store at one moment: what `xrelay export` writes and
    `xrelay apply` makes true.  Each tuple is sorted by its key (id, or
    (series_id, number) for seasons)."""

    categories: tuple[Category, ...] = ()
    channels: tuple[Channel, ...] = ()
    bouquets: tuple[Bouquet, ...] = ()
    users: tuple[User, ...] = ()
    movies: tuple[Movie, ...] = ()
    series: tuple[Series, ...] = ()
    seasons: tuple[Season, ...] = ()
    episodes: tuple[Episode, ...] = ()
    epg_sources: tuple[EpgSource, ...] = ()
