"""ffmpeg's ``-progress`` report, read from its stderr.  Pure."""

from __future__ import annotations

import re

import attrs

# -progress writes blocks of these, each ended by "progress=continue|end";
# stream_0_0_q=... lines name an output stream.
_KEYS = frozenset(
    {
        "frame",
        "fps",
        "bitrate",
        "total_size",
        "out_time_us",
        "out_time_ms",
        "out_time",
        "dup_frames",
        "drop_frames",
        "speed",
        "progress",
    }
)
_STREAM_KEY = re.compile(r"stream_\d+_\d+_q")


@attrs.frozen
class Progress:
    """The latest block.  ``speed`` is the real-time factor: stream seconds
    encoded per wall-clock second (below 1, the encoder falls behind; fed
    live, it cannot go much above 1).  None: not reported yet."""

    frame: int = 0
    fps: float | None = None
    speed: float | None = None
    bitrate_kbps: float | None = None
    out_seconds: float | None = None
    dropped_frames: int = 0
    duplicated_frames: int = 0


class ProgressParser:
    """Feed it stderr lines; it keeps the progress lines (``line`` returns
    True) and leaves every other line (warnings, errors) to the caller."""

    def __init__(self) -> None:
        self.current = Progress()
        self.reports = 0  # blocks seen
        self._block: dict[str, str] = {}

    def line(self, text: str) -> bool:
        key, sep, value = text.partition("=")
        if not sep or not (key in _KEYS or _STREAM_KEY.fullmatch(key)):
            return False
        self._block[key] = value.strip()
        if key == "progress":
            self.current = _parse(self._block)
            self.reports += 1
            self._block = {}
        return True


def _parse(block: dict[str, str]) -> Progress:
    out_us = _int(block.get("out_time_us"))
    return Progress(
        frame=_int(block.get("frame")) or 0,
        fps=_float(block.get("fps")),
        speed=_float(block.get("speed", "").removesuffix("x")),
        bitrate_kbps=_float(block.get("bitrate", "").removesuffix("kbits/s")),
        out_seconds=None if out_us is None else out_us / 1e6,
        dropped_frames=_int(block.get("drop_frames")) or 0,
        duplicated_frames=_int(block.get("dup_frames")) or 0,
    )


# None for "N/A", an empty value or garbage.
def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
