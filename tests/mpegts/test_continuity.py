"""ContinuityChecker over hand-made packet runs."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.mpegts import NULL_PID, ContinuityChecker

from ._tsbuild import packet


def run(pid: int, counters: list[int]) -> bytes:
    return b"".join(packet(pid, b"x", cc=cc) for cc in counters)


class ContinuityTests(SynchronousTestCase):
    def check(self, *batches: bytes) -> dict[int, int]:
        checker = ContinuityChecker()
        for batch in batches:
            checker.feed(batch)
        return checker.errors

    def test_clean_run_wraps(self) -> None:
        self.assertEqual(self.check(run(0x100, [*range(14, 16), *range(16), 0])), {})

    def test_lost_packet(self) -> None:
        self.assertEqual(self.check(run(0x100, [1, 2, 4, 5])), {0x100: 1})

    def test_state_carries_across_batches(self) -> None:
        self.assertEqual(self.check(run(0x100, [1, 2]), run(0x100, [3, 5])), {0x100: 1})

    def test_per_pid(self) -> None:
        batch = run(0x100, [1]) + run(0x200, [7]) + run(0x100, [2]) + run(0x200, [9])
        self.assertEqual(self.check(batch), {0x200: 1})

    def test_one_duplicate_allowed(self) -> None:
        self.assertEqual(self.check(run(0x100, [1, 2, 2, 3])), {})
        self.assertEqual(self.check(run(0x100, [1, 2, 2, 2, 3])), {0x100: 1})
        self.assertEqual(self.check(run(0x100, [1, 1, 2, 2, 3, 3])), {})

    def test_adaptation_only_packets_do_not_advance(self) -> None:
        batch = run(0x100, [4]) + packet(0x100, None, cc=4) + run(0x100, [5])
        self.assertEqual(self.check(batch), {})

    def test_discontinuity_indicator_resets(self) -> None:
        jump = packet(0x100, b"x", cc=11, discontinuity=True)
        self.assertEqual(self.check(run(0x100, [1]) + jump + run(0x100, [12])), {})

    def test_null_packets_ignored(self) -> None:
        self.assertEqual(self.check(run(NULL_PID, [0, 0, 0, 5])), {})
