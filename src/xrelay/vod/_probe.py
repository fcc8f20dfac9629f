"""Media facts from ffprobe: duration, codecs, picture size, bitrate.

``facts_from_ffprobe`` reads ffprobe's JSON (pure); ``FFprobe`` runs it as
a child process, a bounded number at a time, each with a time limit.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import deque
from contextlib import suppress
from typing import Any

import attrs
from twisted.internet.defer import Deferred, DeferredSemaphore
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from zope.interface import Interface, implementer

_MAX_OUTPUT = 1 << 20  # ffprobe's JSON for one file: a few hundred bytes
_ENTRIES = (
    "format=duration,bit_rate"
    ":stream=codec_type,codec_name,width,height"
    ":stream_disposition=attached_pic"
)


@attrs.frozen
class MediaFacts:
    duration_secs: int = 0
    video_codec: str = ""
    audio_codec: str = ""
    width: int = 0
    height: int = 0
    bitrate: int = 0  # kbit/s


@attrs.frozen
class ProbeFailure:
    """Why a file could not be probed.  A ``lasting`` failure (the file is
    not media) is remembered until the file changes; a passing one (a
    timeout) is tried again at the next scan."""

    reason: str
    lasting: bool = True


ProbeResult = MediaFacts | ProbeFailure


def facts_from_ffprobe(output: bytes, size: int) -> ProbeResult:
    """The facts in ffprobe's ``-print_format json`` output for a file of
    ``size`` bytes; a failure when it shows neither video nor audio."""
    try:
        data = json.loads(output)
    except ValueError:
        return ProbeFailure("ffprobe printed something that is not JSON")
    if not isinstance(data, dict):
        return ProbeFailure("ffprobe printed something that is not JSON")
    streams = [s for s in data.get("streams") or () if isinstance(s, dict)]
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            and not (s.get("disposition") or {}).get("attached_pic")  # cover art
        ),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        return ProbeFailure("no video or audio stream")
    media_format = data.get("format") or {}
    duration = _number(media_format.get("duration"))
    bitrate = _number(media_format.get("bit_rate"))
    if not bitrate and duration > 0:
        bitrate = size * 8 / duration
    return MediaFacts(
        duration_secs=round(duration),
        video_codec=str((video or {}).get("codec_name") or ""),
        audio_codec=str((audio or {}).get("codec_name") or ""),
        width=int(_number((video or {}).get("width"))),
        height=int(_number((video or {}).get("height"))),
        bitrate=round(bitrate / 1000),
    )


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if 0 < number < 1e15 else 0.0


class IProber(Interface):
    def unavailable() -> str | None:
        """Why no file can be probed now (ffprobe is missing), or None."""

    def probe(path: str, size: int) -> Deferred[ProbeResult]:
        """The facts of the media file at ``path`` (``size`` bytes); never
        fails: problems are a ``ProbeFailure``."""


@implementer(IProber)
class FFprobe:
    """Runs ``executable`` (ffprobe) at most ``concurrency`` at a time; a
    run taking longer than ``timeout`` seconds is killed.  Cancelling a
    probe's Deferred kills its process (or takes it out of the queue)."""

    def __init__(
        self,
        reactor: Any,  # IReactorProcess and IReactorTime
        executable: str,
        timeout: float = 30.0,
        concurrency: int = 4,
    ) -> None:
        self._reactor = reactor
        self._executable = executable
        self._timeout = timeout
        self._slots = DeferredSemaphore(concurrency)

    def unavailable(self) -> str | None:
        if self._found() is None:
            return (
                f"ffprobe not found (library.ffprobe = {self._executable!r});"
                " install ffmpeg (apt-get install -y ffmpeg)"
            )
        return None

    def _found(self) -> str | None:
        found = shutil.which(self._executable)
        return None if found is None else os.path.abspath(found)

    def probe(self, path: str, size: int) -> Deferred[ProbeResult]:
        return self._slots.run(self._run, path, size)

    def _run(self, path: str, size: int) -> Deferred[ProbeResult]:
        child = _Child(path, size)
        executable = self._found()
        if executable is None:
            return child.finish(ProbeFailure("ffprobe not found", lasting=False))
        argv = [
            executable,
            "-v",
            "error",
            "-hide_banner",
            "-print_format",
            "json",
            "-show_entries",
            _ENTRIES,
            "-i",
            "file:" + path,  # a name with ':' is still a file
        ]
        try:
            transport = self._reactor.spawnProcess(
                child,
                executable,
                argv,
                env=os.environ,
                childFDs={0: "w", 1: "r", 2: "r"},
            )
        except OSError as e:
            return child.finish(
                ProbeFailure(f"cannot run ffprobe: {e.strerror}", False)
            )
        child.limit(self._reactor.callLater(self._timeout, child.timed_out))
        child.started(transport)
        return child.result


class _Child(ProcessProtocol):
    def __init__(self, path: str, size: int) -> None:
        self._path = path
        self._size = size
        self._out: list[bytes] = []
        self._out_len = 0
        self._err: deque[bytes] = deque(maxlen=8)
        self._failure: ProbeFailure | None = None
        self._timer: IDelayedCall | None = None
        self._process: IProcessTransport | None = None
        self.result: Deferred[ProbeResult] = Deferred(lambda _: self._kill())

    def started(self, process: IProcessTransport) -> None:
        self._process = process

    def limit(self, timer: IDelayedCall) -> None:
        self._timer = timer

    def connectionMade(self) -> None:
        self.transport.closeStdin()  # type: ignore[union-attr]

    def outReceived(self, data: bytes) -> None:
        self._out_len += len(data)
        if self._out_len > _MAX_OUTPUT:
            self._fail(ProbeFailure("ffprobe printed too much"))
        else:
            self._out.append(data)

    def errReceived(self, data: bytes) -> None:
        self._err.append(data[-2000:])

    def timed_out(self) -> None:
        self._timer = None
        self._fail(ProbeFailure("ffprobe took too long", lasting=False))

    def _fail(self, failure: ProbeFailure) -> None:
        if self._failure is None:
            self._failure = failure
            self._kill()

    def _kill(self) -> None:
        if self._process is not None:
            with suppress(ProcessExitedAlready):
                self._process.signalProcess("KILL")

    def processEnded(self, reason: Failure) -> None:
        self._process = None
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        if self._failure is not None:
            self.finish(self._failure)
        elif getattr(reason.value, "exitCode", None) == 0:
            self.finish(facts_from_ffprobe(b"".join(self._out), self._size))
        else:
            lines = b"".join(self._err).decode("utf-8", "replace").splitlines()
            last = next((line.strip() for line in reversed(lines) if line.strip()), "")
            # "file:/the/path: Invalid data found...": the report names the file
            last = last.removeprefix(f"file:{self._path}: ")
            self.finish(ProbeFailure(last or "ffprobe failed"))

    def finish(self, result: ProbeResult) -> Deferred[ProbeResult]:
        if not self.result.called:
            self.result.callback(result)
        return self.result
