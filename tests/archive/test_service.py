"""The archive service: recorders follow archive_days, retention runs on
its loop, restarts keep the archive, and what it tells the catalog."""

from __future__ import annotations

from pathlib import Path

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.archive._stream import FPS, Rig, Stream
from xrelay.archive import Archive, ArchiveSettings, InlineDisk
from xrelay.archive._index import parse_index
from xrelay.fanout import ChannelRegistry, ChannelSupervisor, HubSettings
from xrelay.models import Catalog, Channel
from xrelay.testing import FakeSource, MemoryStore, PacketRecorder

DAY = 86400.0


class ArchiveServiceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = Path(self.mktemp())
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryStore()
        self.successResultOf(self.store.start())
        for channel_id, days in ((1, 2), (2, 0)):
            self.successResultOf(
                self.store.put_channel(
                    Channel(
                        channel_id,
                        channel_id,
                        f"C{channel_id}",
                        sources=(f"fake://{channel_id}",),
                        archive_days=days,
                    )
                )
            )
        self.archive = self.make_archive()

    def make_archive(self, **settings: float) -> Archive:
        self.kept_running: list[int] = []
        return Archive(
            self.store,
            self.clock,
            InlineDisk(),
            ArchiveSettings(str(self.root), segment_seconds=10, **settings),  # type: ignore[arg-type]
            keep_running=lambda channel: self.kept_running.append(channel.id),
        )

    def start(self, archive: Archive) -> None:
        archive.startService()
        self.clock.advance(0)  # the archive is read once the reactor runs
        self.addCleanup(lambda: archive.running and archive.stopService())

    def feed(self, source: FakeSource, stream: Stream, seconds: int) -> None:
        """A write of 5 frames every 0.2 s of Clock."""
        assert source.sink is not None
        for _ in range(seconds * FPS // 5):
            source.sink.write_packets(stream.frames(5))
            self.clock.advance(0.2)
        self.clock.advance(1.0)

    def tapped(self, channel_id: int) -> tuple[FakeSource, PacketRecorder]:
        fake = FakeSource(f"fake://{channel_id}")
        hub = PacketRecorder()
        self.archive.tap(channel_id, fake).start(hub)
        return fake, hub

    def test_records_archived_channels_only_and_the_hub_gets_everything(self) -> None:
        self.start(self.archive)
        self.assertEqual(set(self.archive.recorders), {1})
        self.assertEqual(self.kept_running, [1], "started at once")
        self.clock.advance(10)
        self.assertEqual(self.kept_running, [1, 1], "and again after a source ended")
        fake, hub = self.tapped(1)
        other, other_hub = self.tapped(2)
        stream = Stream()
        self.feed(fake, stream, 12)
        assert other.sink is not None
        other.sink.write_packets(Stream().frames(50))
        self.assertEqual(len(hub.data()), len(Stream().frames(12 * FPS)))
        self.assertEqual(len(other_hub.data()), len(Stream().frames(50)))
        self.assertEqual(self.archive.recordings.channel_ids(), [1])
        self.assertEqual(
            self.archive.archive_spans(1), [(1_700_000_010, 1_700_000_010 + 11.8)]
        )
        self.assertEqual(self.archive.archive_spans(2), [])

    def test_failover_and_source_end_are_gaps_and_reach_the_hub(self) -> None:
        self.start(self.archive)
        fake, hub = self.tapped(1)
        stream = Stream()
        self.feed(fake, stream, 3)
        assert fake.sink is not None
        fake.sink.source_switched()  # type: ignore[attr-defined]
        self.assertEqual(hub.switched_at, [len(hub.data())])
        self.feed(fake, stream, 3)
        fake.sink.source_ended("eof")
        self.assertEqual(hub.ended, ["eof"])
        segments = self.archive.recordings.segments(1)
        self.assertEqual(len(segments), 2)
        self.assertFalse(any(s.recording for s in segments))

    def test_a_channel_turned_off_stops_recording_and_is_pruned(self) -> None:
        self.start(self.archive)
        fake, _ = self.tapped(1)
        self.feed(fake, Stream(), 3)
        channel = self.successResultOf(self.store.get_channel(1))
        assert channel is not None
        self.successResultOf(
            self.store.put_channel(attrs.evolve(channel, archive_days=0))
        )
        self.clock.advance(10)  # the sync loop
        self.assertEqual(self.archive.recorders, {})
        self.clock.advance(60)  # the prune loop
        self.assertEqual(self.archive.recordings.channel_ids(), [])
        self.assertEqual(list(self.root.iterdir()), [])

    def test_prunes_by_age_and_max_age_and_quota(self) -> None:
        archive = self.make_archive(max_age=3600.0, quota_bytes=0)
        self.archive = archive
        self.start(archive)
        fake, _ = self.tapped(1)
        stream = Stream()
        self.feed(fake, stream, 21)  # three segments
        self.clock.advance(3600 - 10)  # the first ended 3600 s ago, the second 3590
        self.successResultOf(archive._run(archive.prune, "test"))
        self.assertEqual(
            len(archive.recordings.segments(1)), 2, "the first is past max_age"
        )
        archive.settings = attrs.evolve(archive.settings, quota_bytes=1)
        self.successResultOf(archive._run(archive.prune, "test"))
        [recording] = archive.recordings.segments(1)
        self.assertTrue(recording.recording, "the quota spares only the recording")
        files = sorted(p.name for p in self.root.rglob("*.ts"))
        self.assertEqual(files, [f"{recording.name}.ts"])

    def test_nothing_is_pruned_before_the_channels_are_known(self) -> None:
        rig = Rig(self.root, segment_seconds=10, t0=1_000.0)  # long ago
        rig.record(5)
        rig.recorder.stop()
        self.store = _Unanswering()
        self.archive = self.make_archive()
        self.start(self.archive)
        self.successResultOf(self.archive._run(self.archive.prune, "test"))
        self.assertEqual(len(self.archive.recordings.segments(1)), 1)

    def test_a_restart_keeps_the_archive(self) -> None:
        self.start(self.archive)
        fake, _ = self.tapped(1)
        self.feed(fake, Stream(), 15)
        before = [
            (s.name, s.start, s.size) for s in self.archive.recordings.segments(1)
        ]
        self.successResultOf(self.archive.stopService())
        for segment in self.archive.recordings.segments(1):
            index = parse_index(Path(self.archive._layout.of(segment)[1]).read_text())
            assert index is not None
            self.assertIsNotNone(index.end, "stopping completes the index")
        again = self.make_archive()
        self.start(again)
        after = [(s.name, s.start, s.size) for s in again.recordings.segments(1)]
        self.assertEqual(after, before)
        self.archive = again
        fake, _ = self.tapped(1)
        self.feed(fake, Stream(), 2)
        names = [s.name for s in again.recordings.segments(1)]
        self.assertEqual(names[:-1], [name for name, _, _ in before])
        self.assertGreater(names[-1], names[-2], "a new segment, never an old name")

    def test_the_catalog_shows_what_is_recorded(self) -> None:
        self.start(self.archive)
        catalog = self.successResultOf(self.store.read_catalog())
        stamp = self.archive.stamp()
        self.assertEqual(
            [c.archive_days for c in self.archive.shown(catalog).channels], [0, 0]
        )
        fake, _ = self.tapped(1)
        self.feed(fake, Stream(), 2)
        self.assertNotEqual(self.archive.stamp(), stamp)
        shown = self.archive.shown(catalog)
        self.assertEqual([c.archive_days for c in shown.channels], [1, 0])
        self.assertEqual(shown.channels[0].name, "C1")
        self.assertEqual(self.archive.shown(Catalog()), Catalog())


class _Unanswering(MemoryStore):
    """A store whose channel list never comes (unavailable at start)."""

    def list_channels(self) -> Deferred[list[Channel]]:
        return Deferred()


class SupervisorTests(SynchronousTestCase):
    def test_archived_channels_run_always(self) -> None:
        clock = Clock()
        store = MemoryStore()
        self.successResultOf(store.start())
        self.successResultOf(
            store.put_channel(
                Channel(5, 5, "Rec", sources=("fake://5",), archive_days=3)
            )
        )
        self.successResultOf(
            store.put_channel(Channel(6, 6, "Plain", sources=("fake://6",)))
        )
        registry = ChannelRegistry(
            clock, lambda c: FakeSource(c.sources[0]), HubSettings()
        )
        supervisor = ChannelSupervisor(store, registry, clock)
        registry.startService()
        supervisor.startService()
        self.addCleanup(registry.stopService)
        self.addCleanup(supervisor.stopService)
        self.assertEqual(registry.pinned, {5})
        self.assertEqual(set(registry.hubs), {5})
