"""twisted.web resources: the player-facing HTTP surface."""

from xrelay.web._accesslog import redact_uri, redacted_log_formatter
from xrelay.web._admin import AdminApi
from xrelay.web._auth import LineAuthenticator, Refusal
from xrelay.web._live import LiveStreams
from xrelay.web._proxy import request_factory
from xrelay.web._root import XRelayRoot
from xrelay.web._timeshift import Timeshift

__all__ = [
    "AdminApi",
    "LineAuthenticator",
    "LiveStreams",
    "Refusal",
    "Timeshift",
    "XRelayRoot",
    "redact_uri",
    "redacted_log_formatter",
    "request_factory",
]
