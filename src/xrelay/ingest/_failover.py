"""Failover across a channel's ordered sources, with a "no signal" slate.

``FailoverSource`` is itself an ``IChannelSource``: the registry wraps a
channel's source list in one, and the hub sees a single stream whose origin
changes beneath it.  Viewers stay connected through every switch.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Sequence

import attrs
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from xrelay.ingest._redact import display_url
from xrelay.ingest._slate import SlateSource, default_slate_path
from xrelay.interfaces import IChannelSource, IPacketSink
from xrelay.mpegts import (
    PACKET_SIZE,
    PsiTracker,
    continuity_counter,
    has_payload,
    is_random_access,
    payload_unit_start,
    pcr,
    pid,
    set_discontinuity_indicator,
)

_MAX_HELD = 4 * 1024 * 1024  # a video frame bigger than this is not held back
_PID_HIGH = bytes(b & 0x1F for b in range(256))  # drops TEI, PUSI, priority
_PUSI_PID_HIGH = bytes(b & 0x5F for b in range(256))  # drops TEI, priority


@attrs.frozen
class FailoverSettings:
    """How a channel moves between its sources; times in seconds.

    A source has failed when it ends or sends nothing for ``stall_timeout``
    (this also bounds how long a starting source may take to send its first
    packet).  On failure the channel moves to the next source of its list.
    While on a backup, the sources before it are tried again every
    ``recheck_interval``, one at a time in order; one that has delivered for
    ``recover_after`` takes over at its next keyframe.  A source allowed to
    take over that shows no keyframe within ``keyframe_wait`` takes over
    anyway.  When every source has failed, viewers get the slate at once and
    the list is walked again every ``retry_interval``; a source that comes
    back takes over at its first keyframe.  After ``slate_timeout`` of that
    (0: at once, without a slate) the channel ends.
    """

    stall_timeout: float = 3.0
    recheck_interval: float = 30.0
    recover_after: float = 5.0
    keyframe_wait: float = 10.0
    retry_interval: float = 5.0
    slate_timeout: float = 60.0
    slate_path: str = attrs.field(factory=default_slate_path)


@implementer(IPacketSink)
@attrs.define(eq=False)
class _Feed:
    """A started source, and what the failover has seen of it."""

    owner: FailoverSource
    index: int  # in the URL list; the slate's is one past its end
    source: IChannelSource
    last_packet_at: float  # or when it was started
    delivering_since: float | None = None
    eligible_at: float | None = None  # since when it may take over
    psi: PsiTracker = attrs.Factory(PsiTracker)
    held: list[bytes] = attrs.Factory(list)  # the video frame still arriving
    held_bytes: int = 0

    def write_packets(self, data: bytes) -> None:
        self.owner._packets(self, data)

    def source_ended(self, reason: str) -> None:
        self.owner._failed(self, reason)

    def whole_frames(self, data: bytes) -> bytes:
        """What may go out of what was held back and ``data``: everything
        before the last video frame start.  The frame still arriving waits
        for the next one, so when this source is cut (a stall, a switch)
        the output ends on a frame boundary: a player never decodes half a
        frame glued to the next source's keyframe.  It costs one frame of
        delay.  Audio is not waited for: decoders skip a short audio frame.
        """
        video = self.psi.video_pid
        if video is None:
            return data
        cut = _last_frame_start(data, video)
        if cut is None:
            if self.held_bytes + len(data) <= _MAX_HELD:
                self.held.append(data)
                self.held_bytes += len(data)
                return b""
            cut = len(data)  # a frame that big: let it through
        self.held.append(data[:cut])
        out = b"".join(self.held)
        rest = data[cut:]
        self.held, self.held_bytes = ([rest], len(rest)) if rest else ([], 0)
        return out


@implementer(IChannelSource)
class FailoverSource:
    """Plays the first working source of ``urls``, in order of preference,
    and the slate when none works (see ``FailoverSettings``).

    Only the source playing (and at most one candidate being tried) runs,
    plus failed passive sources (listeners, see IChannelSource): those stay
    on standby, and one that receives again becomes the candidate if it
    ranks above what plays.
    A switch happens at the new source's video keyframe, led by its PAT and
    PMT (a stream without video switches at once); continuity counters stay
    continuous per PID and the discontinuity is signalled (see _Splicer).

    For health pages (all in ``health()``): ``state`` ("starting", "live"
    on the first source, "failover" on a backup or between sources, "slate"
    while every source is down, "down" once ended or stopped),
    ``active_url``, ``switches`` and ``last_errors`` (one per URL, None
    until it fails).
    """

    log = Logger()

    def __init__(
        self,
        urls: Sequence[str],
        make_one: Callable[[str], IChannelSource],
        clock: IReactorTime,
        settings: FailoverSettings | None = None,
        label: str = "channel",
    ) -> None:
        if not urls:
            raise ValueError("a channel needs at least one source")
        self.urls = tuple(urls)
        self._make_one = make_one
        self._clock = clock
        self.settings = settings or FailoverSettings()
        self.label = label
        self.switches = 0
        self.last_errors: list[str | None] = [None] * len(self.urls)
        self._sink: IPacketSink | None = None
        self._active: _Feed | None = None
        self._candidate: _Feed | None = None
        self._standby: dict[int, _Feed] = {}  # failed passive sources, by index
        self._splicer = _Splicer()
        self._next_round_at: float | None = None  # when to walk the list again
        self._down_since: float | None = None  # every source down since then
        self._done = False
        self._stopping: set[Deferred[None]] = set()
        self._ticker = LoopingCall(self._tick)
        self._ticker.clock = clock

    @property
    def state(self) -> str:
        if self._done:
            return "down"
        if self._down_since is not None:
            return "slate"
        if self._active is None:
            return "failover" if self._splicer.started else "starting"
        return "live" if self._active.index == 0 else "failover"

    @property
    def active_url(self) -> str | None:
        if self._active is None:
            return None
        if self._active.index == len(self.urls):
            return "slate"
        return display_url(self.urls[self._active.index])

    def health(self) -> dict[str, object]:
        """What the hub's stats show of where the stream comes from,
        including the playing source's own ``health()`` if it has one."""
        playing = self._active.source if self._active is not None else None
        inner = getattr(playing, "health", None)
        return {
            "state": self.state,
            "active": self.active_url,
            "switches": self.switches,
            "sources": [
                {"url": display_url(url), "last_error": error}
                for url, error in zip(self.urls, self.last_errors, strict=True)
            ],
            "active_health": inner() if callable(inner) else {},
        }

    # IChannelSource
    def start(self, sink: IPacketSink) -> None:
        self._sink = sink
        interval = min(self.settings.stall_timeout / 4, 1.0)
        self._ticker.start(interval, now=False).addErrback(
            lambda f: self.log.failure("{label}: failover check", f, label=self.label)
        )
        self._try(0)

    def stop(self) -> Deferred[None]:
        self._shut_down()
        return DeferredList(list(self._stopping)).addCallback(lambda _: None)

    # Events from the feeds
    def _packets(self, feed: _Feed, data: bytes) -> None:
        assert self._sink is not None
        now = self._clock.seconds()
        feed.last_packet_at = now
        if feed is self._active:
            out = feed.whole_frames(data)
            if out:
                self._sink.write_packets(self._splicer.feed(out))
        elif feed is self._candidate:
            self._candidate_packets(feed, data, now)
        elif self._standby.get(feed.index) is feed and self._outranks(feed.index):
            self._promote(feed, now)
            self._candidate_packets(feed, data, now)
        # else: a stopped source's last words, or a standby one that ranks lower

    def _outranks(self, index: int) -> bool:
        """Whether source ``index`` beats what plays and what is tried."""
        best = min(
            (f.index for f in (self._active, self._candidate) if f is not None),
            default=len(self.urls) + 1,
        )
        return index < best

    def _promote(self, feed: _Feed, now: float) -> None:
        """A standby source becomes the candidate (ousting a worse one)."""
        del self._standby[feed.index]
        if self._candidate is not None:
            self._stop_feed(self._candidate)
        self._candidate = feed
        feed.last_packet_at = now
        feed.delivering_since = feed.eligible_at = None
        feed.psi = PsiTracker()
        feed.held, feed.held_bytes = [], 0

    def _failed(self, feed: _Feed, reason: str) -> None:
        if feed is self._active:
            self._active = None
        elif feed is self._candidate:
            self._candidate = None
        elif self._standby.get(feed.index) is feed:  # it cannot even listen
            del self._standby[feed.index]
            self._stop_feed(feed)
            self._note_failure(feed.index, reason)
            return
        else:
            return
        if getattr(feed.source, "passive", False) and not self._done:
            self._standby[feed.index] = feed  # keeps listening
        else:
            self._stop_feed(feed)
        self._note_failure(feed.index, reason)
        if self._candidate is None:
            self._try(feed.index + 1)

    def _note_failure(self, index: int, reason: str) -> None:
        self.log.warn(
            "{label}: source {index} ({url}) failed: {reason}",
            label=self.label,
            index=index,
            url=self._display(index),
            reason=reason,
        )
        if index < len(self.urls):
            self.last_errors[index] = reason

    def _tick(self) -> None:
        try:
            self._check()
        except Exception:
            self.log.failure("{label}: failover check", label=self.label)

    def _check(self) -> None:
        now = self._clock.seconds()
        for feed in (self._active, self._candidate):
            if (
                feed is not None
                and now - feed.last_packet_at > self.settings.stall_timeout
            ):
                self._failed(feed, f"no packets for {self.settings.stall_timeout:g} s")
        if self._done:
            return
        down = self._down_since
        if down is not None and now - down >= self.settings.slate_timeout:
            self._end(f"every source down for {self.settings.slate_timeout:g} s")
        elif (
            self._candidate is None
            and self._next_round_at is not None
            and now >= self._next_round_at
        ):
            self._next_round_at = None
            self._try(0)

    # Moving between sources
    def _try(self, index: int) -> None:
        """Start source ``index`` as the candidate if it is worth trying
        (a better one than what plays), or end this walk of the list."""
        count = len(self.urls)
        active = self._active
        if index < (count if active is None else active.index):
            self._start(index)
            return
        if active is None:
            if self._down_since is None:
                self._down_since = self._clock.seconds()
                self.log.warn("{label}: every source is down", label=self.label)
            if self.settings.slate_timeout <= 0:
                self._end("every source is down")
                return
            if index == count:
                self._start(count)  # the slate
                return
        self._schedule_round()

    def _schedule_round(self) -> None:
        """Walk the list again later: from a backup to check whether a
        better source is back, or because every source is down."""
        active = self._active
        on_backup = active is not None and active.index < len(self.urls)
        interval = (
            self.settings.recheck_interval
            if on_backup
            else self.settings.retry_interval
        )
        self._next_round_at = self._clock.seconds() + interval

    def _start(self, index: int) -> None:
        standby = self._standby.get(index)
        if standby is not None:  # still running: try it again as it is
            self._promote(standby, self._clock.seconds())
            return
        try:
            if index == len(self.urls):
                source: IChannelSource = SlateSource(
                    self.settings.slate_path, self._clock
                )
            else:
                source = self._make_one(self.urls[index])
        except Exception as e:
            self._note_failure(index, f"cannot make the source: {e}")
            self._try(index + 1)
            return
        feed = _Feed(self, index, source, self._clock.seconds())
        self._candidate = feed
        source.start(feed)  # may fail at once, calling _failed

    def _candidate_packets(self, feed: _Feed, data: bytes, now: float) -> None:
        if feed.delivering_since is None:
            feed.delivering_since = now
        if feed.eligible_at is None:
            active = self._active
            if (
                active is not None
                and active.index < len(self.urls)
                and now - feed.delivering_since < self.settings.recover_after
            ):
                feed.psi.feed(data)
                return
            feed.eligible_at = now
        if now - feed.eligible_at >= self.settings.keyframe_wait:
            start: int | None = 0  # better a late picture than none
        else:
            start = _switch_point(feed.psi, data)
        if start is not None:
            self._switch(feed, feed.psi.psi_packets + data[start:])

    def _switch(self, feed: _Feed, first: bytes) -> None:
        assert self._sink is not None
        old, self._active, self._candidate = self._active, feed, None
        if old is not None:
            self._stop_feed(old)
        if self._splicer.started:
            self.switches += 1
        if feed.index < len(self.urls):
            self._down_since = None
        self._next_round_at = None
        if feed.index > 0:
            self._schedule_round()
        self.log.info(
            "{label}: playing source {index} ({url})",
            label=self.label,
            index=feed.index,
            url=self._display(feed.index),
        )
        self._splicer.next_source(feed.psi.pcr_pid)
        switched = getattr(self._sink, "source_switched", None)
        if switched is not None:
            switched()
        out = feed.whole_frames(first)
        if out:
            self._sink.write_packets(self._splicer.feed(out))

    def _end(self, reason: str) -> None:
        self._shut_down()
        assert self._sink is not None
        self._sink.source_ended(reason)

    def _shut_down(self) -> None:
        self._done = True
        if self._ticker.running:
            self._ticker.stop()
        for feed in (self._active, self._candidate, *self._standby.values()):
            if feed is not None:
                self._stop_feed(feed)
        self._active = self._candidate = None
        self._standby.clear()

    def _stop_feed(self, feed: _Feed) -> None:
        d = feed.source.stop()
        self._stopping.add(d)

        def done(result: Failure | None) -> None:
            self._stopping.discard(d)
            if isinstance(result, Failure):
                self.log.failure(
                    "{label}: stopping source {index}",
                    result,
                    label=self.label,
                    index=feed.index,
                )

        d.addBoth(done)

    def _display(self, index: int) -> str:
        return "slate" if index == len(self.urls) else display_url(self.urls[index])


