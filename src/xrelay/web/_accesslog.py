"""Access log lines with the credentials taken out.

Xtream URLs carry the username and password in the path
(``/live/U/P/1.ts``, ``/U/P/1``) or the query (``password=``), and
twisted.web's default formatter would write them to the log.
"""

from __future__ import annotations

import re

from twisted.web import http
from twisted.web.iweb import IAccessLogFormatter
from twisted.web.server import Request
from zope.interface import provider

_CRED_PATH = re.compile(
    rb"^(/(?:live|movie|series|timeshift)/[^/?]*/)[^/?]*(/)"  # /kind/U/P/
    rb"|^(/[^/?]*/)[^/?]*(/\d+(?:\.\w+)?(?:\?|$))"  # legacy /U/P/ID
    rb"|^(/hls/)[^/?]*(/)"  # an HLS session's token
)
_CRED_QUERY = re.compile(rb"([?&](?:password|p)=)[^&]*")


def redact_uri(uri: bytes) -> bytes:
    def keep_frame(m: re.Match[bytes]) -> bytes:
        head = m.group(1) or m.group(3) or m.group(5)
        tail = m.group(2) or m.group(4) or m.group(6)
        return head + b"***" + tail

    return _CRED_QUERY.sub(rb"\1***", _CRED_PATH.sub(keep_frame, uri, count=1))


class _Redacted:
    """Proxy a request, showing the formatter a credential-free URI."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self.uri = redact_uri(request.uri)

    def __getattr__(self, name: str) -> object:
        return getattr(self._request, name)


@provider(IAccessLogFormatter)
def redacted_log_formatter(timestamp: str, request: Request) -> str:
    return str(http.combinedLogFormatter(timestamp, _Redacted(request)))
