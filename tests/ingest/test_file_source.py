"""The file:// source: PCR pacing, looping, and bad files."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xrelay.demo import demo_media_path
from xrelay.ingest import FileLoopSource, UnsupportedSource, make_source
from xrelay.mpegts import PACKET_SIZE, pcr, pid
from xrelay.testing import PacketRecorder

DEMO = demo_media_path()


def file_duration(path: Path) -> float:
    """Seconds between the first and last PCR of the PCR PID."""
    data = path.read_bytes()
    values = []
    pcr_pid = None
    for off in range(0, len(data) - PACKET_SIZE + 1, PACKET_SIZE):
        value = pcr(data, off)
        if value is not None and pcr_pid in (None, pid(data, off)):
            pcr_pid = pid(data, off)
            values.append(value)
    return (values[-1] - values[0]) / 27e6


class FileLoopSourceTests(SynchronousTestCase):
    def run_for(self, path: str, seconds: float) -> tuple[PacketRecorder, list[int]]:
        clock = Clock()
        sink = PacketRecorder()
        source = FileLoopSource(path, clock)
        source.start(sink)
        per_second = []
        for _ in range(int(seconds)):
            before = len(sink.data())
            clock.pump([0.02] * 50)
            per_second.append(len(sink.data()) - before)
        source.stop()
        self.addCleanup(source.stop)
        return sink, per_second

    def test_paced_at_the_file_bitrate(self) -> None:
        size = DEMO.stat().st_size
        rate = size / file_duration(DEMO)
        sink, per_second = self.run_for(str(DEMO), 5)
        self.assertEqual(sink.ended, [])
        self.assertEqual(len(sink.data()) % PACKET_SIZE, 0)
        for sent in per_second[1:]:
            self.assertLess(abs(sent / rate - 1.0), 0.1)

    def test_loops_seamlessly_without_a_pace_hiccup(self) -> None:
        duration = file_duration(DEMO)
        sink, per_second = self.run_for(str(DEMO), int(duration * 2) + 3)
        self.assertGreater(len(sink.data()), DEMO.stat().st_size * 2)
        middle = sorted(per_second[1:])
        # no second is starved or doubled around the loop points
        self.assertLess(middle[-1] / middle[0], 1.25)

    def test_the_stream_starts_with_the_file_start(self) -> None:
        sink, _ = self.run_for(str(DEMO), 1)
        self.assertEqual(sink.data()[:4096], DEMO.read_bytes()[:4096])

    def test_missing_file_ends_with_a_reason_naming_it(self) -> None:
        sink, _ = self.run_for("/nonexistent/x.ts", 1)
        self.assertEqual(len(sink.ended), 1)
        self.assertIn("/nonexistent/x.ts", sink.ended[0])

    def test_a_file_without_pcr_ends_instead_of_flooding(self) -> None:
        path = Path(self.mktemp())
        # null packets: valid TS, but nothing to pace by
        path.write_bytes((b"\x47\x1f\xff\x10" + b"\xff" * 184) * 2000)
        sink, _ = self.run_for(str(path), 2)
        self.assertEqual(len(sink.ended), 1)
        self.assertIn("no PCR", sink.ended[0])

    def test_an_empty_file_ends(self) -> None:
        path = Path(self.mktemp())
        path.write_bytes(b"")
        sink, _ = self.run_for(str(path), 1)
        self.assertEqual(len(sink.ended), 1)


class MakeSourceTests(SynchronousTestCase):
    def test_file_url(self) -> None:
        source = make_source("file:///srv/tv/a%20b.ts", Clock())
        assert isinstance(source, FileLoopSource)
        self.assertEqual(source.path, "/srv/tv/a b.ts")

    def test_unknown_scheme_is_refused_by_name(self) -> None:
        with self.assertRaises(UnsupportedSource) as e:
            make_source("gopher://x/1", Clock())
        self.assertIn("gopher", str(e.exception))
