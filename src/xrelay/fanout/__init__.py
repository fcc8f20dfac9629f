"""The hub: running channels fanned out to viewers with backpressure."""

from xrelay.fanout._batch import Batch
from xrelay.fanout._hub import ChannelHub, HubSettings
from xrelay.fanout._registry import ChannelRegistry
from xrelay.fanout._supervisor import ChannelSupervisor
from xrelay.fanout._viewer import BodyTransport, Viewer

__all__ = [
    "Batch",
    "BodyTransport",
    "ChannelHub",
    "ChannelRegistry",
    "ChannelSupervisor",
    "HubSettings",
    "Viewer",
]
