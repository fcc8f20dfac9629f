"""Live HLS: running channels cut into segments in memory, served to
players through short-lived session tokens.

The segmenter (pure) and the window/playlist are independent of the live
hub, so a recording (timeshift) can be cut and listed the same way.
"""

from xrelay.hls._feed import LiveFeed
from xrelay.hls._segmenter import Cut, Segmenter
from xrelay.hls._sessions import HlsSession, HlsSessions
from xrelay.hls._settings import HlsSettings
from xrelay.hls._web import HlsEndpoints
from xrelay.hls._window import Segment, SegmentWindow, render_playlist

__all__ = [
    "Cut",
    "HlsEndpoints",
    "HlsSession",
    "HlsSessions",
    "HlsSettings",
    "LiveFeed",
    "Segment",
    "SegmentWindow",
    "Segmenter",
    "render_playlist",
]
