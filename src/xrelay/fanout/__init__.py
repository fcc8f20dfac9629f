"""The hub: running channels fanned out to viewers with backpressure."""

from xrelay.fanout._batch import Batch
from xrelay.fanout._hub import BatchTap, ChannelHub, HubSettings
from xrelay.fanout._registry import ChannelRegistry
from xrelay.fanout._supervisor import ChannelSupervisor
from xrelay.fanout._viewer import BodyTransport, Viewer

__all__ = [
    "Batch",
    "BatchTap",
    "BodyTransport",
    "ChannelHub",
    "ChannelRegistry",
    "ChannelSupervisor",
    "HubSettings",
    "Viewer",
]
