"""Who is asking, and may they: the one login path of every player URL."""

from __future__ import annotations

from typing import cast

import attrs
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet.interfaces import IReactorTime
from twisted.web.server import Request

from xrelay.cred.checkers import Line
from xrelay.cred.limits import ConnectionTracker
from xrelay.cred.passwords import check_credential_charset
from xrelay.cred.rules import line_verdict
from xrelay.interfaces import ILine
from xrelay.models import User


@attrs.frozen
class Refusal:
    """Why a request was refused.

    ``status`` is the HTTP status for stream and playlist URLs: 401 wrong or
    missing credentials, 403 a line that may not be used (expired, disabled,
    banned address or player, format), 429 throttled.  When the credentials
    were right, ``user`` is the line and ``account_status`` what
    ``player_api.php`` reports (auth 1 with that status, as real panels do).
    """

    status: int
    reason: str
    user: User | None = None
    account_status: str = ""


class LineAuthenticator:
    def __init__(
        self, portal: Portal, tracker: ConnectionTracker, clock: IReactorTime
    ) -> None:
        self._portal = portal
        self._tracker = tracker
        self._clock = clock

    async def login(
        self,
        request: Request,
        username: str,
        password: str,
        output_format: str | None = None,
    ) -> Line | Refusal:
        """The line, if these credentials are right and it may be used now
        from this client (address, User-Agent) for ``output_format``."""
        if not all(map(check_credential_charset, (username, password))):
            return Refusal(401, "invalid credentials")
        try:
            _, avatar, _ = await self._portal.login(
                UsernamePassword(username.encode(), password.encode()), None, ILine
            )
        except UnauthorizedLogin:
            return Refusal(401, "invalid credentials")
        line = cast(Line, avatar)
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

    def active_connections(self, username: str) -> int:
        """Streams the line has open now (``user_info.active_cons``)."""
        return self._tracker.active(username)


def client_ip(request: Request) -> str:
    return str(getattr(request.getClientAddress(), "host", ""))