def _switch_point(psi: PsiTracker, data: bytes) -> int | None:
    """Where in ``data`` a player can start: the first video keyframe once
    the PAT and PMT are known, or for a stream without video the first
    packet then.  The packets before it are fed to ``psi``."""
    view = memoryview(data)
    for off in range(0, len(data), PACKET_SIZE):
        if psi.pcr_pid is not None:  # the first program's PMT is known
            video = psi.video_pid
            if video is None or (
                pid(data, off) == video
                and payload_unit_start(data, off)
                and is_random_access(data, off, psi.video_stream_type or 0)
            ):
                return off
        psi.feed(view[off : off + PACKET_SIZE])
    return None


def _last_frame_start(data: bytes, video_pid: int) -> int | None:
    """Offset of the last packet of ``data`` starting a PES on
    ``video_pid``, found in C: each packet's PUSI and PID bytes side by
    side, searched for the two bytes wanted."""
    keys = bytearray(2 * (len(data) // PACKET_SIZE))
    keys[0::2] = data[1::PACKET_SIZE].translate(_PUSI_PID_HIGH)
    keys[1::2] = data[2::PACKET_SIZE]
    wanted = bytes([0x40 | video_pid >> 8, video_pid & 0xFF])
    i = keys.rfind(wanted)
    while i % 2:  # straddles two packets; -1 is odd too
        if i < 0:
            return None
        i = keys.rfind(wanted, 0, i + 1)
    return i // 2 * PACKET_SIZE


def _pids(data: bytes) -> array[int]:
    """Every packet's PID, computed in C: the masked high bytes interleaved
    with the low bytes make big-endian 16-bit values."""
    pair = bytearray(2 * (len(data) // PACKET_SIZE))
    pair[0::2] = data[1::PACKET_SIZE].translate(_PID_HIGH)
    pair[1::2] = data[2::PACKET_SIZE]
    pids = array("H", pair)
    if sys.byteorder == "little":
        pids.byteswap()
    return pids


class _Splicer:
    """Joins the packets of successive sources into one stream.

    Continuity counters: each source's counters on a PID are shifted by an
    offset fixed at its first packet there, so the output carries on from
    the last counter sent on that PID (before any switch the offset is 0).
    Shifting keeps the source's own counter pattern: a packet it lost or
    repeated shows downstream as such, like with any relay.

    After a switch, the discontinuity_indicator is set on the first packet
    of each PID that has an adaptation field to carry it, and on the PCR
    PID's first PCR packet: the time base changes there.

    Batches that only hold PIDs with offset 0 and nothing left to flag (all
    of them until the first switch) pass through untouched, without
    per-packet Python work.
    """

    def __init__(self) -> None:
        self._last: dict[int, int] = {}  # pid -> header byte 3 last sent on it
        self._shift: dict[int, int] = {}  # pid -> counter offset, current source
        self._plain: set[int] = set()  # PIDs whose packets pass unchanged
        self._owed: dict[int, int] = {}  # the PCR PID's offset, while its flag is due
        self._pcr_pid: int | None = None  # owed a flag on its first PCR packet
        self._flagging = False  # whether this source follows another
        self.started = False  # whether anything went out yet

    def next_source(self, pcr_pid: int | None) -> None:
        self._shift, self._plain, self._owed = {}, set(), {}
        self._flagging = self.started
        self._pcr_pid = pcr_pid if self.started else None

    def feed(self, data: bytes) -> bytes:
        if not data:
            return data
        self.started = True
        pids = _pids(data)
        if self._plain.issuperset(pids):
            self._last.update(zip(pids, data[3::PACKET_SIZE], strict=True))
            return data
        out = bytearray(data)
        heads = bytearray(data[3::PACKET_SIZE])
        shift = self._shift
        for i, packet_pid in enumerate(pids):
            offset = shift.get(packet_pid)
            if offset is None:
                offset = self._settle(out, i * PACKET_SIZE, packet_pid)
            head = heads[i]
            heads[i] = (head & 0xF0) | ((head + offset) & 0x0F)
        out[3::PACKET_SIZE] = heads
        self._last.update(zip(pids, heads, strict=True))
        return bytes(out)

    def _settle(self, out: bytearray, off: int, packet_pid: int) -> int:
        """Fix the counter offset of a PID at its first packet since the
        switch, and flag the discontinuity; returns the offset."""
        offset = self._owed.pop(packet_pid, None)
        if offset is None:
            offset = self._offset(out, off, packet_pid)
            if self._flagging:
                set_discontinuity_indicator(out, off)
        if packet_pid == self._pcr_pid:
            if pcr(out, off) is None:
                self._owed[packet_pid] = offset
                return offset
            set_discontinuity_indicator(out, off)
            self._pcr_pid = None
        self._shift[packet_pid] = offset
        if offset == 0:
            self._plain.add(packet_pid)
        return offset

    def _offset(self, out: bytearray, off: int, packet_pid: int) -> int:
        last = self._last.get(packet_pid)
        if last is None:
            return 0
        # A packet without payload repeats the last counter; others step it.
        wanted = last + 1 if has_payload(out, off) else last
        return (wanted - continuity_counter(out, off)) & 0x0F
