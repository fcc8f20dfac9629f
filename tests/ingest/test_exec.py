"""The exec: source, with real child processes.

Most tests run the children on the real reactor but take the source's time
from a Clock, so retries and the SIGKILL grace are stepped by hand.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.ingest.test_http import wait_until
from xrelay.demo import demo_media_path
from xrelay.ingest import UnsupportedSource, make_source
from xrelay.ingest._exec import ExecSource
from xrelay.mpegts import PsiTracker
from xrelay.testing import PacketRecorder

DEMO = demo_media_path()
DEMO_BYTES = DEMO.read_bytes()


def command(*argv: str) -> str:
    return "exec:" + shlex.join(argv)


def python(code: str, *args: str) -> str:
    return command(sys.executable, "-c", code, *args)


class ProcessesOnClock(Clock):
    """The real reactor's child processes, with a Clock's time."""

    def spawnProcess(self, *args: Any, **kwargs: Any) -> Any:
        return reactor.spawnProcess(*args, **kwargs)


def gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")


class ExecSourceTests(TestCase):
    timeout = 30

    def start(
        self, url: str, clock: Clock | None = None
    ) -> tuple[ExecSource, PacketRecorder]:
        source = ExecSource(url, clock or reactor)
        sink = PacketRecorder()
        source.start(sink)

        async def stop() -> None:
            d = source.stop()
            if clock is not None:
                clock.advance(source._grace)  # SIGKILL whatever is left
            await d

        self.addCleanup(stop)
        return source, sink

    async def test_ffmpeg_output_parses_and_stop_leaves_no_child(self) -> None:
        if shutil.which("ffmpeg") is None:
            self.skipTest("ffmpeg is not installed")
        source, sink = self.start(
            f"exec:ffmpeg -nostdin -loglevel error -re -stream_loop -1 -i {DEMO}"
            " -c copy -f mpegts -"
        )
        tracker = PsiTracker()

        def found_av() -> bool:
            tracker.feed(b"".join(sink.chunks))
            sink.chunks[:] = []
            types = {s.stream_type for p in tracker.pmts.values() for s in p.streams}
            return {0x1B, 0x0F} <= types  # H.264 and AAC

        await wait_until(found_av)
        pid = source.pid
        assert pid is not None
        self.assertTrue(source.connected)
        await source.stop()
        self.assertTrue(gone(pid))
        self.assertIsNone(source.pid)
        self.assertFalse(source.connected)
        self.assertEqual(sink.ended, [])

    async def test_stop_terminates_a_running_child(self) -> None:
        source, sink = self.start(python("import time; time.sleep(60)"))
        pid = source.pid
        assert pid is not None
        await source.stop()
        self.assertTrue(gone(pid))
        self.assertEqual(sink.ended, [])

    async def test_stop_kills_a_child_that_ignores_sigterm(self) -> None:
        clock = ProcessesOnClock()
        source, sink = self.start(
            python(
                "import signal, sys, time;"
                "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
                "print('ready', file=sys.stderr, flush=True);"
                "time.sleep(60)"
            ),
            clock,
        )
        await wait_until(lambda: "ready" in source.last_errors)
        pid = source.pid
        assert pid is not None
        stopped = source.stop()
        await deferLater(reactor, 0.3)
        self.assertFalse(stopped.called)
        self.assertFalse(gone(pid))
        clock.advance(2.0)  # the grace is over: SIGKILL
        await wait_until(lambda: stopped.called)
        self.assertTrue(gone(pid))
        self.assertEqual(sink.ended, [])

    async def test_the_output_arrives_intact(self) -> None:
        clock = ProcessesOnClock()
        source, sink = self.start(command("cat", str(DEMO)), clock)
        await wait_until(lambda: sink.ended)
        self.assertEqual(sink.data(), DEMO_BYTES)
        self.assertEqual(sink.ended, [f"exec:cat {DEMO}: exited with status 0"])
        self.assertEqual(source.bytes_in, len(DEMO_BYTES))
        self.assertEqual(source.garbage_bytes, 0)

    async def test_an_exit_is_reported_then_the_child_is_restarted(self) -> None:
        clock = ProcessesOnClock()
        source, sink = self.start(command("cat", str(DEMO)), clock)
        await wait_until(lambda: sink.ended)
        self.assertEqual(source.restarts, 0)
        clock.advance(0.5)
        self.assertEqual(source.restarts, 1)
        await wait_until(lambda: len(sink.ended) == 2)
        self.assertEqual(sink.data(), DEMO_BYTES * 2)

    async def test_a_failing_child_is_one_outage_retried_with_backoff(self) -> None:
        clock = ProcessesOnClock()
        source, sink = self.start("exec:false", clock)
        delays = []
        for attempt in range(8):
            await wait_until(clock.getDelayedCalls)
            [retry] = clock.getDelayedCalls()
            delays.append(retry.getTime() - clock.seconds())
            clock.advance(delays[-1])
            self.assertEqual(source.restarts, attempt + 1)
        self.assertEqual(delays, [0.5, 1, 2, 4, 8, 10, 10, 10])
        self.assertEqual(sink.ended, ["exec:false: exited with status 1"])

    async def test_a_healthy_run_starts_the_backoff_over(self) -> None:
        counter = Path(self.tempdir()) / "runs"
        counter.write_text("0")
        # Fails at once three times, then streams a little and exits.
        clock = ProcessesOnClock()
        _, sink = self.start(
            python(
                "import pathlib, sys, time;"
                "f = pathlib.Path(sys.argv[1]); n = int(f.read_text());"
                "f.write_text(str(n + 1));"
                "n < 3 and sys.exit(1);"
                "sys.stdout.buffer.write(open(sys.argv[2], 'rb').read(18800));"
                "sys.stdout.flush(); time.sleep(0.5)",
                str(counter),
                str(DEMO),
            ),
            clock,
        )
        for delay in (0.5, 1, 2):
            await wait_until(clock.getDelayedCalls)
            clock.advance(delay)
        await wait_until(lambda: sink.chunks)
        clock.advance(30)  # delivering for the healthy period
        await wait_until(clock.getDelayedCalls)
        [retry] = clock.getDelayedCalls()
        self.assertEqual(retry.getTime() - clock.seconds(), 0.5)
        self.assertEqual(len(sink.ended), 2)  # data flowed between the outages

    async def test_the_reason_has_the_status_and_the_last_stderr_line(self) -> None:
        source, sink = self.start(
            python(
                "import sys;"
                "print('opening http://u:pw@h/x?token=abc', file=sys.stderr);"
                "print('fatal:\\tno signal', file=sys.stderr);"
                "sys.stderr.write('\\r\\n  ');"
                "sys.exit(3)"
            ),
            ProcessesOnClock(),
        )
        await wait_until(lambda: sink.ended)
        self.assertEqual(
            sink.ended, [f"{source.name}: exited with status 3: fatal:\tno signal"]
        )
        self.assertEqual(
            list(source.last_errors), ["opening http://h/…", "fatal:\tno signal"]
        )

    async def test_a_signal_death_is_named(self) -> None:
        _, sink = self.start(
            python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"),
            ProcessesOnClock(),
        )
        await wait_until(lambda: sink.ended)
        self.assertTrue(sink.ended[0].endswith(": killed by SIGKILL"), sink.ended)

    async def test_a_command_that_vanished_is_retried(self) -> None:
        tool = Path(self.tempdir()) / "tool"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
        source = ExecSource(f"exec:{tool}", ProcessesOnClock())
        tool.unlink()
        sink = PacketRecorder()
        source.start(sink)
        self.addCleanup(source.stop)
        self.assertEqual(
            sink.ended, [f"exec:{tool}: cannot start: No such file or directory"]
        )

    async def test_arguments_are_split_like_a_shell_does(self) -> None:
        odd = Path(self.tempdir()) / "it's a demo.ts"
        shutil.copy(DEMO, odd)
        url = python(
            "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())",
            str(odd),
        )
        _, sink = self.start(url, ProcessesOnClock())
        await wait_until(lambda: sink.ended)
        self.assertEqual(sink.data(), DEMO_BYTES)
        self.assertTrue(sink.ended[0].endswith("exited with status 0"), sink.ended)

    def tempdir(self) -> str:
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        return directory.name


class ExecUrlTests(SynchronousTestCase):
    def test_make_source_builds_exec_sources(self) -> None:
        self.assertIsInstance(make_source("exec:cat /dev/null", reactor), ExecSource)

    def test_a_missing_executable_is_refused(self) -> None:
        with self.assertRaises(UnsupportedSource) as e:
            make_source("exec:no-such-tool-xyz -i x", reactor)
        self.assertEqual(
            str(e.exception),
            "exec:no-such-tool-xyz -i x: no-such-tool-xyz not found on PATH",
        )

    def test_bad_command_lines_are_refused(self) -> None:
        for url in ("exec:", "exec:   ", "exec:cat 'unbalanced"):
            with self.assertRaises(UnsupportedSource):
                make_source(url, reactor)
