"""VOD end to end: a real ``twistd -n xrelay``, the real CLI, real ffprobe
and ffmpeg over loopback HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from twisted.trial.unittest import SynchronousTestCase

from tests.integration._daemon import Daemon, require_binary, xrelay_cli

REPO = Path(__file__).resolve().parents[2]
DEMO_VOD = REPO / "src" / "xrelay" / "media" / "vod"
DEMO_MOVIE = DEMO_VOD / "movies" / "Sample.Movie.2024.mp4"
DEMO_EPISODE = DEMO_VOD / "series" / "Sample.Show" / "Sample.Show.S01E01.Pilot.mkv"
T = TypeVar("T")


def absolute_pythonpath(case: SynchronousTestCase) -> None:
    """Subprocesses run in their own directories: a relative PYTHONPATH
    would not find this checkout there."""
    previous = os.environ.get("PYTHONPATH")
    entries = [str(REPO / "src"), str(REPO), previous or ""]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, entries))
    case.addCleanup(
        lambda: (
            os.environ.pop("PYTHONPATH", None)
            if previous is None
            else os.environ.__setitem__("PYTHONPATH", previous)
        )
    )


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _list(value: Any) -> list[Any] | None:
    """A non-empty list (a login that failed so far answers an object)."""
    return value if isinstance(value, list) and value else None


def eventually(check: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout} s")


class DemoVodTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.ffprobe = require_binary("ffprobe")
        self.ffmpeg = require_binary("ffmpeg")
        absolute_pythonpath(self)
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir(parents=True)
        self.daemon = Daemon(self.workdir, "--demo")
        self.addCleanup(self.daemon.stop)
        self.daemon.start()
        self.api = f"{self.daemon.base}/player_api.php?username=demo&password=demo"
        streams = eventually(
            lambda: _list(get_json(f"{self.api}&action=get_vod_streams")),
            "the demo movie",
        )
        self.movie = (
            self.daemon.base + f"/movie/demo/demo/{streams[0]['stream_id']}.mp4"
        )

    def run_tool(self, *argv: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        return result

    def test_ffprobe_reads_the_served_movie_and_seeks_in_it(self) -> None:
        probed = self.run_tool(
            self.ffprobe, "-v", "error", "-show_entries",
            "format=duration:stream=codec_name", "-of", "json", self.movie,
        )  # fmt: skip
        facts = json.loads(probed.stdout)
        self.assertEqual({s["codec_name"] for s in facts["streams"]}, {"h264", "aac"})
        self.assertAlmostEqual(float(facts["format"]["duration"]), 10.0, delta=0.2)
        # a frame from 7 s in: ffprobe seeks there, with a range request
        seeked = self.run_tool(
            self.ffprobe, "-v", "error", "-read_intervals", "7%+#1",
            "-select_streams", "v", "-show_entries", "frame=pts_time",
            "-of", "json", self.movie,
        )  # fmt: skip
        [frame] = json.loads(seeked.stdout)["frames"]
        self.assertGreaterEqual(float(frame["pts_time"]), 6.0)
        # and ffmpeg decodes the whole of it, as a player would
        self.run_tool(self.ffmpeg, "-v", "error", "-i", self.movie, "-f", "null", "-")
        self.daemon.stop()
        log = self.daemon.output()
        self.assertIn('"GET /movie/demo/***/1.mp4 HTTP/1.1" 206', log)
        self.assertNotIn("Traceback", log)

    def test_the_series_plays_and_has_its_poster(self) -> None:
        info = get_json(f"{self.api}&action=get_series_info&series_id=1")
        [first, second] = info["episodes"]["1"]
        self.assertEqual(
            (first["title"], second["title"]),
            ("Sample Show - S01E01 - Pilot", "Sample Show - S01E02 - Finale"),
        )
        url = f"{self.daemon.base}/series/demo/demo/{first['id']}.mkv"
        probed = self.run_tool(
            self.ffprobe, "-v", "error", "-show_entries", "stream=codec_name",
            "-of", "json", url,
        )  # fmt: skip
        codecs = {s["codec_name"] for s in json.loads(probed.stdout)["streams"]}
        self.assertEqual(codecs, {"h264", "aac"})
        with urllib.request.urlopen(info["info"]["cover"], timeout=10) as response:
            self.assertEqual(response.headers["content-type"], "image/jpeg")
            self.assertEqual(response.read()[:2], b"\xff\xd8")

    def test_ranges_over_the_socket_are_the_file_slices(self) -> None:
        data = DEMO_MOVIE.read_bytes()
        for header, expected in (
            ("bytes=0-0", data[:1]),
            (f"bytes={len(data) - 1}-", data[-1:]),
            ("bytes=-4096", data[-4096:]),
            ("bytes=1000-", data[1000:]),
        ):
            request = urllib.request.Request(self.movie, headers={"Range": header})
            with urllib.request.urlopen(request, timeout=10) as response:
                self.assertEqual(response.status, 206)
                self.assertEqual(response.read(), expected, header)
        request = urllib.request.Request(
            self.movie, headers={"Range": f"bytes={len(data)}-"}
        )
        with self.assertRaises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=10)
        self.assertEqual(raised.exception.code, 416)
        for path in (
            "/movie/demo/demo/..%2F..%2Fxrelay.sqlite3",
            "/art/movie/1/..%2F1",
        ):
            with self.assertRaises(urllib.error.HTTPError) as raised:
                urllib.request.urlopen(self.daemon.base + path, timeout=10)
            self.assertEqual(raised.exception.code, 404)


class LibraryTests(SynchronousTestCase):
    """A library of copies of the demo media, scanned by the CLI and by a
    daemon on a one-second schedule."""

    def setUp(self) -> None:
        require_binary("ffprobe")
        absolute_pythonpath(self)
        self.workdir = Path(self.mktemp()).resolve()
        self.movies = self.workdir / "Movies"
        self.shows = self.workdir / "Shows" / "Show (2020)"
        self.shows.mkdir(parents=True)
        self.movies.mkdir()
        shutil.copy(DEMO_MOVIE, self.movies / "Alpha (2001).mp4")
        shutil.copy(DEMO_MOVIE, self.movies / "Beta (2002).mp4")
        (self.movies / "Broken (2003).mkv").write_text("not a movie")
        shutil.copy(DEMO_EPISODE, self.shows / "Show S01E01.mkv")
        shutil.copy(DEMO_EPISODE, self.shows / "Show S01E02.mkv")
        self.data = self.workdir / "data"

    def cli(self, *argv: str, stdin: str = "") -> str:
        result = subprocess.run(
            [*xrelay_cli(), "--data-dir", str(self.data), *argv],
            input=stdin.encode(),
            capture_output=True,
            timeout=120,
            check=False,
            cwd=self.workdir,
        )
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        return result.stdout.decode()

    def scan(self) -> str:
        return self.cli(
            "library", "scan", "--movies", str(self.movies),
            "--series", str(self.workdir / "Shows"),
        )  # fmt: skip

    def test_scan_then_rescan_after_a_delete_and_a_rename(self) -> None:
        first = self.scan()
        self.assertIn("movies:    2 (+2 ~0 -0)", first)
        self.assertIn("episodes:  2 (+2 ~0 -0)", first)
        self.assertIn("5 files probed, 0 unchanged", first)
        self.assertIn(
            f"{self.movies}/Broken (2003).mkv: cannot probe: Invalid data found"
            " when processing input",
            first,
        )
        again = self.scan()
        self.assertIn("0 files probed, 5 unchanged", again)
        self.assertIn("movies:    2 (+0 ~0 -0)", again)
        (self.movies / "Alpha (2001).mp4").unlink()
        (self.movies / "Beta (2002).mp4").rename(self.movies / "Gamma (2003).mp4")
        (self.shows / "Show S01E02.mkv").unlink()
        after = self.scan()
        self.assertIn("movies:    1 (+1 ~0 -2)", after)
        self.assertIn("episodes:  1 (+0 ~0 -1)", after)
        exported = self.cli("export")
        self.assertIn('name = "Gamma"', exported)
        self.assertNotIn("Alpha", exported)
        self.assertIn('library_path = "Show (2020)/Show S01E01.mkv"', exported)

    def test_the_daemon_rescans_on_its_schedule(self) -> None:
        config = self.workdir / "xrelay.toml"
        config.write_text(
            "[library]\n"
            f"movie_dirs = [{json.dumps(str(self.movies))}]\n"
            f"series_dirs = [{json.dumps(str(self.workdir / 'Shows'))}]\n"
            "scan_interval = 1.0\n"
        )
        self.cli("users", "add", "p", "--password-stdin", stdin="pw\n")
        daemon = Daemon(
            self.workdir, "--config", str(config), "--data-dir", str(self.data)
        )
        self.addCleanup(daemon.stop)
        daemon.start()
        api = f"{daemon.base}/player_api.php?username=p&password=pw"

        def names() -> list[str]:
            return sorted(s["name"] for s in get_json(f"{api}&action=get_vod_streams"))

        eventually(lambda: names() == ["Alpha", "Beta"], "the first scan")
        (self.movies / "Beta (2002).mp4").rename(self.movies / "Delta (2004).mp4")
        eventually(lambda: names() == ["Alpha", "Delta"], "the rescan")
        daemon.stop()
        log = daemon.output()
        self.assertIn("Broken (2003).mkv: cannot probe", log)
        self.assertEqual(log.count("Broken (2003).mkv: cannot probe"), 1)
        self.assertNotIn("Traceback", log)

    def test_the_command_explains_what_is_missing(self) -> None:
        run = [*xrelay_cli(), "--data-dir", str(self.data), "library", "scan"]
        nothing = subprocess.run(run, capture_output=True, timeout=60, check=False)
        self.assertEqual(nothing.returncode, 1)
        self.assertEqual(
            nothing.stderr.decode(),
            "xrelay: error: no library directories: give --movies/--series, or"
            " set library.movie_dirs / library.series_dirs in --config\n",
        )
        config = self.workdir / "xrelay.toml"
        config.write_text('[library]\nffprobe = "no-such-ffprobe"\n')
        no_ffprobe = subprocess.run(
            [*run[:-2], "--config", str(config), "library", "scan", "--movies",
             str(self.movies)],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        self.assertEqual(no_ffprobe.returncode, 1)
        self.assertIn(
            "xrelay: error: ffprobe not found (library.ffprobe = 'no-such-ffprobe')",
            no_ffprobe.stderr.decode(),
        )
        self.assertNotIn("[[movies]]", self.cli("export"))
