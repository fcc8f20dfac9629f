"""The ingest/fan-out engine end to end: a real ``twistd -n xrelay``, real
loopback sources of every kind, real viewers, ffprobe/ffmpeg on what they
got."""

from __future__ import annotations

import atexit
import functools
import random
import shutil
import signal
import socket
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import Daemon, free_port, require_binary, xrelay_cli
from tests.integration._sources import (
    CLIP_SIZE,
    PACKET,
    Feeder,
    HttpViewer,
    alive,
    byte_rate,
    children_of,
    decode_problems,
    feeder_command,
    ffprobe_continuity_errors,
    ffprobe_streams,
    kill_if_alive,
    make_clip,
    pmt_pids,
    provision,
    tags,
    wait_for,
    with_markers,
    without_pids,
    write_config,
)
from xrelay.mpegts import (
    ContinuityChecker,
    PsiTracker,
    is_random_access,
    payload_unit_start,
    pid,
)

USER, PASSWORD = "viewer", "pw"
# Short enough for tests; the linger lets a test see an idle channel stop.
FAST_FAILOVER = {
    "stall_timeout": 1.0,
    "recheck_interval": 2.0,
    "recover_after": 1.0,
    "retry_interval": 1.0,
    "slate_timeout": 20.0,
}
FAST_LIVE = {"linger": 1.0}


@attrs.frozen
class Media:
    """The module's sample TS, made once, and variants of it."""

    directory: Path
    clip: Path  # H.264 + AAC, CLIP_SIZE, 30 s
    rate: float  # its bytes per second

    def variant(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        if not path.exists():
            path.write_bytes(data)
        return path

    def marked(self, tag: str) -> Path:
        """The clip with marker packets naming ``tag``."""
        return self.variant(
            f"marked-{tag}.ts", with_markers(self.clip.read_bytes(), tag)
        )


@functools.cache
def media() -> Media:
    require_binary("ffmpeg")
    require_binary("ffprobe")
    directory = Path(tempfile.mkdtemp(prefix="xrelay-engine-"))
    atexit.register(shutil.rmtree, directory, True)
    clip = make_clip(directory / "clip.ts")
    return Media(directory, clip, byte_rate(clip.read_bytes()))


def channel(number: int, *sources: str, on_demand: bool = True) -> dict[str, Any]:
    return {
        "id": number,
        "number": number,
        "name": f"Channel {number}",
        "sources": list(sources),
        "on_demand": on_demand,
    }


def from_a_keyframe(data: bytes) -> bytes:
    """PAT/PMT and ``data`` from its first video keyframe: a capture that
    starts mid-GOP, made decodable on its own."""
    psi = PsiTracker()
    psi.feed(data)
    video, kind = psi.video_pid, psi.video_stream_type or 0
    for off in range(0, len(data) - PACKET + 1, PACKET):
        if (
            pid(data, off) == video
            and payload_unit_start(data, off)
            and is_random_access(data, off, kind)
        ):
            return psi.psi_packets + data[off:]
    raise AssertionError("no keyframe in the capture")


def continuity_errors(data: bytes) -> dict[int, int]:
    checker = ContinuityChecker()
    checker.feed(data[: len(data) - len(data) % PACKET])
    return checker.errors


class EngineTestCase(SynchronousTestCase):
    """Starts a daemon per test on a fresh data directory, and cleans up
    every process the test started."""

    def setUp(self) -> None:
        self.media = media()
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)
        self.daemon: Daemon | None = None

    def start_daemon(
        self,
        channels: list[dict[str, Any]],
        failover: dict[str, Any] | None = None,
        live: dict[str, Any] | None = None,
    ) -> Daemon:
        data_dir = self.workdir / "data"
        provision(
            data_dir,
            channels,
            [{"id": 1, "username": USER, "password": PASSWORD, "max_connections": 20}],
            xrelay_cli(),
        )
        config = write_config(
            self.workdir / "xrelay.toml",
            data_dir,
            failover={**FAST_FAILOVER, **(failover or {})},
            live={**FAST_LIVE, **(live or {})},
        )
        daemon = Daemon(self.workdir, "--config", str(config))
        self.addCleanup(daemon.stop)
        daemon.start()
        self.daemon = daemon
        return daemon

    def feeder(self, *args: str | float | int) -> Feeder:
        feeder = Feeder(*map(str, args), log_dir=self.workdir)
        self.addCleanup(feeder.stop)
        return feeder

    def viewer(self, channel_id: int, rcvbuf: int | None = None) -> HttpViewer:
        assert self.daemon is not None
        viewer = HttpViewer(
            self.daemon.port, f"/live/{USER}/{PASSWORD}/{channel_id}.ts", rcvbuf
        )
        self.addCleanup(viewer.close)
        return viewer

    def capture(self, name: str, data: bytes) -> Path:
        path = self.workdir / name
        path.write_bytes(data[: len(data) - len(data) % PACKET])
        return path

    def assert_plays_clip(
        self, channel_id: int, tag: str | None = None, size: int = 250_000
    ) -> bytes:
        """A viewer of the channel gets the clip as valid TS (not the
        slate): whole packets, H.264 + AAC at the clip's size, and the
        marker ``tag`` if given."""
        viewer = self.viewer(channel_id)
        self.assertEqual(viewer.read_headers(), 200)
        data = viewer.read_until(size, timeout=20)
        viewer.close()
        self.assertEqual(data[::PACKET], b"\x47" * len(data[::PACKET]), "not TS")
        streams = ffprobe_streams(self.capture(f"channel-{channel_id}.ts", data))
        self.assertEqual(sorted(s["codec_name"] for s in streams), ["aac", "h264"])
        video = next(s for s in streams if s["codec_name"] == "h264")
        self.assertEqual((video["width"], video["height"]), CLIP_SIZE, "the slate?")
        if tag is not None:
            self.assertIn(tag, tags(data))
        return data

    def stop_daemon_cleanly(self) -> str:
        """SIGTERM the daemon; it must exit cleanly, its log free of
        tracebacks.  Returns the log."""
        assert self.daemon is not None
        self.assertIn(self.daemon.stop(), (0, -signal.SIGTERM))
        log = self.daemon.output()
        for bad in ("Traceback", "Unhandled Error", "Unhandled error"):
            self.assertNotIn(bad, log)
        return log


