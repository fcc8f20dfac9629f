"""Log observers: text (twistd's usual format) or JSON lines, level-filtered."""

from __future__ import annotations

import sys
from typing import IO, cast

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    jsonFileLogObserver,
    textFileLogObserver,
)
from twisted.python.logfile import LogFile

LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
    "critical": LogLevel.critical,
}


def open_log_file(path: str | None) -> IO[str]:
    """twistd's ``--logfile`` target: stdout for None or "-"."""
    if not path or path == "-":
        return sys.stdout
    return cast(IO[str], LogFile.fromFullPath(path))


def make_observer(fmt: str, level: str, out: IO[str]) -> ILogObserver:
    """An observer writing ``fmt`` ("text" or "json") events at ``level`` or
    above to ``out``."""
    if fmt == "json":
        # One JSON object per line (no RFC 7464 record separator before it),
        # so line-based tools (jq, grep, log shippers) read it as it is.
        sink = jsonFileLogObserver(out, recordSeparator="")
    else:
        sink = textFileLogObserver(out)
    predicate = LogLevelFilterPredicate(defaultLogLevel=LEVELS[level])
    return FilteringLogObserver(sink, [predicate])
