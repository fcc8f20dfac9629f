"""Loopback TS sources, viewers and provisioning for the engine's end-to-end
tests.

Run as a script, this module is the feeder process the tests start (it
imports nothing but the standard library, so it starts fast and needs no
path set up):

    python _sources.py serve tcp|http FILE RATE     listen on 127.0.0.1:0
    python _sources.py push PORT FILE RATE          connect to 127.0.0.1:PORT
    python _sources.py udp PORT FILE RATE           datagrams to 127.0.0.1:PORT
    python _sources.py stdout FILE RATE [--ignore-sigterm]   to stdout

Each sends FILE from its start, looped, at RATE bytes per second (paced
against the wall clock, so it never drifts), until it is killed.  ``serve``
prints ``PORT n`` once listening and starts every connection at the file's
start; ``push`` prints ``CONNECTED`` at each connection and reconnects like
an encoder when it loses one.  ``stdout`` is a child for ``exec:``
sources; with ``--ignore-sigterm`` only SIGKILL ends it, even once its
stdout is closed.

Imported, it offers what the tests need around that: the sample clip,
markers that tell which source a captured packet came from, the feeder
processes, raw-socket viewers, ffprobe, the catalog and config writers, and
the daemon's child processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

PACKET = 188
DATAGRAM = 7 * PACKET
MARKER_PID = 0x1FF0  # not in any PMT: players ignore it
MARKER_MAGIC = b"XRELAY-TEST-SOURCE:"
CLIP_SIZE = (480, 270)  # unlike the slate's 640x360: tells the two apart


# ---------------------------------------------------------------------------
# The feeder process (script mode)


def _paced_chunks(data: bytes, rate: float, chunk: int) -> Iterator[bytes]:
    """``data`` looped forever in ``chunk``-byte pieces, each yielded when
    the wall clock reaches its place in a ``rate`` bytes/s schedule."""
    started = time.monotonic()
    sent = 0
    pos = 0
    while True:
        due = started + sent / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        piece = data[pos : pos + chunk]
        pos = (pos + len(piece)) % len(data)
        sent += len(piece)
        yield piece


def _stream(conn: socket.socket, data: bytes, rate: float) -> None:
    try:
        for piece in _paced_chunks(data, rate, DATAGRAM):
            conn.sendall(piece)
    except OSError:
        pass
    finally:
        conn.close()


def _serve_http(conn: socket.socket, data: bytes, rate: float) -> None:
    conn.settimeout(10)
    request = b""
    try:
        while b"\r\n\r\n" not in request and len(request) < 65536:
            more = conn.recv(4096)
            if not more:
                conn.close()
                return
            request += more
        conn.sendall(
            b"HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n"
            b"Cache-Control: no-store\r\n\r\n"
        )
    except OSError:
        conn.close()
        return
    conn.settimeout(None)
    _stream(conn, data, rate)


def _main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "serve":
        kind, path, rate = argv[1], argv[2], float(argv[3])
        data = Path(path).read_bytes()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        print(f"PORT {listener.getsockname()[1]}", flush=True)
        handler = _serve_http if kind == "http" else _stream
        while True:
            conn, _ = listener.accept()
            threading.Thread(
                target=handler, args=(conn, data, rate), daemon=True
            ).start()
    elif mode == "push":
        port, path, rate = int(argv[1]), argv[2], float(argv[3])
        data = Path(path).read_bytes()
        print("STARTED", flush=True)
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                time.sleep(0.05)
                continue
            conn.settimeout(None)
            print("CONNECTED", flush=True)
            _stream(conn, data, rate)
            time.sleep(0.05)
    elif mode == "udp":
        port, path, rate = int(argv[1]), argv[2], float(argv[3])
        data = Path(path).read_bytes()
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        print("SENDING", flush=True)
        for piece in _paced_chunks(data, rate, DATAGRAM):
            with contextlib.suppress(OSError):  # nobody listening yet
                sender.sendto(piece, ("127.0.0.1", port))
    elif mode == "stdout":
        path, rate = argv[1], float(argv[2])
        if "--ignore-sigterm" in argv:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        data = Path(path).read_bytes()
        out = sys.stdout.buffer
        try:
            for piece in _paced_chunks(data, rate, DATAGRAM):
                out.write(piece)
                out.flush()
        except OSError:
            if "--ignore-sigterm" in argv:
                while True:  # a stuck child: only SIGKILL ends it
                    time.sleep(1)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


class Feeder:
    """One feeder process (see the module docstring); ``stop()`` kills it by
    PID and reaps it (idempotent, so it can be a cleanup and a test step)."""

    def __init__(self, *args: str, log_dir: Path) -> None:
        self.args = [sys.executable, str(Path(__file__).resolve()), *args]
        self._log = (log_dir / f"feeder-{os.getpid()}-{id(self)}.log").open("wb")
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=self._log, bufsize=0
        )
        self._pending = b""
        self.first_line = self.read_line(timeout=10)

    @property
    def pid(self) -> int:
        return self.process.pid

    def read_line(self, timeout: float) -> str:
        """The feeder's next line of output, waiting at most ``timeout``."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"{self.args[2:]}: no output in {timeout}s")
            more = os.read(fd, 4096)
            if not more:
                raise AssertionError(f"{self.args[2:]} exited: {self.process.wait(5)}")
            self._pending += more
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode().strip()

    @property
    def port(self) -> int:
        kind, _, number = self.first_line.partition(" ")
        assert kind == "PORT", self.first_line
        return int(number)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


