"""Source URLs as logs, reasons and status pages may show them.

IPTV upstreams carry credentials in the userinfo, the query and often the
path (``/live/USER/PASS/1.ts``), so a URL is shown as scheme and host only.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# scheme://[userinfo@]host[/path][?query][#fragment], inside free text
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:)]", re.I)


def display_url(url: str) -> str:
    """``url`` fit for logs and status pages.

    http(s) and other pull URLs show only scheme and host (IPTV upstreams
    carry credentials in the userinfo, the query and often the path);
    ``udp``/``rtp``/``tcp`` URLs, which carry none, show whole but for a
    password; ``file:`` and ``transcode:`` URLs as they are; an ``exec:``
    command with the URLs in it shown this way.
    """
    if url.startswith("exec:"):
        return redact(url)
    parts = urlsplit(url)
    if parts.scheme in ("file", "transcode"):  # no credentials in these
        return url
    if parts.scheme in ("udp", "rtp", "tcp"):  # there "SRC@" is a source address
        if parts.password is None:
            return url
        return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
    host = parts.netloc.rpartition("@")[2]
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{rest}"


def redact(text: str) -> str:
    """``text`` (a reason, an ffmpeg stderr line) with every URL in it
    replaced by its ``display_url``."""
    return _URL.sub(lambda m: display_url(m.group(0)), text)
