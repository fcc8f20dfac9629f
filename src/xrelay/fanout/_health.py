"""Input health of a running channel: bitrate, CC errors, PCR jitter."""

from __future__ import annotations

from collections import deque

from xrelay.mpegts import PACKET_SIZE, ContinuityChecker, pcr, pid

PCR_HZ = 27_000_000


class InputMeter:
    """Watches what a channel's source delivers (pure: time is passed in).

    - ``bitrate()``: bits per second over the last ``window`` seconds;
    - ``cc_errors``: continuity-counter errors (lost or repeated packets);
    - ``pcr_jitter_ms()``: how much the PCR's progress strayed from the
      arrival clock over the window (max - min of PCR time minus arrival
      time); a jump of more than a second is a discontinuity (a loop or a
      source switch), which restarts the measurement and is counted.
    """

    def __init__(self, window: float = 10.0) -> None:
        self._window = window
        self._continuity = ContinuityChecker()
        self._arrivals: deque[tuple[float, int]] = deque()
        self._window_bytes = 0  # the sum of the arrivals' sizes
        self._offsets: deque[tuple[float, float]] = deque()
        self.pcr_discontinuities = 0

    @property
    def cc_errors(self) -> int:
        return sum(self._continuity.errors.values())

    def feed(self, data: bytes, now: float, pcr_pid: int | None) -> None:
        self._continuity.feed(data)
        self._arrivals.append((now, len(data)))
        self._window_bytes += len(data)
        self._forget_before(now - self._window)
        if pcr_pid is not None:
            value = self._last_pcr(data, pcr_pid)
            if value is not None:
                self._observe(value / PCR_HZ - now, now)

    def _last_pcr(self, data: bytes, pcr_pid: int) -> int | None:
        for off in range(len(data) - PACKET_SIZE, -1, -PACKET_SIZE):
            if pid(data, off) == pcr_pid:
                value = pcr(data, off)
                if value is not None:
                    return value
        return None

    def _observe(self, offset: float, now: float) -> None:
        if self._offsets and abs(offset - self._offsets[-1][1]) > 1.0:
            self._offsets.clear()
            self.pcr_discontinuities += 1
        self._offsets.append((now, offset))
        while self._offsets[0][0] < now - self._window:
            self._offsets.popleft()

    def seconds_of_input(self, now: float) -> float:
        """How far back the window's arrivals go."""
        return now - self._arrivals[0][0] if self._arrivals else 0.0

    def bitrate(self, now: float) -> float:
        self._forget_before(now - self._window)
        if not self._arrivals:
            return 0.0
        span = min(self._window, max(now - self._arrivals[0][0], 1.0))
        return self._window_bytes * 8 / span

    def _forget_before(self, moment: float) -> None:
        while self._arrivals and self._arrivals[0][0] < moment:
            self._window_bytes -= self._arrivals.popleft()[1]

    def pcr_jitter_ms(self) -> float:
        if len(self._offsets) < 2:
            return 0.0
        offsets = [offset for _, offset in self._offsets]
        return (max(offsets) - min(offsets)) * 1000
