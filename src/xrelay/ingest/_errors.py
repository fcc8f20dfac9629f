"""Errors shared by the sources."""


class UnsupportedSource(ValueError):
    """The URL names a source xrelay cannot ingest (the message says why)."""
