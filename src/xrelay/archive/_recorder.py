"""Recording one channel: its packets in, segment files out."""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from xrelay.archive import _files
from xrelay.archive._disk import Disk
from xrelay.archive._index import Layout, Segment, end_line, header, point_line
from xrelay.archive._recordings import Recordings
from xrelay.archive._segmenter import Open, Point, Segmenter

# What is gathered before one write: a second of stream or a megabyte.
FLUSH_SECONDS = 1.0
FLUSH_BYTES = 1024 * 1024
# Bytes handed to the disk and not written yet, at most; a disk that slow
# costs the recording a gap, never the live channel its memory or time.
MAX_BACKLOG = 32 * 1024 * 1024


class Recorder:
    """Records one channel into segment files.

    ``write_packets`` runs on the reactor thread, in the channel's packet
    path: it only cuts (``Segmenter``) and gathers.  The gathered bytes
    and index lines go to the disk's writer thread as one append per
    second; when it completes, the segment's size, end and seek points in
    ``recordings`` grow, so playback only ever sees what is on disk.
    """

    log = Logger()

    def __init__(
        self,
        channel_id: int,
        recordings: Recordings,
        layout: Layout,
        disk: Disk,
        clock: IReactorTime,
        segment_seconds: float,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        self.channel_id = channel_id
        self._recordings = recordings
        self._layout = layout
        self._disk = disk
        self._clock = clock
        self._segmenter = Segmenter(segment_seconds)
        self._max_backlog = max_backlog
        self._segment: Segment | None = None
        self._size = 0  # of the current segment, written or gathered
        self._data: list[bytes] = []
        self._data_bytes = 0
        self._lines: list[str] = []
        self._points: list[Point] = []
        self._flush_call: IDelayedCall | None = None
        self._last_data = 0.0  # when the current segment last grew
        self.backlog = 0
        self.dropped_bytes = 0
        self._dropping = False
        self._last_write: Deferred[None] = succeed(None)

    def write_packets(self, data: bytes) -> None:
        if self._dropping or self.backlog + self._data_bytes > self._max_backlog:
            self._drop(data)
            return
        now = round(self._clock.seconds(), 3)  # as the index file keeps it
        for event in self._segmenter.feed(data, now):
            if isinstance(event, bytes):
                self._gather(event)
            elif isinstance(event, Open):
                self._open(event)
            else:
                self._points.append(event)
                self._lines.append(point_line(event))
        if self._segment is not None:
            self._last_data = now
        if self._data_bytes >= FLUSH_BYTES:
            self.flush()
        elif self._data and self._flush_call is None:
            self._flush_call = self._clock.callLater(FLUSH_SECONDS, self.flush)

    def _drop(self, data: bytes) -> None:
        """The disk is behind: drop until it caught up halfway, then start
        a new segment at the next keyframe."""
        if not self._dropping:
            self.log.warn(
                "archive: channel {channel}: the disk is behind by {mb} MB; "
                "recording paused until it catches up",
                channel=self.channel_id,
                mb=(self.backlog + self._data_bytes) // 1_000_000,
            )
            self.gap()
            self._dropping = True
        if self.backlog > self._max_backlog // 2:
            self.dropped_bytes += len(data)
            return
        self._dropping = False
        self.log.info(
            "archive: channel {channel}: recording again after dropping {mb} MB",
            channel=self.channel_id,
            mb=self.dropped_bytes // 1_000_000,
        )
        self.write_packets(data)

    def _gather(self, data: bytes) -> None:
        self._data.append(data)
        self._data_bytes += len(data)
        self._size += len(data)

    def _open(self, event: Open) -> None:
        self._complete(event.wall)
        name = max(int(event.wall), self._recordings.last_name(self.channel_id) + 1)
        psi_bytes = len(event.psi)
        segment = Segment(
            self.channel_id,
            name,
            event.wall,
            event.wall,
            0,
            psi_bytes,
            points=[],
            recording=True,
        )
        self._recordings.add(segment)
        self._segment, self._size = segment, 0
        self._lines.append(header(event.wall, psi_bytes))
        self._gather(event.psi)

    def flush(self) -> None:
        """Hand what was gathered to the disk."""
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        if self._segment is not None and (self._data or self._lines):
            self._write(self._segment, self._last_data, complete=False)

    def gap(self) -> None:
        """The stream was interrupted: complete the current segment; the
        next one starts at the next keyframe."""
        self._complete(self._last_data)
        self._segmenter.reset()

    def stop(self) -> Deferred[None]:
        """Complete the current segment; fires once everything is written."""
        self.gap()
        done: Deferred[None] = Deferred()
        self._last_write.addBoth(lambda _: done.callback(None))
        return done

    def _complete(self, end: float) -> None:
        if self._segment is None:
            return
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        self._lines.append(end_line(end, self._size))
        self._write(self._segment, end, complete=True)
        self._segment = None

    def _write(self, segment: Segment, end: float, complete: bool) -> None:
        data, lines, points = b"".join(self._data), "".join(self._lines), self._points
        self._data, self._data_bytes, self._lines, self._points = [], 0, [], []
        self.backlog += len(data)
        ts_path, idx_path = self._layout.of(segment)

        def written(_: None) -> None:
            self.backlog -= len(data)
            segment.size += len(data)
            segment.end = max(segment.end, end)
            if segment.points is not None:
                segment.points += points
            if complete:
                segment.recording, segment.points = False, None

        def failed(failure: Failure) -> None:
            self.backlog -= len(data)
            self.log.failure("archive: writing {path}", failure, path=ts_path)
            # What follows would not land where the index says: end here.
            segment.recording, segment.points = False, None
            if self._segment is segment:
                self._segment = None
                self._data, self._data_bytes, self._lines, self._points = [], 0, [], []
                self._segmenter.reset()

        d = self._disk.write(_files.append, ts_path, idx_path, data, lines)
        d.addCallbacks(written, failed)
        self._last_write = d