# ---------------------------------------------------------------------------
# Media


def feeder_command(*args: str | float) -> str:
    """The command line of a feeder, for an ``exec:`` source URL."""
    return " ".join([sys.executable, str(Path(__file__).resolve()), *map(str, args)])


def make_clip(path: Path, seconds: int = 30) -> Path:
    """An H.264 + AAC TS (480x270, 25 fps, a keyframe every second, about
    1 Mbit/s, PAT/PMT before every keyframe), made with ffmpeg."""
    width, height = CLIP_SIZE
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-g", "25", "-b:v", "900k", "-maxrate", "1M", "-bufsize", "1M",
            "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "96k",
            "-mpegts_flags", "+resend_headers",
            "-f", "mpegts", str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    return path


def packets(data: bytes) -> Iterator[tuple[int, int]]:
    """(offset, PID) of every packet of a packet-aligned ``data``."""
    for off in range(0, len(data) - PACKET + 1, PACKET):
        yield off, ((data[off + 1] & 0x1F) << 8) | data[off + 2]


def byte_rate(data: bytes) -> float:
    """Bytes per second of a TS, from the span of its first PCR PID's PCRs."""
    first: tuple[int, int] | None = None  # (pid, pcr)
    last = 0
    for off, pid in packets(data):
        if not (data[off + 3] & 0x20 and data[off + 4] >= 7 and data[off + 5] & 0x10):
            continue
        if first is not None and pid != first[0]:
            continue
        b = data[off + 6 : off + 12]
        base = (b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)
        value = base * 300 + (((b[4] & 1) << 8) | b[5])
        if first is None:
            first = (pid, value)
        last = value
    assert first is not None and last > first[1], "no PCR span in the clip"
    return len(data) / ((last - first[1]) / 27_000_000)


def pmt_pids(data: bytes) -> set[int]:
    """The PMT PIDs the first PAT of ``data`` names."""
    for off, pid in packets(data):
        if pid == 0 and data[off + 1] & 0x40:
            start = off + 5 + data[off + 4]  # after the pointer field
            length = ((data[start + 1] & 0x0F) << 8) | data[start + 2]
            entries = data[start + 8 : start + 3 + length - 4]
            return {
                ((entries[i + 2] & 0x1F) << 8) | entries[i + 3]
                for i in range(0, len(entries), 4)
                if entries[i] | entries[i + 1]  # program 0 is the NIT
            }
    raise AssertionError("no PAT")


