"""``transcode:ID?profile=NAME``: the source URL of a transcoded channel."""

from __future__ import annotations

import re

from xrelay.ingest import UnsupportedSource

SCHEME = "transcode"
_URL = re.compile(r"transcode:(\d{1,9})\?profile=([A-Za-z0-9_-]{1,32})")


def transcode_url(channel_id: int, profile: str) -> str:
    """The source URL of channel ``channel_id`` transcoded by ``profile``."""
    return f"{SCHEME}:{channel_id}?profile={profile}"


def parse_transcode_url(url: str) -> tuple[int, str]:
    """(channel id, profile name) of a ``transcode:`` URL, or
    UnsupportedSource saying what is wrong with it."""
    match = _URL.fullmatch(url)
    if match is None:
        raise UnsupportedSource(
            f"{url!r}: expected transcode:CHANNEL_ID?profile=NAME "
            "(NAME: up to 32 letters, digits, '_' or '-')"
        )
    return int(match[1]), match[2]
