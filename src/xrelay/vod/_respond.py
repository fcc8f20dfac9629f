"""The status and headers of a file response: ranges, validators, HEAD."""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime
from twisted.web import http
from twisted.web.server import Request

from xrelay.vod._body import FileBody, SendfileBody, sendfile_transport
from xrelay.vod._files import OpenFile
from xrelay.vod._ranges import ByteRange, Unsatisfiable, parse_range
from xrelay.web._responses import is_gone, send_text


def choose_range(request: Request, file: OpenFile) -> ByteRange | Unsatisfiable | None:
    """What the request asks of ``file``: a range (206), an unsatisfiable
    one (416) or the whole file (None: 200).  An ``If-Range`` that does not
    match the file as it is now turns a range request into a whole one."""
    if_range = request.getHeader("if-range")
    if if_range is not None and not _still(if_range, file):
        return None
    return parse_range(request.getHeader("range"), file.size)


def _still(validator: str, file: OpenFile) -> bool:
    validator = validator.strip()
    if validator.startswith('"'):
        return validator == file.etag  # strong comparison (weak tags never match)
    try:
        since: int = http.stringToDatetime(validator.encode("latin-1"))
    except (ValueError, UnicodeEncodeError):
        return False
    return since == int(file.mtime)


def not_modified(request: Request, file: OpenFile) -> bool:
    """A conditional GET the client's copy of ``file`` satisfies (304);
    ``If-None-Match`` decides when present (RFC 9110 §13.2.2)."""
    tags = request.getHeader("if-none-match")
    if tags is not None:
        listed = {t.strip().removeprefix("W/") for t in tags.split(",")}
        return "*" in listed or file.etag in listed
    since = request.getHeader("if-modified-since")
    if since is None:
        return False
    try:
        when: int = http.stringToDatetime(since.encode("latin-1"))
    except (ValueError, UnicodeEncodeError):
        return False
    return int(file.mtime) <= when


def send_unsatisfiable(request: Request, file: OpenFile) -> None:
    request.setHeader(b"content-range", Unsatisfiable().content_range(file.size))
    request.setHeader(b"accept-ranges", b"bytes")
    send_text(request, 416, "range not satisfiable")


def start_body(
    request: Request,
    file: OpenFile,
    chosen: ByteRange | None,
    content_type: str,
    clock: IReactorTime,
    use_sendfile: bool,
) -> FileBody | None:
    """Set the headers and start sending ``chosen`` of ``file`` (None:
    all of it).  A HEAD request gets the headers only (and None)."""
    if is_gone(request):  # left while we were looking things up
        file.close()
        return None
    request.setHeader(b"content-type", content_type.encode("ascii"))
    request.setHeader(b"accept-ranges", b"bytes")
    request.setHeader(b"etag", file.etag.encode("ascii"))
    request.setHeader(b"last-modified", http.datetimeToString(int(file.mtime)))
    offset, length = (0, file.size) if chosen is None else (chosen.start, chosen.length)
    if chosen is not None:
        request.setResponseCode(http.PARTIAL_CONTENT)
        request.setHeader(b"content-range", chosen.content_range(file.size))
    request.setHeader(b"content-length", str(length).encode("ascii"))
    if request.method == b"HEAD" or length == 0:
        file.close()
        request.finish()
        return None
    request.write(b"")  # the headers go out first
    transport = sendfile_transport(request) if use_sendfile else None
    body = (
        FileBody(request, file, offset, length, clock)
        if transport is None
        else SendfileBody(request, file, offset, length, clock, transport)
    )
    body.start()
    return body