def without_pids(data: bytes, pids: Iterable[int]) -> bytes:
    drop = set(pids)
    return b"".join(
        data[off : off + PACKET] for off, pid in packets(data) if pid not in drop
    )


def with_markers(data: bytes, tag: str, every: int = 50) -> bytes:
    """``data`` with a marker packet (PID ``MARKER_PID``, payload naming
    ``tag``, continuity counters in order) after every ``every`` packets,
    so a capture shows which source each stretch came from."""
    payload = (MARKER_MAGIC + tag.encode() + b";").ljust(PACKET - 4, b"\xff")
    out = []
    counter = 0
    for n, (off, _) in enumerate(packets(data)):
        out.append(data[off : off + PACKET])
        if n % every == every - 1:
            header = bytes(
                [0x47, 0x40 | MARKER_PID >> 8, MARKER_PID & 0xFF, 0x10 | counter]
            )
            out.append(header + payload)
            counter = (counter + 1) & 0x0F
    return b"".join(out)


def markers(data: bytes) -> list[tuple[int, str]]:
    """(offset, tag) of every marker packet in a packet-aligned capture."""
    found = []
    for off, pid in packets(data):
        if pid == MARKER_PID:
            body = data[off + 4 : off + PACKET]
            if body.startswith(MARKER_MAGIC):
                tag = body[len(MARKER_MAGIC) :].partition(b";")[0]
                found.append((off, tag.decode()))
    return found


def tags(data: bytes) -> list[str]:
    """The marker tags of a capture in order, each run collapsed to one."""
    runs: list[str] = []
    for _, tag in markers(data):
        if not runs or runs[-1] != tag:
            runs.append(tag)
    return runs


