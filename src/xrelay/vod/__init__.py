"""VOD from files: the library scan (movies and series found by name,
media facts from ffprobe, cached), and serving the files to players with
exact byte ranges, within each line's connection limit.

The scan is pure where it can be: ``_names`` (file names), ``_sidecar``
(metadata files), ``_plan`` (the new catalog) and ``_ranges`` (HTTP
ranges) do no I/O; ``_walk`` and ``_cache`` block (run in a thread),
``_probe`` runs ffprobe processes, ``_scan`` ties a scan together and
``_service`` schedules it.  ``_serve``, ``_art`` and ``_upstream`` answer
player requests, with ``_files`` keeping them inside the library
directories and ``_body`` sending file bodies with backpressure.
"""

from xrelay.vod._art import Artwork
from xrelay.vod._cache import ProbeCache
from xrelay.vod._files import LibraryFiles
from xrelay.vod._probe import FFprobe, IProber, MediaFacts, ProbeFailure, ProbeResult
from xrelay.vod._scan import (
    LibraryScanner,
    ScanError,
    ScanReport,
    in_threads,
    run_inline,
)
from xrelay.vod._serve import VodStreams
from xrelay.vod._service import LibraryService
from xrelay.vod._upstream import Upstream
from xrelay.vod._wiring import PROBE_CACHE, Vod, build_vod, library_scanner, probe_cache

__all__ = [
    "PROBE_CACHE",
    "Artwork",
    "FFprobe",
    "IProber",
    "LibraryFiles",
    "LibraryScanner",
    "LibraryService",
    "MediaFacts",
    "ProbeCache",
    "ProbeFailure",
    "ProbeResult",
    "ScanError",
    "ScanReport",
    "Upstream",
    "Vod",
    "VodStreams",
    "build_vod",
    "in_threads",
    "library_scanner",
    "probe_cache",
    "run_inline",
]
