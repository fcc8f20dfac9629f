"""The segments of one stream that its playlist lists and players fetch."""

from __future__ import annotations

import math
from collections import deque

import attrs

from xrelay.hls._segmenter import Cut


@attrs.frozen
class Segment:
    sequence: int  # its media sequence number
    data: bytes
    duration: float  # seconds
    discontinuity: bool  # preceded by #EXT-X-DISCONTINUITY
    discontinuity_sequence: int  # discontinuity tags up to and including its own


class SegmentWindow:
    """A sliding window over a stream's segments, bounded in count and bytes.

    The playlist lists the latest ``listed`` segments; as many again stay
    fetchable after they leave it, for players a playlist behind (RFC 8216
    6.2.2 asks for a playlist's duration).  Past ``max_bytes`` the oldest
    go first, even listed ones.  The target duration starts at
    ``target_seconds`` rounded up and only grows (a stream with sparser
    keyframes makes longer segments), so players never see it shrink.
    """

    def __init__(self, listed: int, max_bytes: int, target_seconds: float) -> None:
        self._listed = listed
        self._kept = 2 * listed
        self._max_bytes = max_bytes
        self.segments: deque[Segment] = deque()
        self.bytes = 0
        self.next_sequence = 0
        self._discontinuities = 0
        self.target_duration = max(1, math.ceil(target_seconds - 0.001))
        self.ended = False
        self._playlist: bytes | None = None

    def add(self, cut: Cut) -> Segment:
        self._discontinuities += cut.discontinuity
        segment = Segment(
            self.next_sequence,
            cut.data,
            cut.duration,
            cut.discontinuity,
            self._discontinuities,
        )
        self.next_sequence += 1
        self.segments.append(segment)
        self.bytes += len(cut.data)
        self.target_duration = max(self.target_duration, int(cut.duration + 0.5))
        while len(self.segments) > self._kept or (
            self.bytes > self._max_bytes and len(self.segments) > 1
        ):
            self.bytes -= len(self.segments.popleft().data)
        self._playlist = None
        return segment

    def end(self) -> None:
        """No segment follows: the playlist says so (#EXT-X-ENDLIST)."""
        self.ended = True
        self._playlist = None

    def get(self, sequence: int) -> Segment | None:
        """The segment numbered ``sequence`` while it is kept."""
        if not self.segments:
            return None
        index = sequence - self.segments[0].sequence
        if 0 <= index < len(self.segments):
            return self.segments[index]
        return None

    def listed(self) -> list[Segment]:
        count = min(self._listed, len(self.segments))
        return [
            self.segments[i]
            for i in range(len(self.segments) - count, len(self.segments))
        ]

    def playlist(self) -> bytes:
        """The media playlist; built once per change and shared by every
        session (segment URIs are relative: ``SEQUENCE.ts``)."""
        if self._playlist is None:
            self._playlist = render_playlist(
                self.listed(), self.target_duration, self.next_sequence, self.ended
            )
        return self._playlist


def render_playlist(
    segments: list[Segment], target_duration: int, next_sequence: int, ended: bool
) -> bytes:
    """An RFC 8216 media playlist of consecutive ``segments``
    (``next_sequence`` numbers the first when there are none yet)."""
    first = segments[0] if segments else None
    sequence = first.sequence if first else next_sequence
    # Tags on segments that left the window (a listed segment keeps its own).
    gone = first.discontinuity_sequence - first.discontinuity if first else 0
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{gone}",
    ]
    for segment in segments:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        lines.append(f"{segment.sequence}.ts")
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode("ascii")
