"""Cutting a channel's packets into segment files at keyframes.  Pure.

A segment file is the PAT/PMT in force, then the stream from a video
keyframe on, so every file plays on its own.  While cutting, the segmenter
notes seek points (a keyframe, its PTS, its byte offset in the file and the
wall-clock time it arrived) about once a second: what a catch-up request
later uses to start at the right second.
"""

from __future__ import annotations

import attrs

from xrelay.mpegts import (
    PACKET_SIZE,
    PsiTracker,
    is_random_access,
    parse_pes_timestamps,
)


@attrs.frozen
class Point:
    """A place playback may start: byte ``offset`` of a segment file holds
    a video keyframe (any packet, for a channel without video), which
    arrived at ``wall`` (epoch seconds); ``pts`` is its PES timestamp (90
    kHz), None when not known."""

    wall: float
    pts: int | None
    offset: int


@attrs.frozen
class Open:
    """A new segment file starts at ``wall``: write ``psi`` (PAT/PMT) first.
    The previous segment, if any, is complete."""

    wall: float
    psi: bytes


# What ``Segmenter.feed`` asks of its caller, in order: start a file (Open),
# append bytes to the current file (bytes), note a seek point (Point).
Event = Open | bytes | Point


def keyframes(
    data: bytes, video_pid: int, stream_type: int
) -> list[tuple[int, int | None]]:
    """(offset, PTS) of the packets of ``data`` starting a PES packet of
    ``video_pid`` at which a decoder can start.

    Runs on every packet of every recorded channel, so the search is done
    by ``bytes.find`` over the header bytes pulled out with strided slices
    (in C): only PES starts of PIDs sharing the video PID's high bits are
    looked at in Python.
    """
    flags = data[1::PACKET_SIZE]  # TEI, payload_unit_start, priority, PID high
    lows = data[2::PACKET_SIZE]  # PID low
    high, low = video_pid >> 8, video_pid & 0xFF
    found = []
    for wanted in (0x40 | high, 0x60 | high):  # with or without transport_priority
        i = flags.find(wanted)
        while i >= 0:
            off = i * PACKET_SIZE
            if lows[i] == low and is_random_access(data, off, stream_type):
                found.append((off, parse_pes_timestamps(data, off)[0]))
            i = flags.find(wanted, i + 1)
    found.sort()
    return found


class Segmenter:
    """Turns one channel's packets into file events (see ``Event``).

    Nothing is recorded until the PAT/PMT and then a keyframe have gone
    by.  A segment ends at the first keyframe once it is
    ``segment_seconds`` long, or once the PAT/PMT changed (its head would
    no longer describe it).  A channel without video (radio) is cut and
    pointed at batch boundaries instead.  ``reset()`` after a gap (source
    lost, data dropped) makes the next segment begin at the next keyframe.
    """

    def __init__(self, segment_seconds: float, point_interval: float = 1.0) -> None:
        self.segment_seconds = segment_seconds
        self.point_interval = point_interval
        self.psi = PsiTracker()
        self._start: float | None = None  # None: no segment open
        self._psi_version = 0
        self._offset = 0  # bytes in the current segment so far
        self._last_point = float("-inf")

    @property
    def recording(self) -> bool:
        return self._start is not None

    def reset(self) -> None:
        self._start = None

    def feed(self, data: bytes, now: float) -> list[Event]:
        """The events for the next whole packets, which arrived at ``now``."""
        self.psi.feed(data)
        events: list[Event] = []
        done = 0  # data[:done] is appended (or dropped, before the first cut)
        for off, pts in self._starts(data):
            if self._must_cut(now):
                if self._start is not None and off > done:
                    events.append(data[done:off])
                psi = self.psi.psi_packets
                events += (Open(now, psi), Point(now, pts, len(psi)))
                self._start, self._offset = now, len(psi)
                self._psi_version = self.psi.version
                self._last_point = now
                done = off
            elif self._start is not None and now - self._last_point >= (
                self.point_interval
            ):
                events.append(Point(now, pts, self._offset + off - done))
                self._last_point = now
        if self._start is not None and done < len(data):
            events.append(data[done:])
            self._offset += len(data) - done
        return events

    def _must_cut(self, now: float) -> bool:
        return (
            self._start is None
            or now - self._start >= self.segment_seconds
            or self.psi.version != self._psi_version
        )

    def _starts(self, data: bytes) -> list[tuple[int, int | None]]:
        """Where a segment or a seek point may begin in ``data``."""
        video = self.psi.video_pid
        if video is not None:
            return keyframes(data, video, self.psi.video_stream_type or 0)
        if self.psi.pmts and self.psi.psi_packets:  # radio: anywhere
            return [(0, None)]
        return []  # the PMT is not known yet: nothing is playable
