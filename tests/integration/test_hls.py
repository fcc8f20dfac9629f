"""Live HLS end to end: a real ``twistd -n xrelay``, real HTTP on loopback,
ffprobe/ffmpeg reading what it serves, and a strict playlist parser."""

from __future__ import annotations

import itertools
import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from tests.hls._m3u8 import MediaPlaylist, check_follows, parse
from tests.integration._daemon import Daemon, require_binary, xrelay_cli
from tests.integration._sources import (
    PACKET,
    Feeder,
    decode_problems,
    ffprobe_streams,
    provision,
    tags,
    wait_for,
    write_config,
    write_toml,
)
from tests.integration.test_engine import FAST_FAILOVER, channel, media

# Short segments and window so a test sees the playlist slide in seconds.
HLS = {"segment_seconds": 2.0, "window": 3}
PLAYER = "hls-test-player"


@attrs.define
class Player:
    """An HLS client on urllib: opens the channel URL (following the
    redirect to its session's playlist), then polls and fetches."""

    playlist_url: str
    playlists: list[MediaPlaylist] = attrs.Factory(list)
    headers: dict[str, str] = attrs.Factory(dict)

    @classmethod
    def open(cls, url: str) -> Player:
        with urllib.request.urlopen(_request(url), timeout=30) as response:
            player = cls(response.geturl())
            player.headers = dict(response.headers)
            player.playlists.append(parse(response.read().decode("ascii")))
        return player

    def poll(self) -> MediaPlaylist:
        with urllib.request.urlopen(_request(self.playlist_url), timeout=30) as r:
            self.headers = dict(r.headers)
            playlist = parse(r.read().decode("ascii"))
        check_follows(self.playlists[-1], playlist)
        self.playlists.append(playlist)
        return playlist

    def fetch(self, uri: str) -> tuple[bytes, dict[str, str]]:
        url = self.playlist_url.rsplit("/", 1)[0] + "/" + uri
        with urllib.request.urlopen(_request(url), timeout=30) as response:
            return response.read(), dict(response.headers)


def _request(url: str) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": PLAYER})


def problems_but_the_demo_loop(path: Path) -> list[str]:
    """``decode_problems``, except the audio overlap where the demo's file
    source loops (its AAC runs past its video; the same shows in .ts)."""
    overlap = "non monotonically increasing dts to muxer in stream 1"
    return [line for line in decode_problems(path) if overlap not in line]


def ffprobe_json(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [require_binary("ffprobe"), "-v", "error", "-of", "json", *args],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"ffprobe {args}: {result.stderr.decode()}")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


