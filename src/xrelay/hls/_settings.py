"""Live HLS settings."""

from __future__ import annotations

import attrs


@attrs.frozen
class HlsSettings:
    """What ``[hls]`` configures (see xrelay.config.HlsConfig)."""

    segment_seconds: float = 4.0
    window: int = 6
    session_timeout: float = 30.0
    max_bytes: int = 64 * 1024 * 1024
    # How long a playlist request waits for the first segment of a channel
    # that is starting: its source starting, a keyframe, one segment.
    start_timeout: float = 20.0
