"""The "no signal" slate: a short TS file looped as one seamless stream."""

from __future__ import annotations

from importlib.resources import files

from xrelay.ingest._file import FileLoopSource


def default_slate_path() -> str:
    """The slate shipped in the package (tools/make-slate-ts.sh made it)."""
    return str(files("xrelay.media") / "slate.ts")


# The slate is a file like any other: FileLoopSource loops it seamlessly.
SlateSource = FileLoopSource
