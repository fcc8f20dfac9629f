"""Recorded segments: their place on disk and their index files.  Pure
(names and text; ``_files`` does the I/O).

A channel's recording is ``ROOT/<channel id>/<YYYYMMDD>/<name>.ts`` with
``<name>.idx`` beside it, where ``name`` is the second (Unix time, UTC day)
the segment started, made unique per channel.  The index file is text,
appended to as the segment grows, so a restart finds it whole up to the
last write::

    xrelay-archive-index 1 <start> <psi bytes>
    P <wall> <pts or -> <offset>        one per seek point
    E <end> <size>                      once the segment is complete

A crash can leave the last line cut short and no ``E`` line; a lost index
file is rebuilt from the segment itself (``scan_segment``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

import attrs

from xrelay.archive._segmenter import Point, keyframes
from xrelay.mpegts import PACKET_SIZE, PsiTracker

MAGIC = "xrelay-archive-index"
VERSION = 1
_PTS_WRAP = 1 << 33
_PTS_HZ = 90_000


@attrs.define(eq=False)
class Segment:
    """One recorded file.  ``end`` and ``size`` grow while it is being
    recorded (``points`` is then held in memory; afterwards it is None and
    read from the index file when needed)."""

    channel_id: int
    name: int
    start: float
    end: float
    size: int  # bytes on disk, whole packets
    psi_bytes: int  # the PAT/PMT at its head
    points: list[Point] | None = None
    recording: bool = False


@attrs.frozen
class Layout:
    root: str

    def paths(self, channel_id: int, name: int) -> tuple[str, str]:
        """The segment file and its index file (every part built from
        integers: no request can steer them)."""
        day = time.strftime("%Y%m%d", time.gmtime(name))
        base = os.path.join(self.root, str(channel_id), day, str(name))
        return base + ".ts", base + ".idx"

    def of(self, segment: Segment) -> tuple[str, str]:
        return self.paths(segment.channel_id, segment.name)


def header(start: float, psi_bytes: int) -> str:
    return f"{MAGIC} {VERSION} {start:.3f} {psi_bytes}\n"


def point_line(point: Point) -> str:
    pts = "-" if point.pts is None else str(point.pts)
    return f"P {point.wall:.3f} {pts} {point.offset}\n"


def end_line(end: float, size: int) -> str:
    return f"E {end:.3f} {size}\n"


@attrs.frozen
class IndexFile:
    start: float
    psi_bytes: int
    points: tuple[Point, ...]
    end: float | None = None  # None: never completed (no E line)
    size: int | None = None


def parse_index(text: str) -> IndexFile | None:
    """The index in ``text``; None when its header is not ours.  Reading
    stops at the first line that does not parse (cut short by a crash)."""
    lines = text.split("\n")
    head = lines[0].split(" ")
    if len(head) != 4 or head[0] != MAGIC or head[1] != str(VERSION):
        return None
    try:
        start, psi_bytes = float(head[2]), int(head[3])
    except ValueError:
        return None
    points: list[Point] = []
    end: float | None = None
    size: int | None = None
    for line in lines[1:]:
        fields = line.split(" ")
        try:
            if fields[0] == "P" and len(fields) == 4:
                pts = None if fields[2] == "-" else int(fields[2])
                points.append(Point(float(fields[1]), pts, int(fields[3])))
            elif fields[0] == "E" and len(fields) == 3:
                end, size = float(fields[1]), int(fields[2])
            else:
                break
        except ValueError:
            break
    return IndexFile(start, psi_bytes, tuple(points), end, size)


def scan_segment(
    chunks: Iterable[bytes], start: float, point_interval: float = 1.0
) -> IndexFile:
    """Rebuild a segment's index from its packets (``chunks`` of whole
    packets, in order).  Wall times are ``start`` plus the keyframes' PTS
    distance from the first one; without video, the only point is the
    start."""
    psi = PsiTracker()
    points: list[Point] = []
    first_pts: int | None = None
    last_wall = float("-inf")
    base = 0
    for chunk in chunks:
        psi.feed(chunk)
        if psi.video_pid is not None:
            for off, pts in keyframes(chunk, psi.video_pid, psi.video_stream_type or 0):
                if pts is None:
                    continue
                if first_pts is None:
                    first_pts = pts
                wall = start + ((pts - first_pts) % _PTS_WRAP) / _PTS_HZ
                if wall - last_wall >= point_interval:
                    points.append(Point(wall, pts, base + off))
                    last_wall = wall
        base += len(chunk) - len(chunk) % PACKET_SIZE
    if not points:
        points.append(Point(start, None, 0))
    return IndexFile(start, points[0].offset, tuple(points), points[-1].wall, base)
