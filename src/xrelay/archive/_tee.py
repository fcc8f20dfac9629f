"""A channel's source whose packets also reach the channel's recorder."""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from zope.interface import implementer

from xrelay.archive._recorder import Recorder
from xrelay.interfaces import IChannelSource, IPacketSink

# The channel's recorder now (None: not recorded); asked per write, so a
# channel starts or stops being recorded without restarting its source.
RecorderLookup = Callable[[int], Recorder | None]


@implementer(IChannelSource)
class RecordedSource:
    """Wraps the source a channel's hub runs: the hub gets every packet
    first, then the recorder, on the same call (the recorder only gathers:
    see ``Recorder``).  An interrupted source is a gap in the recording."""

    def __init__(
        self, source: IChannelSource, channel_id: int, recorder: RecorderLookup
    ) -> None:
        self._source = source
        self._channel_id = channel_id
        self._recorder = recorder

    def start(self, sink: IPacketSink) -> None:
        self._source.start(_Tee(sink, self._channel_id, self._recorder))

    def stop(self) -> Deferred[None]:
        recorder = self._recorder(self._channel_id)
        if recorder is not None:
            recorder.gap()
        return self._source.stop()

    def health(self) -> object:
        """The wrapped source's health, for the hub's status."""
        health = getattr(self._source, "health", None)
        return health() if callable(health) else {}


@implementer(IPacketSink)
class _Tee:
    def __init__(
        self, sink: IPacketSink, channel_id: int, recorder: RecorderLookup
    ) -> None:
        self._sink = sink
        self._channel_id = channel_id
        self._recorder = recorder

    def write_packets(self, data: bytes) -> None:
        self._sink.write_packets(data)
        recorder = self._recorder(self._channel_id)
        if recorder is not None:
            recorder.write_packets(data)

    def source_switched(self) -> None:
        """Failover moved to another source (see IPacketSink): its PAT/PMT
        may differ, so its recording starts a segment of its own."""
        self._gap()
        switched = getattr(self._sink, "source_switched", None)
        if switched is not None:
            switched()

    def source_ended(self, reason: str) -> None:
        self._gap()
        self._sink.source_ended(reason)

    def _gap(self) -> None:
        recorder = self._recorder(self._channel_id)
        if recorder is not None:
            recorder.gap()
