"""The backoff between ffmpeg starts of one derived channel."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.transcode import Restarts


class RestartsTests(SynchronousTestCase):
    def test_quick_deaths_double_the_wait_up_to_the_maximum(self) -> None:
        restarts = Restarts(first_delay=2.0, max_delay=20.0, healthy=30.0)
        self.assertEqual(restarts.wait(0.0), 0.0)
        now = 100.0
        waits = []
        for _ in range(6):
            restarts.started()
            restarts.died(started_at=now, now=now + 1)
            now += 1
            waits.append(restarts.wait(now))
            now += restarts.wait(now)
        self.assertEqual(waits, [2.0, 4.0, 8.0, 16.0, 20.0, 20.0])
        self.assertEqual((restarts.starts, restarts.failures), (6, 6))

    def test_the_wait_counts_from_the_death(self) -> None:
        restarts = Restarts(first_delay=2.0)
        restarts.died(started_at=10.0, now=11.0)
        self.assertEqual(restarts.wait(12.5), 0.5)
        self.assertEqual(restarts.wait(13.0), 0.0)

    def test_a_healthy_run_starts_the_count_over(self) -> None:
        restarts = Restarts(first_delay=2.0, healthy=30.0)
        for _ in range(4):
            restarts.died(started_at=0.0, now=1.0)
        self.assertEqual(restarts.failures, 4)
        restarts.died(started_at=100.0, now=140.0)  # ran 40 s
        self.assertEqual(restarts.failures, 1)
        self.assertEqual(restarts.wait(140.0), 2.0)
