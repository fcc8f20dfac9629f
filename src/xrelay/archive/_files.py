"""The archive's blocking file operations: run in threads (see ``_disk``),
never on the reactor."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from twisted.logger import Logger

from xrelay.archive._index import (
    IndexFile,
    Layout,
    Segment,
    end_line,
    header,
    parse_index,
    point_line,
    scan_segment,
)
from xrelay.archive._segmenter import Point
from xrelay.mpegts import PACKET_SIZE

log = Logger()

_SCAN_CHUNK = 1024 * PACKET_SIZE


def append(ts_path: str, idx_path: str, data: bytes, index_text: str) -> None:
    """Add to a segment and then to its index (so the index never points
    past the data), creating both (and the day's directory) at need."""
    if data:
        try:
            ts = open(ts_path, "ab")  # noqa: SIM115 -- closed below
        except FileNotFoundError:
            os.makedirs(os.path.dirname(ts_path), exist_ok=True)
            ts = open(ts_path, "ab")  # noqa: SIM115
        with ts:
            ts.write(data)
    if index_text:
        with open(idx_path, "a", encoding="ascii") as idx:
            idx.write(index_text)


def remove(ts_path: str, idx_path: str) -> int:
    """Delete a segment and its index; the bytes freed.  The day's and the
    channel's directories go once empty."""
    freed = 0
    for path in (ts_path, idx_path):
        with contextlib.suppress(FileNotFoundError):
            freed += os.path.getsize(path)
            os.unlink(path)
    day = os.path.dirname(ts_path)
    for directory in (day, os.path.dirname(day)):
        try:
            os.rmdir(directory)
        except OSError:  # not empty (or gone): keep it
            break
    return freed


def read_range(path: str, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def read_points(idx_path: str) -> list[Point]:
    """A completed segment's seek points ([] if its index is unreadable)."""
    try:
        with open(idx_path, encoding="ascii", errors="replace") as f:
            index = parse_index(f.read())
    except OSError:
        return []
    return [] if index is None else list(index.points)


def load(layout: Layout) -> list[Segment]:
    """Every segment under the archive root, index files repaired: a
    missing or unreadable one rebuilt from its segment, one the recorder
    never completed (a crash) completed.  Anything not named as the
    archive names its files is left alone."""
    segments = []
    for channel_id, name, ts_path, idx_path in _walk(layout.root):
        try:
            segment = _load_one(channel_id, name, ts_path, idx_path)
        except OSError as e:
            log.warn("archive: cannot read {path}: {error}", path=ts_path, error=e)
            continue
        if segment is None:
            remove(ts_path, idx_path)
        else:
            segments.append(segment)
    return segments


def _walk(root: str) -> Iterator[tuple[int, int, str, str]]:
    for channel in _digit_entries(root):
        channel_dir = os.path.join(root, channel)
        for day in _digit_entries(channel_dir):
            day_dir = os.path.join(channel_dir, day)
            for entry in os.listdir(day_dir):
                stem, ext = os.path.splitext(entry)
                if ext == ".ts" and stem.isascii() and stem.isdigit():
                    base = os.path.join(day_dir, stem)
                    yield int(channel), int(stem), base + ".ts", base + ".idx"


def _digit_entries(directory: str) -> list[str]:
    try:
        entries = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [e for e in entries if e.isascii() and e.isdigit()]


def _load_one(
    channel_id: int, name: int, ts_path: str, idx_path: str
) -> Segment | None:
    """The segment, or None when it holds nothing worth keeping."""
    size = os.path.getsize(ts_path) // PACKET_SIZE * PACKET_SIZE
    if size == 0:
        return None
    index = _read_index(idx_path)
    rebuilt = index is None
    if index is None:
        log.info("archive: rebuilding the index of {path}", path=ts_path)
        index = scan_segment(_chunks(ts_path, size), float(name))
    points = [p for p in index.points if p.offset < size]
    if not points:
        return None
    end = index.end
    if rebuilt or end is None or index.size != size:
        # Rebuilt, or the recorder stopped before completing it (a crash):
        # it ends near its last point.  Written whole, then renamed over.
        end = points[-1].wall if end is None else end
        temporary = idx_path + ".new"
        with open(temporary, "w", encoding="ascii") as f:
            f.write(header(index.start, index.psi_bytes))
            f.writelines(point_line(p) for p in points)
            f.write(end_line(end, size))
        os.replace(temporary, idx_path)
    return Segment(channel_id, name, index.start, end, size, index.psi_bytes)


def _read_index(idx_path: str) -> IndexFile | None:
    try:
        with open(idx_path, encoding="ascii", errors="replace") as f:
            return parse_index(f.read())
    except FileNotFoundError:
        return None


def _chunks(path: str, size: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        left = size
        while left > 0:
            chunk = f.read(min(_SCAN_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
