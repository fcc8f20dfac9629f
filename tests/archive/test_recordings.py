"""Recordings: a channel's segments in time order, and what they cover."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.archive._index import Segment
from xrelay.archive._recordings import GAP_TOLERANCE, Recordings


def segment(start: float, end: float, size: int = 188, channel: int = 1) -> Segment:
    return Segment(channel, int(start), start, end, size, 376)


class SpansTests(SynchronousTestCase):
    def test_abutting_segments_make_one_span_and_gaps_split_them(self) -> None:
        recordings = Recordings()
        for s in (
            segment(1000, 1060),
            segment(1060.4, 1120),  # arrival jitter: still unbroken
            segment(1120 + GAP_TOLERANCE + 1, 1200),  # after a gap
            segment(1200, 1260, size=0),  # nothing written: not recorded
            segment(2000, 2060),
            segment(500, 560, channel=2),
        ):
            recordings.add(s)
        self.assertEqual(
            recordings.spans(1),
            [(1000, 1120), (1120 + GAP_TOLERANCE + 1, 1200), (2000, 2060)],
        )
        self.assertEqual(recordings.window(1), (1000, 2060))
        self.assertEqual(recordings.spans(2), [(500, 560)])
        self.assertEqual(recordings.spans(3), [])
        self.assertIsNone(recordings.window(3))
