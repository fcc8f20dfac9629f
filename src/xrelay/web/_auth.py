"""Who is asking, and may they: the one login path of every player URL."""

from __future__ import annotations

from typing import cast

import attrs
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.server import Request

from xrelay.cred.checkers import Line
from xrelay.cred.limits import IConnectionTracker
from xrelay.cred.lines import LinesUnavailable
from xrelay.cred.passwords import check_credential_charset
from xrelay.cred.rules import line_verdict
from xrelay.cred.throttle import Attempt, MemoryFailures, Throttle
from xrelay.interfaces import ILine
from xrelay.models import User


@attrs.frozen
class Refusal:
    """Why a request was refused.

    ``status`` is the HTTP status for stream and playlist URLs: 401 wrong or
    missing credentials, 403 a line that may not be used (expired, disabled,
    banned address or player, format), 429 throttled (too many failed
    logins), 503 lines unavailable for now.  When the credentials were
    right, ``user`` is the line and ``account_status`` what
    ``player_api.php`` reports (auth 1 with that status, as real panels do).
    """

    status: int
    reason: str
    user: User | None = None
    account_status: str = ""


class LineAuthenticator:
    def __init__(
        self,
        portal: Portal,
        tracker: IConnectionTracker,
        clock: IReactorTime,
        throttle: Throttle | None = None,
    ) -> None:
        self._portal = portal
        self._tracker = tracker
        self._clock = clock
        self._throttle = throttle or Throttle(MemoryFailures(clock), clock)

    async def login(
        self,
        request: Request,
        username: str,
        password: str,
        output_format: str | None = None,
    ) -> Line | Refusal:
        """The line, if these credentials are right and it may be used now
        from this client (address, User-Agent) for ``output_format``.
        Failed logins are throttled (429) before any password is checked."""
        valid = check_credential_charset(username) and check_credential_charset(
            password
        )
        attempt = await self._throttle.attempt(
            client_ip(request), username if valid else "", password
        )
        if not isinstance(attempt, Attempt):
            return Refusal(429, "too many failed logins, try again later")
        try:
            line = await self._check(username, password) if valid else None
            if line is None:
                await attempt.failed()
                return Refusal(401, "invalid credentials")
            attempt.succeeded()  # not waited for; its own errors are logged
        except LinesUnavailable:
            return Refusal(503, "logins are unavailable, try again shortly")
        finally:
            attempt.abandon()  # outcome unknown (an error): counts nothing
        verdict = line_verdict(
            line.user,
            self._clock.seconds(),
            client_ip(request),
            (request.getHeader("user-agent") or ""),
            output_format,
        )
        if verdict is not None:
            return Refusal(403, verdict.reason, line.user, verdict.status)
        return line

    async def _check(self, username: str, password: str) -> Line | None:
        try:
            _, avatar, _ = await self._portal.login(
                UsernamePassword(username.encode(), password.encode()), None, ILine
            )
        except UnauthorizedLogin:
            return None
        return cast(Line, avatar)

    def active_connections(self, username: str) -> Deferred[int]:
        """Streams the line has open now (``user_info.active_cons``), across
        the cluster when limits are kept in Redis."""
        return self._tracker.active(username)


def client_ip(request: Request) -> str:
    return str(getattr(request.getClientAddress(), "host", ""))


def client_id(request: Request) -> str:
    """A player, for connection limits: its address and User-Agent."""
    return f"{client_ip(request)} {request.getHeader('user-agent') or ''}"
