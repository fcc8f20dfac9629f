"""Small helpers for ending a twisted.web request safely."""

from __future__ import annotations

from twisted.web.server import Request


def is_gone(request: Request) -> bool:
    """True once the client disconnected or the response was finished."""
    return bool(getattr(request, "_disconnected", False) or request.finished)


def send_text(request: Request, code: int, text: str) -> None:
    """Answer with a short text/plain body (no-op if the client left)."""
    if is_gone(request):
        return
    body = text.encode("utf-8") + b"\n"
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"content-length", str(len(body)).encode("ascii"))
    request.setHeader(b"cache-control", b"no-store")
    request.write(body)
    request.finish()
