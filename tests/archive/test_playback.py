"""Playing recordings back from a given second, with a Clock."""

from __future__ import annotations

import os
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from tests.archive._stream import Rig, Stream, first_video_pts, video_pts_at, wall_of
from xrelay.archive import Playback
from xrelay.archive._playback import TAIL_TIMEOUT
from xrelay.mpegts import PACKET_SIZE, pid

CHUNK = 100 * PACKET_SIZE


class PlaybackTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.rig = Rig(Path(self.mktemp()), segment_seconds=60)

    def open(self, start: float, end: float) -> Playback | None:
        first = self.rig.recordings.first_to_play(1, start, end)
        if first is None:
            return None
        playback = Playback(
            self.rig.recordings,
            self.rig.layout,
            self.rig.disk,
            self.rig.clock,
            first,
            end,
        )
        self.successResultOf(Deferred.fromCoroutine(playback.seek(start)))
        return playback

    def read(self, playback: Playback) -> Deferred[bytes]:
        return Deferred.fromCoroutine(playback.read(CHUNK))

    def read_all(self, playback: Playback) -> bytes:
        out = b""
        while chunk := self.successResultOf(self.read(playback)):
            out += chunk
        return out

    def video_walls(self, data: bytes) -> list[float]:
        walls = []
        for off in range(0, len(data), PACKET_SIZE):
            pts = video_pts_at(data, off)
            if pts is not None:
                walls.append(wall_of(pts, self.rig.t0))
        return walls

    def test_a_minute_recorded_two_minutes_ago(self) -> None:
        self.rig.record(240)
        now = self.rig.clock.seconds()
        minute = (now - 120) // 60 * 60  # what /timeshift/U/P/1/<that minute>/1.ts asks
        playback = self.open(minute, minute + 60)
        assert playback is not None
        data = self.read_all(playback)
        self.assertEqual(pid(data, 0), 0, "PAT first, so players decode at once")
        walls = self.video_walls(data)
        self.assertTrue(minute - 1.0 < walls[0] <= minute, walls[0] - minute)
        self.assertTrue(minute + 59 <= walls[-1] < minute + 60, walls[-1] - minute)
        self.assertEqual(data[::PACKET_SIZE], b"\x47" * (len(data) // PACKET_SIZE))

    def test_starts_at_the_keyframe_before_the_second_asked(self) -> None:
        self.rig.record(30)
        playback = self.open(self.rig.t0 + 12.7, self.rig.t0 + 15)
        assert playback is not None
        data = self.read_all(playback)
        self.assertEqual(self.video_walls(data)[0], self.rig.t0 + 12)
        pts = first_video_pts(data)
        assert playback.started_at is not None
        self.assertEqual(pts, playback.started_at.pts)

    def test_plays_on_across_segments(self) -> None:
        self.rig = Rig(Path(self.mktemp()), segment_seconds=10)
        self.rig.record(35)
        playback = self.open(self.rig.t0 + 5, self.rig.t0 + 25)
        assert playback is not None
        walls = self.video_walls(self.read_all(playback))
        self.assertEqual(walls[0], self.rig.t0 + 5)
        frames = [round((w - self.rig.t0) * 25) for w in walls]
        self.assertEqual(frames, list(range(125, 625)), "every frame, once, in order")

    def test_a_start_in_a_gap_plays_from_what_follows(self) -> None:
        self.rig.record(10)
        self.rig.recorder.gap()
        self.rig.clock.advance(20)  # nothing comes for 20 s, then a new stream
        self.rig.stream, self.rig.t0 = Stream(), self.rig.clock.seconds()
        self.rig.record(10)
        playback = self.open(self.rig.t0 - 5, self.rig.t0 + 3)
        assert playback is not None
        walls = self.video_walls(self.read_all(playback))
        self.assertEqual(walls[0], self.rig.t0)  # the first keyframe after the gap
        self.assertIsNone(self.open(self.rig.t0 - 1000, self.rig.t0 - 990))
        self.assertIsNone(self.open(self.rig.t0 + 100, self.rig.t0 + 160))

    def test_follows_a_recording_still_growing(self) -> None:
        self.rig.record(10)
        playback = self.open(self.rig.t0 + 8, self.rig.t0 + 15)
        assert playback is not None
        got = self.read_all_now(playback)
        waiting = self.read(playback)
        self.assertNoResult(waiting)
        self.rig.record(3)
        self.rig.clock.advance(1)
        got += self.successResultOf(waiting)
        got += self.read_all_now(playback)
        self.assertGreaterEqual(self.video_walls(got)[-1], self.rig.t0 + 12)
        waiting = self.read(playback)
        self.rig.clock.pump([1.0] * int(TAIL_TIMEOUT + 1))  # the channel stalls
        self.assertEqual(self.successResultOf(waiting), b"")

    def read_all_now(self, playback: Playback) -> bytes:
        """What can be read without waiting for more to be recorded."""
        out = b""
        while True:
            d = self.read(playback)
            if not d.called:
                d.cancel()
                self.failureResultOf(d)
                return out
            out += self.successResultOf(d)

    def test_ends_when_its_segment_is_deleted(self) -> None:
        self.rig.record(20)
        self.successResultOf(self.rig.recorder.stop())
        playback = self.open(self.rig.t0, self.rig.t0 + 15)
        assert playback is not None
        self.assertTrue(self.successResultOf(self.read(playback)))
        [segment] = self.rig.recordings.segments(1)
        os.unlink(self.rig.layout.of(segment)[0])
        self.assertEqual(self.successResultOf(self.read(playback)), b"")
