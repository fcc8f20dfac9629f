"""The hub: running channels fanned out to viewers with backpressure."""

from xrelay.fanout._hub import ChannelHub, HubSettings
from xrelay.fanout._registry import ChannelRegistry
from xrelay.fanout._viewer import Viewer

__all__ = ["ChannelHub", "ChannelRegistry", "HubSettings", "Viewer"]
