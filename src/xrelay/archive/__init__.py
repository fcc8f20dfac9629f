"""Catch-up (timeshift): archived channels recorded to disk as TS segments
with a wall-clock index, kept for their days within a disk quota, and
played back from any second of them."""

from xrelay.archive._disk import Disk, InlineDisk, ThreadedDisk
from xrelay.archive._index import Layout, Segment
from xrelay.archive._playback import Playback
from xrelay.archive._recorder import Recorder
from xrelay.archive._segmenter import Point, Segmenter
from xrelay.archive._service import Archive, ArchiveSettings

__all__ = [
    "Archive",
    "ArchiveSettings",
    "Disk",
    "InlineDisk",
    "Layout",
    "Playback",
    "Point",
    "Recorder",
    "Segment",
    "Segmenter",
    "ThreadedDisk",
]
