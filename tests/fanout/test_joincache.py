"""The join cache: PAT/PMT first, then whole GOPs from a keyframe."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.demo import demo_media_path
from xrelay.fanout._joincache import JoinCache
from xrelay.mpegts import PACKET_SIZE, PsiTracker, is_random_access, pid

DEMO = demo_media_path().read_bytes()
CHUNK = 7 * PACKET_SIZE


def feed_all(cache: JoinCache, data: bytes, keep_bytes: int = 0) -> None:
    for start in range(0, len(data), CHUNK):
        cache.feed(data[start : start + CHUNK], keep_bytes)


def psi_end(snapshot: bytes) -> int:
    """Offset of the first packet after the leading PAT/PMT packets."""
    off = 0
    while pid(snapshot, off) in (0, 0x1000):  # PAT and ffmpeg's PMT PID
        off += PACKET_SIZE
    return off


class JoinCacheTests(SynchronousTestCase):
    def setUp(self) -> None:
        tracker = PsiTracker()
        tracker.feed(DEMO)
        assert tracker.video_pid is not None
        self.video_pid = tracker.video_pid
        self.stream_type = tracker.video_stream_type or 0

    def keyframes(self, data: bytes) -> list[int]:
        return [
            off
            for off in range(0, len(data), PACKET_SIZE)
            if pid(data, off) == self.video_pid
            and is_random_access(data, off, self.stream_type)
        ]

    def test_empty_until_psi_and_a_keyframe_arrived(self) -> None:
        cache = JoinCache()
        self.assertEqual(cache.snapshot(), b"")
        cache.feed(DEMO[: 2 * PACKET_SIZE])
        self.assertEqual(cache.snapshot(), b"")

    def test_snapshot_is_psi_then_a_keyframe(self) -> None:
        cache = JoinCache()
        feed_all(cache, DEMO[: len(DEMO) // 2 // PACKET_SIZE * PACKET_SIZE])
        snapshot = cache.snapshot()
        start = psi_end(snapshot)
        self.assertEqual(pid(snapshot, 0), 0, "PAT first")
        self.assertGreater(start, 0)
        self.assertEqual(self.keyframes(snapshot[start:])[0], 0, "then a keyframe")
        self.assertEqual(len(self.keyframes(snapshot[start:])), 1, "one GOP by default")

    def test_keeps_enough_whole_gops_for_the_burst(self) -> None:
        cache = JoinCache()
        gop = len(DEMO) // 10  # the demo has a keyframe every second for 10 s
        feed_all(cache, DEMO, keep_bytes=int(gop * 2.5))
        body = cache.snapshot()[psi_end(cache.snapshot()) :]
        self.assertEqual(self.keyframes(body)[0], 0)
        self.assertIn(len(self.keyframes(body)), (3, 4))
        self.assertEqual(body, DEMO[len(DEMO) - len(body) :], "a contiguous tail")

    def test_a_restart_forgets_the_old_gops(self) -> None:
        # After a source switch, joiners start at the new source's keyframe.
        cache = JoinCache()
        gop = len(DEMO) // 10
        half = len(DEMO) // 2 // PACKET_SIZE * PACKET_SIZE
        feed_all(cache, DEMO[:half], keep_bytes=gop * 3)
        self.assertGreater(len(self.keyframes(cache.snapshot())), 1)
        cache.restart()
        self.assertEqual(cache.snapshot(), b"")
        first = self.keyframes(DEMO[half:])[0]
        feed_all(cache, DEMO[half : half + first], keep_bytes=gop * 3)
        self.assertEqual(cache.snapshot(), b"", "nothing before a keyframe")
        feed_all(cache, DEMO[half + first :], keep_bytes=gop * 3)
        body = cache.snapshot()[psi_end(cache.snapshot()) :]
        self.assertEqual(body[:PACKET_SIZE], DEMO[half + first : half + first + 188])

    def test_bounded_by_max_bytes(self) -> None:
        cache = JoinCache(max_bytes=100_000)  # smaller than one demo GOP
        feed_all(cache, DEMO, keep_bytes=10**9)
        self.assertLessEqual(len(cache.snapshot()), 100_000 + 10 * PACKET_SIZE)

    def test_without_video_keeps_only_the_latest_batch(self) -> None:
        cache = JoinCache()
        audio_only = b"".join(
            DEMO[off : off + PACKET_SIZE]
            for off in range(0, len(DEMO), PACKET_SIZE)
            if pid(DEMO, off) != self.video_pid
        )
        feed_all(cache, audio_only)
        self.assertLessEqual(len(cache.snapshot()), CHUNK + 4 * PACKET_SIZE)
