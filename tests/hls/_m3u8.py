"""A strict parser of the HLS media playlists xrelay writes (RFC 8216):
it rejects anything the RFC forbids and any tag xrelay does not use, and
checks that one playlist may follow another (6.2.1, 6.2.2)."""

from __future__ import annotations

import re

import attrs

_DECIMAL = re.compile(r"\d+")
_FLOAT = re.compile(r"\d+(\.\d+)?")
# Tags that may appear once, before the first segment.
_HEADER_TAGS = (
    "EXT-X-VERSION",
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
)


class PlaylistError(AssertionError):
    pass


@attrs.frozen
class Entry:
    uri: str
    duration: float
    discontinuity: bool
    sequence: int
    discontinuity_sequence: int


@attrs.frozen
class MediaPlaylist:
    version: int
    target_duration: int
    media_sequence: int
    discontinuity_sequence: int
    segments: tuple[Entry, ...]
    ended: bool


def parse(text: str) -> MediaPlaylist:
    lines = text.split("\n")
    if lines[-1] != "":
        raise PlaylistError("the last line is not terminated")
    lines.pop()
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("does not start with #EXTM3U")
    header: dict[str, int] = {}
    segments: list[Entry] = []
    pending: float | None = None
    discontinuity = False
    ended = False
    for number, line in enumerate(lines[1:], 2):
        where = f"line {number}: {line!r}"
        if ended:
            raise PlaylistError(f"{where}: after #EXT-X-ENDLIST")
        if line != line.strip() or not line:
            raise PlaylistError(f"{where}: blank or padded")
        if not line.startswith("#"):
            if pending is None:
                raise PlaylistError(f"{where}: a URI without #EXTINF")
            sequence = header.get("EXT-X-MEDIA-SEQUENCE", 0) + len(segments)
            before = segments[-1].discontinuity_sequence if segments else None
            ds = (
                header.get("EXT-X-DISCONTINUITY-SEQUENCE", 0)
                if before is None
                else before
            )
            segments.append(
                Entry(line, pending, discontinuity, sequence, ds + discontinuity)
            )
            pending, discontinuity = None, False
            continue
        if not line.startswith("#EXT"):
            continue  # a comment
        name, _, value = line[1:].partition(":")
        if pending is not None:
            raise PlaylistError(f"{where}: a tag between #EXTINF and its URI")
        if name in _HEADER_TAGS:
            if name in header:
                raise PlaylistError(f"{where}: repeated")
            if segments or discontinuity:
                raise PlaylistError(f"{where}: must come before the segments")
            if not _DECIMAL.fullmatch(value):
                raise PlaylistError(f"{where}: not a decimal integer")
            header[name] = int(value)
        elif name == "EXTINF":
            duration, comma, _ = value.partition(",")
            if not comma or not _FLOAT.fullmatch(duration):
                raise PlaylistError(f"{where}: bad #EXTINF")
            if "." in duration and header.get("EXT-X-VERSION", 1) < 3:
                raise PlaylistError(f"{where}: decimal duration needs version 3")
            pending = float(duration)
        elif name == "EXT-X-DISCONTINUITY" and not value:
            if discontinuity:
                raise PlaylistError(f"{where}: repeated")
            discontinuity = True
        elif name == "EXT-X-ENDLIST" and not value:
            ended = True
        else:
            raise PlaylistError(f"{where}: unexpected tag")
    if pending is not None or discontinuity:
        raise PlaylistError("ends inside a segment's tags")
    if "EXT-X-TARGETDURATION" not in header:
        raise PlaylistError("no #EXT-X-TARGETDURATION")
    target = header["EXT-X-TARGETDURATION"]
    for entry in segments:
        if int(entry.duration + 0.5) > target:
            raise PlaylistError(f"{entry.uri}: {entry.duration} s > target {target}")
    return MediaPlaylist(
        header.get("EXT-X-VERSION", 1),
        target,
        header.get("EXT-X-MEDIA-SEQUENCE", 0),
        header.get("EXT-X-DISCONTINUITY-SEQUENCE", 0),
        tuple(segments),
        ended,
    )


def check_follows(before: MediaPlaylist, after: MediaPlaylist) -> None:
    """Whether ``after`` is a valid reload of ``before``: segments keep
    their sequence number, URI, duration and discontinuity numbering;
    only the oldest leave; the target duration stays."""
    if after.media_sequence < before.media_sequence:
        raise PlaylistError("the media sequence went back")
    if after.target_duration != before.target_duration:
        raise PlaylistError("the target duration changed")
    if before.ended and after != before:
        raise PlaylistError("an ended playlist changed")
    old = {entry.sequence: entry for entry in before.segments}
    for entry in after.segments:
        if entry.sequence in old and old[entry.sequence] != entry:
            raise PlaylistError(f"segment {entry.sequence} changed: {entry}")
    kept = [s for s in before.segments if s.sequence >= after.media_sequence]
    if kept and kept[0].sequence != after.media_sequence:
        raise PlaylistError("a segment vanished from the middle")
    if after.segments and before.segments:
        last = before.segments[-1].sequence
        if after.segments[-1].sequence < last:
            raise PlaylistError("segments vanished from the end")
