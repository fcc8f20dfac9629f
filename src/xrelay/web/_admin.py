"""``/admin/...``: the operator's HTTP API, behind a bearer token.

Today it has ``GET /admin/status`` (this node, every running channel and
its viewers); the control panel builds on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.cred.checkers import Verifier
from xrelay.web._responses import send_text


class AdminApi:
    log = Logger()

    def __init__(
        self,
        token_hash: str,
        verify: Verifier,
        status: Callable[[], dict[str, object]],
    ) -> None:
        self._token_hash = token_hash
        self._verify = verify
        self._status = status

    def render(self, request: Request, path: list[str]) -> int:
        if not self._token_hash:
            send_text(request, 404, "not found")  # the admin API is off
            return NOT_DONE_YET
        d = Deferred.fromCoroutine(self._serve(request, path))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    async def _serve(self, request: Request, path: list[str]) -> None:
        scheme, _, token = (request.getHeader("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not await self._verify(
            token.strip(), self._token_hash
        ):
            request.setHeader(b"www-authenticate", b'Bearer realm="xrelay admin"')
            send_text(request, 401, "admin token required")
            return
        if path != ["status"] or request.method != b"GET":
            send_text(request, 404, "not found")
            return
        body = json.dumps(self._status(), indent=1).encode("utf-8")
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.write(body)
        request.finish()

    def _failed(self, failure: Failure, request: Request) -> None:
        self.log.failure("serving the admin API", failure)
        send_text(request, 500, "internal error")