class SourceKindTests(EngineTestCase):
    """Every kind of source, through the daemon, to a viewer."""

    def test_tcp_pull(self) -> None:
        server = self.feeder("serve", "tcp", self.media.marked("pull"), self.media.rate)
        self.start_daemon([channel(1, f"tcp://127.0.0.1:{server.port}")])
        self.assert_plays_clip(1, tag="pull")
        self.stop_daemon_cleanly()

    def test_tcp_push(self) -> None:
        port = free_port()
        self.start_daemon([channel(1, f"tcp://@127.0.0.1:{port}")])
        viewer = self.viewer(1)  # the first viewer starts the channel's listener
        self.assertEqual(viewer.read_headers(), 200)
        encoder = self.feeder("push", port, self.media.marked("push"), self.media.rate)
        self.assertEqual(encoder.read_line(timeout=10), "CONNECTED")
        self.assertIn("push", tags(viewer.read_until(100_000, timeout=20)))
        self.assert_plays_clip(1, tag="push")
        self.stop_daemon_cleanly()

    def test_http_pull(self) -> None:
        server = self.feeder(
            "serve", "http", self.media.marked("http"), self.media.rate
        )
        self.start_daemon([channel(1, f"http://127.0.0.1:{server.port}/live.ts")])
        self.assert_plays_clip(1, tag="http")
        self.stop_daemon_cleanly()

    def test_udp_unicast(self) -> None:
        port = free_udp_port()
        self.feeder("udp", port, self.media.marked("udp"), self.media.rate)
        self.start_daemon([channel(1, f"udp://@127.0.0.1:{port}")])
        self.assert_plays_clip(1, tag="udp")
        self.stop_daemon_cleanly()

    def test_exec(self) -> None:
        command = (
            "exec:ffmpeg -v error -re -stream_loop -1 "
            f"-i {self.media.clip} -c copy -f mpegts -"
        )
        self.start_daemon([channel(1, command)])
        self.assert_plays_clip(1)
        self.stop_daemon_cleanly()

    def test_file(self) -> None:
        self.start_daemon([channel(1, self.media.marked("file").as_uri())])
        self.assert_plays_clip(1, tag="file")
        self.stop_daemon_cleanly()


def wait_for_tag(viewer: HttpViewer, tag: str, timeout: float) -> None:
    wait_for(lambda: tag in tags(bytes(viewer.body)), timeout, f"source {tag}")


