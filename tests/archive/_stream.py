"""A synthetic H.264-in-TS stream with known timestamps, and helpers to
record it against a Clock."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock

from tests.mpegts._tsbuild import packet, pat_section, pes, pmt_section, psi_packets
from xrelay.archive import InlineDisk, Layout, Recorder
from xrelay.archive._recordings import Recordings
from xrelay.mpegts import PACKET_SIZE, parse_pes_timestamps, payload_unit_start, pid

VIDEO = 0x100
AUDIO = 0x101
PMT_PID = 0x1000
FPS = 25
TICKS = 90_000 // FPS  # PTS ticks per frame
PTS0 = 900_000  # the first frame's PTS (10 s)
IDR = b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x65\x88"  # AUD, then an IDR slice
NON_IDR = b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x41\x9a"


class Stream:
    """Frames at 25 fps, a keyframe every ``gop`` frames, PAT/PMT before
    each keyframe, ``packets_per_frame`` video packets per frame and one
    audio packet.  Frame ``i`` has PTS ``PTS0 + i * TICKS``."""

    def __init__(
        self, gop: int = FPS, packets_per_frame: int = 3, with_video: bool = True
    ) -> None:
        self.gop = gop
        self.packets_per_frame = packets_per_frame
        self.with_video = with_video
        self.frame = 0
        self._cc: dict[int, int] = {}
        self.pmt_version = 0

    def _next_cc(self, pid: int) -> int:
        cc = self._cc.get(pid, 0)
        self._cc[pid] = (cc + 1) & 0x0F
        return cc

    def psi(self) -> bytes:
        streams = [(0x0F, AUDIO, b"")]
        if self.with_video:
            streams.insert(0, (0x1B, VIDEO, b""))
        pcr_pid = VIDEO if self.with_video else AUDIO
        pat = psi_packets(0, [pat_section({1: PMT_PID})], cc=self._next_cc(0))
        pmt = pmt_section(1, pcr_pid, streams, version=self.pmt_version)
        return pat + psi_packets(PMT_PID, [pmt], cc=self._next_cc(PMT_PID))

    def frames(self, count: int) -> bytes:
        out = b""
        for _ in range(count):
            out += self._frame()
        return out

    def seconds(self, count: float) -> bytes:
        return self.frames(round(count * FPS))

    def _frame(self) -> bytes:
        i = self.frame
        self.frame += 1
        pts = PTS0 + i * TICKS
        keyframe = i % self.gop == 0
        out = self.psi() if keyframe else b""
        if self.with_video:
            es = (IDR if keyframe else NON_IDR) + b"\x00" * 40
            out += packet(
                VIDEO,
                pes(es, pts=pts),
                pusi=True,
                cc=self._next_cc(VIDEO),
                pcr=pts * 300,
            )
            for _ in range(self.packets_per_frame - 1):
                out += packet(VIDEO, b"\xaa" * 184, cc=self._next_cc(VIDEO))
        audio = pes(b"\xff\xf1" + b"\x00" * 60, stream_id=0xC0, pts=pts)
        out += packet(AUDIO, audio, pusi=True, cc=self._next_cc(AUDIO))
        return out


def video_pts_at(data: bytes, offset: int) -> int | None:
    """The PTS of a video PES starting in the packet at ``offset``."""
    if pid(data, offset) != VIDEO or not payload_unit_start(data, offset):
        return None
    return parse_pes_timestamps(data, offset)[0]


def first_video_pts(data: bytes) -> int | None:
    for off in range(0, len(data) - PACKET_SIZE + 1, PACKET_SIZE):
        pts = video_pts_at(data, off)
        if pts is not None:
            return pts
    return None


def wall_of(pts: int, t0: float) -> float:
    """When a frame was fed by ``record`` (its second of stream after t0)."""
    return t0 + (pts - PTS0) / 90_000


class Rig:
    """A Recorder on a Clock, an InlineDisk and a temporary directory,
    fed one stream a frame time at a time."""

    def __init__(self, root: Path, segment_seconds: float = 10.0, t0: float = 0.0):
        self.clock = Clock()
        self.clock.advance(t0 or 1_700_000_000.0)
        self.t0 = self.clock.seconds()
        self.layout = Layout(str(root))
        self.disk = InlineDisk()
        self.recordings = Recordings()
        self.recorder = Recorder(
            1, self.recordings, self.layout, self.disk, self.clock, segment_seconds
        )
        self.stream = Stream()

    def record(self, seconds: float, batch_frames: int = 5) -> None:
        """Feed ``seconds`` of stream, ``batch_frames`` frames per write,
        each write at its frames' time (so frame time = wall time - t0)."""
        for _ in range(round(seconds * FPS / batch_frames)):
            due = self.t0 + self.stream.frame / FPS
            self.clock.advance(max(0.0, due - self.clock.seconds()))
            self.recorder.write_packets(self.stream.frames(batch_frames))
        self.clock.advance(1.0)  # the recorder's flush timer
