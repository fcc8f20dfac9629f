"""TranscodeSource with a fake ffmpeg: the parent's hub, the pipe's
backpressure, progress, deaths, restarts and stopping."""

from __future__ import annotations

import sys

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from tests.transcode._fakes import FakeProcess, ProcessClock
from tests.transcode.test_progress import BLOCK
from xrelay.config import TranscodeProfile
from xrelay.fanout import ChannelRegistry, HubSettings, Viewer
from xrelay.models import Channel
from xrelay.testing import FakeSource, MemoryStore, PacketRecorder
from xrelay.transcode import EncoderCheck, Restarts, TranscodeSource, ffmpeg_args

SMALL = TranscodeProfile(height=180, video_bitrate=300, preset="ultrafast")
PKT = b"\x47" + b"\x11" * 187
FFMPEG = sys.executable  # any executable: these tests spawn nothing real
URL = "transcode:1?profile=small"


class TranscodeSourceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = ProcessClock()
        self.store = MemoryStore()
        self.successResultOf(self.store.start())
        for channel in [
            Channel(1, 1, "Parent", sources=("fake://1",)),
            Channel(3, 3, "Transcoded", sources=("transcode:1?profile=small",)),
        ]:
            self.successResultOf(self.store.put_channel(channel))
        self.parents: dict[int, FakeSource] = {}

        def make_source(channel: Channel) -> FakeSource:
            self.parents[channel.id] = FakeSource(channel.sources[0])
            return self.parents[channel.id]

        self.settings = HubSettings()
        self.registry = ChannelRegistry(
            self.reactor, make_source, self.settings, linger=5.0
        )
        self.registry.startService()
        self.addCleanup(self.registry.stopService)
        self.check = EncoderCheck(FFMPEG, "small", SMALL, self.reactor)
        self.check.start()
        self.restarts = Restarts()

    def source(
        self, parent: int = 1, check: EncoderCheck | None = None
    ) -> tuple[TranscodeSource, PacketRecorder]:
        source = TranscodeSource(
            f"transcode:{parent}?profile=small",
            parent,
            SMALL,
            check or self.check,
            FFMPEG,
            self.store,
            self.registry,
            self.restarts,
            self.reactor,
        )
        sink = PacketRecorder()
        source.start(sink)
        return source, sink

    def running(self) -> tuple[TranscodeSource, PacketRecorder, FakeProcess]:
        source, sink = self.source()
        [process] = self.reactor.spawned
        return source, sink, process

    def feed(self) -> Viewer:
        """The viewer of the parent that feeds ffmpeg."""
        [viewer] = [
            v for v in self.registry.hubs[1].viewers if v.label == "transcode:small"
        ]
        return viewer

    def parent_writes(self, data: bytes) -> None:
        sink = self.parents[1].sink
        assert sink is not None
        sink.write_packets(data)
        self.reactor.advance(self.settings.flush_interval)

    def viewer_of_parent(self) -> StringTransport:
        """An ordinary viewer of the parent channel, on a roomy socket."""
        transport = StringTransport()
        channel = self.successResultOf(self.store.get_channel(1))
        assert channel is not None
        self.registry.attach(channel, DummyRequest([b""]), transport, False, "bob")
        return transport

    def test_ffmpeg_runs_the_profile_fed_by_the_parent_channel(self) -> None:
        source, _sink, process = self.running()
        self.assertEqual(process.argv, ffmpeg_args(FFMPEG, SMALL, "libx264"))
        self.assertEqual(sorted(self.registry.hubs), [1])  # the parent started
        feed = self.feed()
        self.assertEqual(feed.label, "transcode:small")
        self.assertIs(process.producer, feed)
        self.assertTrue(process.streaming)
        self.parent_writes(PKT * 3)
        self.assertEqual(process.value(), PKT * 3)
        self.assertEqual(source.health()["pid"], process.pid)

    def test_ffmpeg_output_is_the_stream(self) -> None:
        _, sink, process = self.running()
        process.stdout(PKT * 2 + PKT[:100])
        process.stdout(PKT[100:])
        self.assertEqual(sink.data(), PKT * 3)

    def test_a_full_pipe_queues_then_drops_never_slowing_the_parent(self) -> None:
        source, _, process = self.running()
        bob = self.viewer_of_parent()
        feed = self.feed()
        process.producer.pauseProducing()  # the pipe to ffmpeg is full
        chunk = PKT * 100
        self.parent_writes(chunk)
        self.assertEqual(process.value(), b"")  # waits in the feed's queue
        self.assertEqual(feed.queued_bytes, len(chunk))
        process.producer.resumeProducing()  # ffmpeg read it
        self.assertEqual(process.value(), chunk)
        process.clear()

        process.producer.pauseProducing()
        limit = feed.queue_limit
        sent = 0
        while sent <= 2 * limit:
            self.parent_writes(chunk)
            sent += len(chunk)
        self.assertEqual(process.value(), b"")
        self.assertLessEqual(feed.queued_bytes, limit)
        self.assertGreater(feed.dropped_packets, 0)
        self.assertEqual(source.health()["input_dropped_packets"], feed.dropped_packets)
        # Everyone else got everything, at once.
        self.assertEqual(len(bob.value()), len(chunk) + sent)

    def test_progress_and_warnings_show_in_health(self) -> None:
        source, _, process = self.running()
        warning = b"[h264 @ 0x5555] error while decoding MB 3 4\n"
        data = BLOCK.encode().replace(b"\n", b"\r\n") + warning
        process.stderr(data[:50])
        process.stderr(data[50:])
        health = source.health()
        self.assertEqual(
            {k: health[k] for k in ("transcode", "parent", "encoder", "fps", "speed")},
            {
                "transcode": "small",
                "parent": 1,
                "encoder": "libx264",
                "fps": 24.97,
                "speed": 1.01,
            },
        )
        self.assertEqual(health["frames"], 250)
        self.assertEqual(health["last_errors"], [warning.decode().strip()])
        self.assertEqual(health["ffmpeg_starts"], 1)

    def test_ffmpeg_dying_ends_the_source_then_it_restarts_after_a_wait(
        self,
    ) -> None:
        _source, sink, process = self.running()
        process.stderr(b"Conversion failed!\n")
        self.reactor.advance(1.0)
        process.end(by="KILL")
        self.assertEqual(sink.ended, [f"{URL}: killed by SIGKILL: Conversion failed!"])
        self.assertEqual(self.restarts.failures, 1)
        self.assertEqual(self.registry.hubs[1].viewers, set())  # left the parent
        self.reactor.advance(1.9)  # within the backoff: no new ffmpeg
        self.assertEqual(len(self.reactor.spawned), 1)
        self.reactor.advance(3.0)
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertEqual(self.restarts.starts, 2)
        self.assertEqual(len(self.registry.hubs[1].viewers), 1)
        self.assertEqual(len(sink.ended), 1)  # one outage, told once

    def test_the_parent_stops_after_its_linger_once_ffmpeg_is_gone(self) -> None:
        source, _, process = self.running()
        self.successResultOf(self.stopped(source, process))
        self.assertIn(1, self.registry.hubs)
        self.reactor.advance(5.0)
        self.assertEqual(self.registry.hubs, {})
        self.assertTrue(self.parents[1].stopped)

    def stopped(self, source: TranscodeSource, process: FakeProcess) -> object:
        d = source.stop()
        process.end(by="TERM")
        return d

    def test_stop_terms_kills_after_the_grace_and_fires_once_reaped(self) -> None:
        source, sink, process = self.running()
        d = source.stop()
        self.assertEqual(process.signals, ["TERM"])
        self.assertTrue(process.stdin_closed)
        self.assertEqual(self.registry.hubs[1].viewers, set())
        self.reactor.advance(source._grace)
        self.assertEqual(process.signals, ["TERM", "KILL"])
        self.assertNoResult(d)
        process.end(by="KILL")
        self.successResultOf(d)
        self.assertEqual(sink.ended, [])  # a stop is no outage
        self.assertEqual(self.restarts.failures, 0)
        self.reactor.advance(60)
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_stop_before_the_encoder_is_known_spawns_nothing(self) -> None:
        hardware = TranscodeProfile(video_codec="h264_nvenc")
        check = EncoderCheck(FFMPEG, "small", hardware, self.reactor)
        check.start()
        [test_encode] = self.reactor.spawned
        source, sink = self.source(check=check)
        self.successResultOf(source.stop())
        test_encode.end(1)  # no GPU: libx264
        self.assertEqual(self.reactor.spawned, [test_encode])
        self.assertEqual(self.registry.hubs, {})
        self.assertEqual(sink.ended, [])

    def test_unknown_parent(self) -> None:
        _, sink = self.source(parent=9)
        self.assertEqual(sink.ended, ["transcode:9?profile=small: no channel 9"])
        self.assertEqual(self.reactor.spawned, [])

    def test_a_transcoded_parent_is_refused(self) -> None:
        _, sink = self.source(parent=3)
        self.assertEqual(
            sink.ended,
            [
                "transcode:3?profile=small: channel 3 is transcoded itself: "
                "transcode the channel it comes from"
            ],
        )
        self.assertEqual(self.reactor.spawned, [])

    def test_the_parent_ending_lets_ffmpeg_finish_and_exit(self) -> None:
        _, sink, process = self.running()
        parent_sink = self.parents[1].sink
        assert parent_sink is not None
        parent_sink.source_ended("upstream gone")  # the registry stops the hub
        self.assertTrue(process.stdin_closed)
        self.assertEqual(process.signals, [])  # ffmpeg flushes and exits itself
        process.end(0)
        self.assertEqual(sink.ended, [f"{URL}: exited with status 0"])

    def test_ffmpeg_that_stops_reading_is_killed(self) -> None:
        source, _, process = self.running()
        process.producer.pauseProducing()
        self.reactor.advance(self.settings.stall_timeout + 1.5)
        self.assertEqual(process.signals, ["KILL"])
        self.assertIn(
            "ffmpeg stopped reading its input: killing it",
            source.health()["last_errors"],  # type: ignore[operator]
        )

    def test_a_start_within_the_backoff_fails_at_once(self) -> None:
        self.restarts.died(started_at=0.0, now=self.reactor.seconds())
        _, sink = self.source()
        self.assertEqual(
            sink.ended,
            [f"{URL}: ffmpeg failed 1 times in a row; next start in 2 s"],
        )
        self.assertEqual(self.reactor.spawned, [])
