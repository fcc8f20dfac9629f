"""InputMeter: bitrate, continuity errors and PCR jitter of a channel's input."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.demo import demo_media_path
from xrelay.fanout._health import InputMeter
from xrelay.mpegts import PACKET_SIZE, PsiTracker, pcr, pid

DEMO = demo_media_path().read_bytes()


def pcr_schedule(data: bytes, pcr_pid: int) -> list[tuple[int, float]]:
    """(offset just after each PCR packet, its PCR time in seconds)."""
    return [
        (off + PACKET_SIZE, value / 27e6)
        for off in range(0, len(data), PACKET_SIZE)
        if pid(data, off) == pcr_pid and (value := pcr(data, off)) is not None
    ]


class InputMeterTests(SynchronousTestCase):
    def setUp(self) -> None:
        tracker = PsiTracker()
        tracker.feed(DEMO)
        assert tracker.pcr_pid is not None
        self.pcr_pid = tracker.pcr_pid
        self.schedule = pcr_schedule(DEMO, self.pcr_pid)

    def replay(
        self, meter: InputMeter, lateness: list[float], base: float = 0.0
    ) -> None:
        """Feed the demo cut at each PCR, arriving at PCR time + lateness."""
        start, t0 = 0, self.schedule[0][1]
        for i, (end, at) in enumerate(self.schedule):
            meter.feed(
                DEMO[start:end],
                base + at - t0 + lateness[i % len(lateness)],
                self.pcr_pid,
            )
            start = end

    def test_on_time_arrival_has_no_jitter_and_the_file_rate(self) -> None:
        meter = InputMeter(window=60)
        self.replay(meter, [0.0])
        self.assertLess(meter.pcr_jitter_ms(), 1.0)
        self.assertEqual(meter.cc_errors, 0)
        duration = self.schedule[-1][1] - self.schedule[0][1]
        expected = len(DEMO) * 8 / duration
        now = duration
        self.assertLess(abs(meter.bitrate(now) / expected - 1), 0.05)

    def test_late_batches_show_as_jitter(self) -> None:
        meter = InputMeter(window=60)
        self.replay(meter, [0.0, 0.0, 0.030])  # every third batch 30 ms late
        self.assertAlmostEqual(meter.pcr_jitter_ms(), 30.0, delta=1.0)

    def test_lost_packets_count_as_cc_errors(self) -> None:
        meter = InputMeter()
        video = PsiTracker()
        video.feed(DEMO)
        offsets = [
            off
            for off in range(0, len(DEMO), PACKET_SIZE)
            if pid(DEMO, off) == video.video_pid
        ]
        cut = offsets[100]
        meter.feed(DEMO[:cut] + DEMO[cut + PACKET_SIZE :], 0.0, self.pcr_pid)
        self.assertEqual(meter.cc_errors, 1)

    def test_a_jump_is_a_discontinuity_not_jitter(self) -> None:
        meter = InputMeter(window=60)
        self.replay(meter, [0.0])
        # the loop: arrival goes on while the PCR jumps back ~10 s
        self.replay(meter, [0.0], base=self.schedule[-1][1] - self.schedule[0][1])
        self.assertEqual(meter.pcr_discontinuities, 1)
        self.assertLess(meter.pcr_jitter_ms(), 1.0)