class DemoHlsTests(SynchronousTestCase):
    """The --demo channel (H.264 + AAC, a keyframe a second) over HLS."""

    def setUp(self) -> None:
        require_binary("ffmpeg")
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)
        config = write_toml(self.workdir / "hls.toml", {"hls": HLS})
        self.daemon = Daemon(self.workdir, "--demo", "--config", str(config))
        self.addCleanup(self.daemon.stop)
        self.daemon.start(ready_path="/live/demo/demo/1.ts")
        self.url = self.daemon.base + "/live/demo/demo/1.m3u8"

    def test_ffprobe_reads_the_live_playlist(self) -> None:
        probed = ffprobe_json("-show_streams", "-show_format", self.url)
        self.assertEqual(probed["format"]["format_name"], "hls")
        streams = {s["codec_name"]: s for s in probed["streams"]}
        self.assertEqual(set(streams), {"h264", "aac"})
        self.assertEqual(
            (streams["h264"]["width"], streams["h264"]["height"]), (640, 360)
        )

    def test_the_playlist_advances_and_its_segments_play(self) -> None:
        player = Player.open(self.url)
        self.assertRegex(player.playlist_url, r"/hls/[A-Za-z0-9_-]{22}/index\.m3u8$")
        self.assertEqual(
            player.headers["Content-Type"], "application/vnd.apple.mpegurl"
        )
        self.assertEqual(player.headers["Cache-Control"], "no-cache")
        first = player.playlists[0]
        self.assertEqual(first.target_duration, 2)
        wait_for(
            lambda: player.poll().media_sequence >= first.media_sequence + 2,
            timeout=20,
            what="the media sequence to grow by 2",
            step=0.5,
        )
        last = player.playlists[-1]
        self.assertEqual(len(last.segments), 3)
        self.assertEqual(
            {s.duration for p in player.playlists for s in p.segments}, {2.0}
        )
        self.assertFalse(any(s.discontinuity for s in last.segments))

        bodies = []
        for entry in last.segments:
            body, headers = player.fetch(entry.uri)
            self.assertEqual(headers["Content-Type"], "video/mp2t")
            self.assertEqual(headers["Cache-Control"], "private, max-age=12")
            self.assertEqual(body[::PACKET], b"\x47" * (len(body) // PACKET))
            bodies.append(body)
        capture = self.workdir / "segments.ts"
        capture.write_bytes(b"".join(bodies))
        self.assertEqual(problems_but_the_demo_loop(capture), [])
        # consecutive segments play as one: every frame once, 25 per second
        frames = ffprobe_json(
            "-select_streams", "v", "-show_entries", "packet=pts", str(capture)
        )["packets"]
        times = sorted(int(packet["pts"]) for packet in frames)
        self.assertEqual(len(times), 3 * 2 * 25)
        self.assertEqual({b - a for a, b in itertools.pairwise(times)}, {3600})
        one = self.workdir / "one.ts"
        one.write_bytes(bodies[0])
        probed = ffprobe_json("-count_packets", "-show_streams", str(one))
        streams = {s["codec_name"]: s for s in probed["streams"]}
        self.assertEqual(set(streams), {"h264", "aac"})
        self.assertEqual(streams["h264"]["nb_read_packets"], "50", "2 s of video")

        self.daemon.stop()
        log = self.daemon.output()
        token = player.playlist_url.split("/")[-2]
        self.assertIn("/hls/***/index.m3u8", log)
        self.assertNotIn(token, log)


class HlsFailoverTests(SynchronousTestCase):
    """A channel on two TCP sources whose primary is killed: the playlist
    marks the switch with #EXT-X-DISCONTINUITY and plays on."""

    def setUp(self) -> None:
        self.media = media()
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)

    def feeder(self, tag: str) -> Feeder:
        feeder = Feeder(
            "serve", "tcp", str(self.media.marked(tag)), str(self.media.rate),
            log_dir=self.workdir,
        )  # fmt: skip
        self.addCleanup(feeder.stop)
        return feeder

    def test_a_source_switch_inserts_a_discontinuity(self) -> None:
        primary, backup = self.feeder("A"), self.feeder("B")
        data_dir = self.workdir / "data"
        provision(
            data_dir,
            [
                channel(
                    1,
                    f"tcp://127.0.0.1:{primary.port}",
                    f"tcp://127.0.0.1:{backup.port}",
                )
            ],
            [{"id": 1, "username": "u", "password": "p", "max_connections": 2}],
            xrelay_cli(),
        )
        config = write_config(
            self.workdir / "xrelay.toml",
            data_dir,
            failover=FAST_FAILOVER,
            live={"linger": 1.0},
            hls={**HLS, "window": 4},
        )
        daemon = Daemon(self.workdir, "--config", str(config))
        self.addCleanup(daemon.stop)
        daemon.start()

        player = Player.open(f"{daemon.base}/live/u/p/1.m3u8")
        got: dict[int, tuple[bool, list[str], bytes]] = {}  # by sequence

        def fetch_new() -> None:
            for entry in player.poll().segments:
                if entry.sequence not in got:
                    body, _ = player.fetch(entry.uri)
                    got[entry.sequence] = (entry.discontinuity, tags(body), body)

        def seen(tag: str, count: int) -> bool:
            fetch_new()
            return sum(tag in t for _, t, _ in got.values()) >= count

        wait_for(lambda: seen("A", 2), timeout=20, what="segments of A", step=0.5)
        primary.stop()  # SIGKILL, mid-stream
        wait_for(lambda: seen("B", 2), timeout=30, what="segments of B", step=0.5)

        order = [got[n] for n in sorted(got)]
        flags = [flag for flag, _, _ in order]
        sources = [tuple(t) for _, t, _ in order]
        switch = flags.index(True)
        self.assertEqual(flags.count(True), 1, sources)
        self.assertEqual(set(sources[:switch]), {("A",)})
        self.assertEqual(set(sources[switch:]), {("B",)})
        after = self.workdir / "after.ts"
        after.write_bytes(order[switch][2])
        self.assertEqual(decode_problems(after), [])
        streams = ffprobe_streams(after)
        self.assertEqual(sorted(s["codec_name"] for s in streams), ["aac", "h264"])
        self.assertIn(b"#EXT-X-DISCONTINUITY\n", _raw(player.playlist_url))
        self.assertIn(daemon.stop(), (0, -15))
        self.assertNotIn("Traceback", daemon.output())


def _raw(url: str) -> bytes:
    with urllib.request.urlopen(_request(url), timeout=30) as response:
        body: bytes = response.read()
    return body