class FailoverTests(EngineTestCase):
    def test_killed_primary_then_every_source_dead(self) -> None:
        primary = self.feeder("serve", "tcp", self.media.marked("A"), self.media.rate)
        backup = self.feeder("serve", "tcp", self.media.marked("B"), self.media.rate)
        self.start_daemon(
            [
                channel(
                    1,
                    f"tcp://127.0.0.1:{primary.port}",
                    f"tcp://127.0.0.1:{backup.port}",
                )
            ]
        )
        viewer = self.viewer(1)
        viewer.read_for(30)  # bounded; closed below
        wait_for_tag(viewer, "A", 10)
        time.sleep(1.5)
        primary.stop()  # SIGKILL, mid-stream
        wait_for_tag(viewer, "B", 10)
        time.sleep(2.0)
        backup_killed = time.monotonic()
        backup.stop()
        time.sleep(5.0)
        ended = time.monotonic()
        viewer.close()
        data = bytes(viewer.body)

        self.assertIsNone(viewer.ended, "the viewer was disconnected")
        self.assertEqual(tags(data), ["A", "B"])
        self.assertEqual(data[::PACKET], b"\x47" * len(data[::PACKET]), "not TS")
        self.assertEqual(continuity_errors(data), {})
        self.assertEqual(ffprobe_continuity_errors(self.capture("all.ts", data)), [])
        # What came from the two sources decodes without a complaint.
        sources = self.capture("sources.ts", data[: viewer.offset_at(backup_killed)])
        self.assertEqual(decode_problems(sources), [])
        # Then the slate, without a break: bytes kept coming, and they play.
        self.assertGreater(viewer.bytes_between(ended - 2.5, ended), 5_000)
        slate = self.capture(
            "slate.ts",
            from_a_keyframe(data[viewer.offset_at(backup_killed + 2.5) :]),
        )
        streams = ffprobe_streams(slate)
        video = [s for s in streams if s["codec_name"] == "h264"]
        self.assertEqual([(s["width"], s["height"]) for s in video], [(640, 360)])
        self.assertEqual(decode_problems(slate), [])
        log = self.stop_daemon_cleanly()
        self.assertIn("playing source 1", log)
        self.assertIn("every source is down", log)

    def test_back_to_the_preferred_source_once_it_recovers(self) -> None:
        port = free_port()
        backup = self.feeder("serve", "tcp", self.media.marked("B"), self.media.rate)
        self.start_daemon(
            [
                channel(
                    1,
                    f"tcp://@127.0.0.1:{port}",  # the encoder pushes here
                    f"tcp://127.0.0.1:{backup.port}",
                    on_demand=False,
                )
            ]
        )
        encoder = self.feeder("push", port, self.media.marked("A"), self.media.rate)
        viewer = self.viewer(1)
        viewer.read_for(40)  # bounded; closed below
        wait_for_tag(viewer, "A", 10)
        time.sleep(1.5)
        encoder.stop()  # SIGKILL: the encoder dies mid-stream
        wait_for(lambda: tags(bytes(viewer.body))[-1:] == ["B"], 10, "the backup")
        time.sleep(1.5)
        self.feeder("push", port, self.media.marked("A"), self.media.rate)  # back
        wait_for(
            lambda: tags(bytes(viewer.body)) == ["A", "B", "A"],
            15,
            "the preferred source taking over again",
        )
        time.sleep(1.5)
        viewer.close()
        data = bytes(viewer.body)

        self.assertIsNone(viewer.ended, "the viewer was disconnected")
        self.assertEqual(tags(data), ["A", "B", "A"])
        self.assertEqual(continuity_errors(data), {})
        capture = self.capture("switches.ts", data)
        self.assertEqual(ffprobe_continuity_errors(capture), [])
        self.assertEqual(decode_problems(capture), [])


