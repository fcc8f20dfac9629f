"""Retention: by age (per channel, capped by max_age) and by disk quota."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.archive import Segment
from xrelay.archive._retention import expired

DAY = 86400.0


def segment(
    channel: int, start: float, size: int = 100, recording: bool = False
) -> Segment:
    return Segment(channel, int(start), start, start + 60, size, 0, recording=recording)


class ExpiredTests(SynchronousTestCase):
    def test_by_age_per_channel(self) -> None:
        now = 10 * DAY
        old_1 = segment(1, now - 2 * DAY)
        new_1 = segment(1, now - 0.5 * DAY)
        old_2 = segment(2, now - 2 * DAY)
        keep = {1: 1 * DAY, 2: 3 * DAY}
        doomed = expired([new_1, old_2, old_1], now, lambda c: keep.get(c, 0.0), 0)
        self.assertEqual(doomed, [old_1])

    def test_a_channel_no_longer_archived_loses_everything_but_what_records(
        self,
    ) -> None:
        done = segment(3, 1000.0)
        recording = segment(3, 1060.0, recording=True)
        self.assertEqual(expired([done, recording], 2000.0, lambda c: 0.0, 0), [done])

    def test_a_segment_goes_only_once_it_is_wholly_past(self) -> None:
        seg = segment(1, 1000.0)  # ends at 1060
        self.assertEqual(expired([seg], 1060.0 + DAY - 1, lambda c: DAY, 0), [])
        self.assertEqual(expired([seg], 1060.0 + DAY, lambda c: DAY, 0), [seg])

    def test_quota_deletes_the_oldest_whichever_channel(self) -> None:
        segments = [
            segment(c, 1000.0 + 60 * i, 100) for i, c in enumerate([2, 1, 2, 1, 2])
        ]
        doomed = expired(segments, 2000.0, lambda c: DAY, 250)
        self.assertEqual(doomed, segments[:3])

    def test_quota_counts_what_age_deletes_and_spares_the_recording(self) -> None:
        old = segment(1, 0.0, 500)
        live = segment(2, 100.0, 1000, recording=True)
        kept = segment(1, DAY - 500, 100)  # young, but over the quota
        doomed = expired(
            [kept, live, old], DAY, lambda c: 1000.0 if c == 1 else DAY, 150
        )
        self.assertEqual(doomed, [old, kept])  # the recording alone is over quota
        self.assertEqual(expired([kept, old], DAY, lambda c: DAY, 0), [])
