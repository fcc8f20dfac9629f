"""A guide file into the database: decompress, parse and store in one pass,
in one transaction (a writer thread runs this in the daemon).

Memory stays bounded by a chunk of the file and a batch of programmes,
whatever the guide's size; a file that turns out broken halfway leaves the
source's previous guide in place (the transaction rolls back).
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from xrelay.epg._decode import guide_chunks
from xrelay.epg._sql import (
    SourceState,
    StoredSummary,
    replace_guide,
    write_state,
)
from xrelay.epg._xmltv import Event, XmltvParser
from xrelay.sqlite import Cursor


@attrs.frozen
class ImportResult:
    state: SourceState  # as stored, with the counts
    stored: StoredSummary
    rejects: dict[str, int]  # reason -> count: programmes the parser refused
    notes: tuple[str, ...]  # the first few rejects, described
    zoneless: int  # times without a zone, read as UTC

    def describe(self) -> str:
        s = self.stored
        text = f"{s.channels} channels, {s.programmes} programmes"
        extras = [f"{n} {reason}" for reason, n in sorted(self.rejects.items())]
        if s.duplicates:
            extras.append(f"{s.duplicates} duplicates dropped")
        if s.outside_window:
            extras.append(f"{s.outside_window} outside the window")
        if self.zoneless:
            extras.append(f"{self.zoneless} times without a zone (read as UTC)")
        return f"{text} ({'; '.join(extras)})" if extras else text


def import_guide(
    cur: Cursor,
    state: SourceState,
    path: str,
    window: tuple[int, int],
    max_bytes: int,
) -> ImportResult:
    """Replace the guide of ``state.id`` with the one in the file at
    ``path``, and store ``state`` (completed with the counts)."""
    parser = XmltvParser()

    def batches() -> Iterator[list[Event]]:
        for chunk in guide_chunks(path, max_bytes):
            events = parser.feed(chunk)
            if events:
                yield events
        yield parser.close()

    stored = replace_guide(cur, state.id, batches(), window)
    rejects = dict(parser.rejects)
    if stored.duplicates:
        rejects["duplicate programme"] = stored.duplicates
    state = attrs.evolve(
        state, channels=stored.channels, programmes=stored.programmes, rejects=rejects
    )
    write_state(cur, state)
    return ImportResult(
        state, stored, dict(parser.rejects), tuple(parser.notes), parser.zoneless
    )