def ffprobe_streams(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            "ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"ffprobe {path}: {result.stderr.decode()}")
    streams: list[dict[str, Any]] = json.loads(result.stdout).get("streams", [])
    return streams


# What ffmpeg says when a stream's clock jumps, as it does where a failover
# splices two sources (signalled with the discontinuity_indicator, which
# ffmpeg's demuxer does not read): not a decoding problem.
_CLOCK_JUMP = re.compile(
    r"DTS \d+ < \d+ out of order|Non-monotonous DTS|timestamp discontinuity"
)


def ffprobe_continuity_errors(path: Path) -> list[str]:
    """ffprobe's own continuity-counter complaints about a capture (its TS
    demuxer reports them at debug level only), reading every packet."""
    result = subprocess.run(
        ["ffprobe", "-v", "debug", "-show_entries", "packet=pts", "-of", "csv",
         str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"ffprobe cannot read {path}")
    lines = result.stderr.decode("utf-8", "replace").splitlines()
    return [line for line in lines if "Continuity check failed" in line]


def decode_problems(path: Path) -> list[str]:
    """What ``ffmpeg -v warning`` says while decoding the whole file,
    except for the clock jumps of a splice."""
    result = subprocess.run(
        ["ffmpeg", "-v", "warning", "-nostdin", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"ffmpeg cannot decode {path}: {result.stderr.decode()}")
    lines = result.stderr.decode("utf-8", "replace").splitlines()
    return [line for line in lines if not _CLOCK_JUMP.search(line)]


# ---------------------------------------------------------------------------
# Viewers


class HttpViewer:
    """A player on a raw socket: ``GET path HTTP/1.0``, then the body read
    (or not) in a thread, with the times of arrival noted."""

    def __init__(
        self, port: int, path: str, rcvbuf: int | None = None, timeout: float = 10
    ) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(
            f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii")
        )
        self.status: int | None = None
        self.body = bytearray()
        self.arrivals: list[tuple[float, int]] = []  # (monotonic, body bytes)
        self.ended: str | None = None  # "eof", "reset: ...", or None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read_headers(self, timeout: float = 10) -> int:
        self.sock.settimeout(timeout)
        head = b""
        while b"\r\n\r\n" not in head:
            more = self.sock.recv(4096)
            if not more:
                raise AssertionError(f"closed before the headers: {head!r}")
            head += more
        head, _, rest = head.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        if rest:
            self._took(rest)
        return self.status

    def _took(self, data: bytes) -> None:
        self.body += data
        self.arrivals.append((time.monotonic(), len(self.body)))

    def read_until(self, size: int, timeout: float) -> bytes:
        """Read the body until it holds ``size`` bytes; fail after ``timeout``."""
        if self.status is None:
            self.read_headers(timeout)
        deadline = time.monotonic() + timeout
        while len(self.body) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"only {len(self.body)} of {size} bytes")
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError(f"EOF after {len(self.body)} bytes")
            self._took(data)
        return bytes(self.body)

    def read_for(self, seconds: float) -> None:
        """Start reading in a thread for at most ``seconds``; see ``join``."""
        deadline = time.monotonic() + seconds

        def run() -> None:
            try:
                if self.status is None:
                    self.read_headers()
                while not self._stop.is_set() and time.monotonic() < deadline:
                    self.sock.settimeout(0.5)
                    try:
                        data = self.sock.recv(65536)
                    except TimeoutError:
                        continue
                    if not data:
                        self.ended = "eof"
                        return
                    self._took(data)
            except OSError as e:
                self.ended = f"reset: {e}"

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self, timeout: float = 30) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise AssertionError("the viewer thread did not end")

    def drain(self, timeout: float) -> str | None:
        """Read whatever comes for up to ``timeout``; how the stream ended
        ("eof" or "reset: ..."), or None if it was still open then."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
                try:
                    data = self.sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return "eof"
                self._took(data)
        except OSError as e:
            return f"reset: {e}"
        return None

    def bytes_between(self, start: float, end: float) -> int:
        """Body bytes that arrived in the monotonic time span [start, end]."""
        before = max((n for t, n in self.arrivals if t < start), default=0)
        upto = max((n for t, n in self.arrivals if t <= end), default=0)
        return upto - before

    def offset_at(self, moment: float) -> int:
        """How much of the body had arrived at ``moment``, in whole packets."""
        got = max((n for t, n in self.arrivals if t <= moment), default=0)
        return got - got % PACKET

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.sock.close()


# ---------------------------------------------------------------------------
# Provisioning and processes


def write_toml(path: Path, document: dict[str, Any]) -> Path:
    import tomli_w  # xrelay depends on it; only the parent process needs it

    path.write_text(tomli_w.dumps(document))
    return path


def write_config(path: Path, data_dir: Path, **sections: dict[str, Any]) -> Path:
    """An xrelay TOML config: ``server.data_dir`` and the given sections,
    e.g. ``failover={"stall_timeout": 1.0}, live={"linger": 1.0}``."""
    return write_toml(path, {"server": {"data_dir": str(data_dir)}, **sections})


def provision(
    data_dir: Path,
    channels: list[dict[str, Any]],
    users: list[dict[str, Any]],
    cli: list[str],
) -> None:
    """Make the store hold exactly these channels and users, with one
    ``xrelay apply`` (the admin CLI); a user row may give ``password``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    document = write_toml(
        data_dir.parent / "catalog.toml",
        {"version": 1, "channels": channels, "users": users},
    )
    result = subprocess.run(
        [*cli, "--data-dir", str(data_dir), "apply", str(document)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"xrelay apply failed: {(result.stdout + result.stderr).decode()}"
        )


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of ``pid`` (zombies excluded): pid -> name."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = name
    return found


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(predicate: Any, timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something true; fail after
    ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def kill_if_alive(pid: int) -> None:
    """Cleanup for a process the daemon should have ended: SIGKILL by PID."""
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        _main(sys.argv[1:])
