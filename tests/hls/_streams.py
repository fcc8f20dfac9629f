"""Transport streams for the HLS tests: synthetic ones built packet by
packet, and the demo clip looped seamlessly by the real file source."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from twisted.internet.task import Clock

from tests.mpegts._tsbuild import packet, pat_section, pes, pmt_section, psi_packets
from xrelay.demo import demo_media_path
from xrelay.ingest._file import FileLoopSource
from xrelay.mpegts import PACKET_SIZE
from xrelay.testing import PacketRecorder

VIDEO, AUDIO, PMT_PID = 0x100, 0x101, 0x1000
FRAME = 3600  # 90 kHz ticks of a 25 fps frame
IDR = b"\x00\x00\x00\x01\x65\x88"  # H.264 NAL type 5
SLICE = b"\x00\x00\x00\x01\x41\x9a"  # H.264 NAL type 1
AAC = b"\xff\xf1\x50\x80"


def psi(video: bool = True) -> bytes:
    streams = [(0x0F, AUDIO, b"")]
    if video:
        streams.insert(0, (0x1B, VIDEO, b""))
    return psi_packets(0, [pat_section({1: PMT_PID})]) + psi_packets(
        PMT_PID, [pmt_section(1, VIDEO if video else AUDIO, streams)]
    )


def synthetic(
    frames: int,
    *,
    gop: int = 25,
    start: int = 90_000,
    packets_per_frame: int = 3,
    flagged: Collection[int] = (),
    jumps: dict[int, int] | None = None,
    video: bool = True,
) -> bytes:
    """``frames`` frames of 25 fps H.264 (a keyframe every ``gop``, led by
    PAT/PMT like ffmpeg's resend_headers) and one AAC PES each; without
    ``video``, AAC alone.  Frame numbers in ``flagged`` carry the
    discontinuity_indicator; ``jumps`` maps a frame number to a PTS offset
    applied from it on.  PTS wrap at 2**33."""
    counters: dict[int, int] = defaultdict(int)
    jumps = jumps or {}

    def next_cc(pid: int) -> int:
        counters[pid] += 1
        return (counters[pid] - 1) & 0x0F

    out = [psi(video)]
    offset = 0
    for n in range(frames):
        offset += jumps.get(n, 0)
        pts = (start + n * FRAME + offset) % (1 << 33)
        key = n % gop == 0
        flag = n in flagged
        if video:
            if key:
                out.append(psi(video))
            out.append(
                packet(
                    VIDEO,
                    pes(IDR if key else SLICE, pts=pts),
                    pusi=True,
                    cc=next_cc(VIDEO),
                    pcr=pts * 300,
                    rai=key,
                    discontinuity=flag,
                )
            )
            out += [
                packet(VIDEO, bytes([n & 0xFF]) * 184, cc=next_cc(VIDEO))
                for _ in range(packets_per_frame - 1)
            ]
        elif key:
            out.append(psi(video))
        out.append(
            packet(
                AUDIO,
                pes(AAC, stream_id=0xC0, pts=pts),
                pusi=True,
                cc=next_cc(AUDIO),
                pcr=None if video else pts * 300,
                discontinuity=flag and not video,
            )
        )
    return b"".join(out)


def chunks(data: bytes, packets: int = 7) -> list[bytes]:
    size = packets * PACKET_SIZE
    return [data[i : i + size] for i in range(0, len(data), size)]


def looped_demo(seconds: float) -> bytes:
    """The demo clip (25 fps H.264 + AAC, a keyframe a second) played for
    ``seconds`` by the file source, which loops it as one continuous
    stream (timestamps carried on across the loop points)."""
    clock = Clock()
    recorder = PacketRecorder()
    source = FileLoopSource(str(demo_media_path()), clock, tick=0.25, lead=0.0)
    source.start(recorder)
    for _ in range(int(seconds / 0.25)):
        clock.advance(0.25)
    source.stop()
    return recorder.data()
