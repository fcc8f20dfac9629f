"""The catalog as data: M3U playlists and their import, the TOML document
(`xrelay export` / `xrelay apply`), and diffs between catalogs.  All pure
but the playlist download (treq, imported only when used)."""

from xrelay.catalog._diff import diff_catalogs
from xrelay.catalog._document import (
    VERSION,
    DocumentError,
    PasswordHasher,
    dump_document,
    parse_document,
)
from xrelay.catalog._fetch import FetchError, fetch_blocking, fetch_playlist, redact_url
from xrelay.catalog._import import ImportPlan, plan_import
from xrelay.catalog._m3u import (
    SOURCE_SCHEMES,
    Entry,
    Playlist,
    Problem,
    check_source_url,
    parse_m3u,
)

__all__ = [
    "SOURCE_SCHEMES",
    "VERSION",
    "DocumentError",
    "Entry",
    "FetchError",
    "ImportPlan",
    "PasswordHasher",
    "Playlist",
    "Problem",
    "check_source_url",
    "diff_catalogs",
    "dump_document",
    "fetch_blocking",
    "fetch_playlist",
    "parse_document",
    "parse_m3u",
    "plan_import",
    "redact_url",
]