class OnDemandTests(EngineTestCase):
    def ffmpeg_children(self) -> list[int]:
        assert self.daemon is not None and self.daemon.process is not None
        children = children_of(self.daemon.process.pid)
        return [pid for pid, name in children.items() if name == "ffmpeg"]

    def the_child(self) -> int:
        found = wait_for(self.ffmpeg_children, 10, "the channel's ffmpeg")
        self.assertEqual(len(found), 1, found)
        self.addCleanup(kill_if_alive, found[0])  # in case the daemon left it
        return int(found[0])

    def test_exec_child_lives_only_while_watched(self) -> None:
        command = (
            "exec:ffmpeg -v error -re -stream_loop -1 "
            f"-i {self.media.clip} -c copy -f mpegts -"
        )
        self.start_daemon([channel(1, command)])
        self.assertEqual(self.ffmpeg_children(), [], "started without a viewer")

        viewer = self.viewer(1)
        viewer.read_until(20_000, timeout=15)
        child = self.the_child()
        viewer.close()
        # Zapping back within the linger time finds the same child.
        time.sleep(0.3)
        again = self.viewer(1)
        again.read_until(20_000, timeout=15)
        self.assertEqual(self.ffmpeg_children(), [child])
        again.close()
        # linger (1 s), then SIGTERM: ffmpeg exits at once
        wait_for(lambda: not alive(child), 6, f"ffmpeg {child} to end")
        self.assertEqual(self.ffmpeg_children(), [])

        # A daemon stopped while the channel runs leaves no child behind.
        last = self.viewer(1)
        last.read_until(20_000, timeout=15)
        child = self.the_child()
        self.stop_daemon_cleanly()
        self.assertFalse(alive(child), f"ffmpeg {child} outlived the daemon")

    def test_exec_child_that_ignores_sigterm_is_killed_on_shutdown(self) -> None:
        stubborn = feeder_command(
            "stdout", self.media.clip, self.media.rate, "--ignore-sigterm"
        )
        self.start_daemon([channel(1, f"exec:{stubborn}")])
        viewer = self.viewer(1)
        viewer.read_until(20_000, timeout=15)
        assert self.daemon is not None and self.daemon.process is not None
        children = wait_for(
            lambda: children_of(self.daemon.process.pid), 10, "the child"
        )
        self.assertEqual(len(children), 1, children)
        child = next(iter(children))
        self.addCleanup(kill_if_alive, child)
        self.stop_daemon_cleanly()
        self.assertFalse(alive(child), f"child {child} outlived the daemon")


class SlowViewerTests(EngineTestCase):
    def test_a_viewer_that_never_reads_slows_nobody_and_is_dropped(self) -> None:
        port = free_port()
        self.start_daemon(
            [channel(1, f"tcp://@127.0.0.1:{port}")], live={"stall_timeout": 3}
        )
        first = self.viewer(1)
        self.assertEqual(first.read_headers(), 200)
        encoder = self.feeder("push", port, self.media.clip, self.media.rate)
        self.assertEqual(encoder.read_line(timeout=10), "CONNECTED")
        first.read_until(10_000, timeout=10)

        stuck = self.viewer(1, rcvbuf=4096)  # asks, and never reads
        joined = time.monotonic()
        readers = [first, self.viewer(1), self.viewer(1)]
        for reader in readers:
            reader.read_for(14)
        start = time.monotonic()
        time.sleep(8)
        end = time.monotonic()
        wanted = self.media.rate * (end - start)
        for n, reader in enumerate(readers):
            got = reader.bytes_between(start, end)
            self.assertGreater(got, 0.95 * wanted, f"reader {n}: {got / wanted:.0%}")
            self.assertIsNone(reader.ended, f"reader {n}")

        # The stuck viewer could take nothing from the start (beyond its
        # few KiB of receive buffer): it must be gone soon after the stall
        # timeout, however much the kernel would buffer for it meanwhile.
        assert self.daemon is not None
        daemon = self.daemon
        limit = 3 + 7
        try:
            wait_for(
                lambda: "disconnecting stalled viewer" in daemon.output(),
                max(0.0, joined + limit - time.monotonic()),
                "the stuck viewer to be dropped",
            )
        except AssertionError:
            raise self.failureException(
                f"a viewer that never read was still connected {limit} s after "
                "joining (live.stall_timeout = 3)"
            ) from None
        self.assertIsNotNone(stuck.drain(10), "the stuck viewer is still connected")
        for reader in readers:
            reader.join()
            self.assertIsNone(reader.ended)
        self.assert_plays_clip(1)  # and the channel still serves newcomers
        self.stop_daemon_cleanly()


