"""Which video encoder a profile gets: its hardware one only if it works."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from xrelay.config import TranscodeProfile
from xrelay.transcode._args import SOFTWARE, ffmpeg_args
from xrelay.transcode._progress import ProgressParser

# One second of generated video, encoded as the profile says, thrown away.
TEST_SOURCE = ("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=1")
TEST_SINK = ("-f", "null", "-")


class _TestEncode(ProcessProtocol):
    def __init__(self, done: Callable[[bool, str], None]) -> None:
        self._done = done
        self._stderr = b""

    def connectionMade(self) -> None:
        self.transport.closeStdin()  # type: ignore[union-attr]

    def errReceived(self, data: bytes) -> None:
        self._stderr = (self._stderr + data)[-4096:]

    def processEnded(self, reason: Failure) -> None:
        ok = getattr(reason.value, "exitCode", None) == 0
        progress = ProgressParser()
        lines = self._stderr.decode("utf-8", "replace").splitlines()
        errors = [line for line in lines if line.strip() and not progress.line(line)]
        self._done(ok, errors[-1].strip() if errors else str(reason.value))


class EncoderCheck:
    """Decides, once at start, which video encoder profile ``name`` uses.

    A software profile gets libx264 at once.  A hardware one (h264_vaapi,
    h264_nvenc, h264_qsv) gets its encoder only if a one-second test encode
    with the profile's own options works: ``ffmpeg -encoders`` lists
    encoders built in, not whether a GPU or driver is there.  Otherwise it
    falls back to libx264, with a warning saying why.
    """

    log = Logger()

    def __init__(
        self,
        ffmpeg: str,
        name: str,
        profile: TranscodeProfile,
        reactor: Any,  # IReactorProcess, IReactorTime
        timeout: float = 30.0,
    ) -> None:
        self._ffmpeg = ffmpeg
        self.name = name
        self._profile = profile
        self._reactor = reactor
        self._timeout = timeout
        self.chosen: str | None = None
        self._waiting: list[Deferred[str]] = []
        self._process: IProcessTransport | None = None
        self._timer: IDelayedCall | None = None
        self._reaped: list[Deferred[None]] = []

    def start(self) -> None:
        wanted = self._profile.video_codec
        executable = shutil.which(self._ffmpeg)
        if wanted == SOFTWARE:
            self._decide(SOFTWARE)
            return
        if executable is None:
            self._fall_back(f"{self._ffmpeg} not found")
            return
        argv = ffmpeg_args(
            self._ffmpeg, self._profile, wanted, source=TEST_SOURCE, sink=TEST_SINK
        )
        try:
            self._process = self._reactor.spawnProcess(
                _TestEncode(self._tested),
                os.path.abspath(executable),
                argv,
                env=os.environ,
            )
        except OSError as e:
            self._fall_back(f"cannot run ffmpeg: {e.strerror}")
            return
        self._timer = self._reactor.callLater(self._timeout, self._kill)

    def encoder(self) -> Deferred[str]:
        """Fires with the encoder once decided (a new Deferred per call:
        callers await it)."""
        if self.chosen is not None:
            return succeed(self.chosen)
        d: Deferred[str] = Deferred()
        self._waiting.append(d)
        return d

    def stop(self) -> Deferred[None]:
        """Ends a test encode still running; fires once it is reaped."""
        if self._process is None:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._reaped.append(d)
        self._kill()
        return d

    def _kill(self) -> None:
        if self._process is not None:
            with suppress(ProcessExitedAlready):
                self._process.signalProcess("KILL")

    def _tested(self, ok: bool, error: str) -> None:
        self._process = None
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if ok:
            self._decide(self._profile.video_codec)
        else:
            self._fall_back(f"a test encode failed: {error}")
        reaped, self._reaped = self._reaped, []
        for d in reaped:
            d.callback(None)

    def _fall_back(self, why: str) -> None:
        self.log.warn(
            "transcode profile {profile}: {encoder} is not usable ({why}); "
            "encoding with {software} instead",
            profile=self.name,
            encoder=self._profile.video_codec,
            why=why,
            software=SOFTWARE,
        )
        self._decide(SOFTWARE)

    def _decide(self, encoder: str) -> None:
        if self.chosen is not None:
            return
        self.chosen = encoder
        self.log.info(
            "transcode profile {profile}: video encoder {encoder}",
            profile=self.name,
            encoder=encoder,
        )
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(encoder)