class HostileSourceTests(EngineTestCase):
    """Channel 1 takes what a hostile encoder pushes (channel 3, when there
    is one, what a hostile sender sends by UDP); channel 2 is a normal
    channel that must keep serving throughout."""

    def start_with_push_channel(self, *more: dict[str, Any], **failover: float) -> int:
        port = free_port()
        self.start_daemon(
            [
                channel(1, f"tcp://@127.0.0.1:{port}", on_demand=False),
                channel(2, self.media.marked("control").as_uri()),
                *more,
            ],
            failover={"stall_timeout": 5.0, **failover},
        )
        wait_for(lambda: can_connect(port), 10, "the push channel to listen")
        return port

    def test_garbage_then_ts(self) -> None:
        port = self.start_with_push_channel()
        junk = random.Random(2024)
        fake_packets = b"".join(  # enough to lock sync on, on the video PID
            b"\x47\x41\x00" + junk.randbytes(185) for _ in range(4)
        )
        garbage = junk.randbytes(150_000) + fake_packets + junk.randbytes(10_001)
        clip = self.media.marked("after-garbage").read_bytes()
        hostile = self.media.variant("garbage-first.ts", garbage + clip)
        encoder = self.feeder("push", port, hostile, self.media.rate)
        self.assertEqual(encoder.read_line(timeout=10), "CONNECTED")
        data = self.assert_plays_clip(1, tag="after-garbage")
        self.assertNotIn(fake_packets[200:300], data)
        self.assertEqual(continuity_errors(data), {})
        self.assert_plays_clip(2, tag="control")
        self.stop_daemon_cleanly()

    def test_stream_without_pat_or_pmt(self) -> None:
        port = self.start_with_push_channel(keyframe_wait=2.0)
        clip = self.media.marked("no-psi").read_bytes()
        stripped = self.media.variant(
            "no-psi.ts", without_pids(clip, {0, *pmt_pids(clip)})
        )
        encoder = self.feeder("push", port, stripped, self.media.rate)
        self.assertEqual(encoder.read_line(timeout=10), "CONNECTED")
        viewer = self.viewer(1)
        self.assertEqual(viewer.read_headers(), 200)
        ended = viewer.drain(5)  # packets, or nothing: both are fine
        data = bytes(viewer.body)
        self.assertIn(ended, (None, "eof"))
        self.assertEqual(data[::PACKET], b"\x47" * len(data[::PACKET]), "not TS")
        if data:
            self.assertIn("no-psi", tags(data))
        self.assert_plays_clip(2, tag="control")
        self.stop_daemon_cleanly()

    def test_empty_writes_and_instant_disconnects(self) -> None:
        udp_port = free_udp_port()
        port = self.start_with_push_channel(
            channel(3, f"udp://@127.0.0.1:{udp_port}", on_demand=False)
        )
        for n in range(60):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                if n % 3 == 1:
                    s.sendall(b"")
                    s.shutdown(socket.SHUT_WR)
                elif n % 3 == 2:  # abortive close: RST instead of FIN
                    s.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x47")  # one byte of a packet, then gone
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for size in [0] * 200 + [1, 187, 189, 1315, 1317, 65507]:
                s.sendto(b"\x47" * size, ("127.0.0.1", udp_port))
        self.assert_plays_clip(2, tag="control")
        # The listeners survived all that: real senders still get through.
        encoder = self.feeder("push", port, self.media.marked("late"), self.media.rate)
        self.assertEqual(encoder.read_line(timeout=10), "CONNECTED")
        self.feeder("udp", udp_port, self.media.marked("udp"), self.media.rate)
        self.assert_plays_clip(1, tag="late")
        self.assert_plays_clip(3, tag="udp")
        self.stop_daemon_cleanly()


class ListeningSourceTests(EngineTestCase):
    def test_push_channel_stays_reachable_while_its_encoder_is_away(self) -> None:
        """An encoder that starts late (or restarts) must find the
        channel's port open whenever it connects: the channel shows the
        slate meanwhile, but a tcp://@ source keeps listening."""
        port = free_port()
        self.start_daemon([channel(1, f"tcp://@127.0.0.1:{port}", on_demand=False)])
        wait_for(lambda: can_connect(port), 10, "the push channel to listen")
        refused = []
        started = time.monotonic()
        while time.monotonic() - started < 4.0:  # > stall_timeout + retry_interval
            if not can_connect(port):
                refused.append(round(time.monotonic() - started, 1))
            time.sleep(0.1)
        self.assertEqual(refused, [], "when (s) an encoder found the port closed")
        encoder = self.feeder("push", port, self.media.marked("late"), self.media.rate)
        self.assertEqual(encoder.read_line(timeout=10), "CONNECTED")
        watching = self.viewer(1)
        watching.read_for(15)
        wait_for_tag(watching, "late", 10)  # the slate gave way to the encoder
        watching.close()
        self.assert_plays_clip(1, tag="late")
        self.stop_daemon_cleanly()


def can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
