"""The login answer of ``player_api.php`` (§3): ``user_info`` and
``server_info``, and the failed-login body."""

from __future__ import annotations

import attrs

from xrelay.models import User
from xrelay.xtream._address import Origin
from xrelay.xtream._fields import JsonObject, wall

FAILED_LOGIN = b'{"user_info":{"auth":0}}'
"""Wrong or missing credentials (and throttled logins): HTTP 200 with
``auth`` 0, as real panels answer; identical for every cause."""

NEVER_EXPIRES = 2_145_830_400
"""``exp_date`` of lines without an expiry: 2037-12-31 00:00 UTC.  Players
need a numeric string (null crashes some, TiviMate rejects it), and this
date is still inside a 32-bit ``time_t``, which Enigma2 boxes use to
format it."""


@attrs.frozen
class Account:
    """A line whose credentials were right.  ``status`` is "Active" when it
    may be used now; otherwise "Expired", "Disabled" or "Banned", and
    ``player_api.php`` still logs it in (auth 1) so the player can say why,
    but shows it nothing."""

    user: User
    status: str
    username: str  # as the client sent them: players build URLs from these
    password: str

    @property
    def usable(self) -> bool:
        return self.status == "Active"


def user_info(account: Account, active_connections: int) -> JsonObject:
    user = account.user
    expires = user.expires_at if user.expires_at is not None else NEVER_EXPIRES
    return {
        "username": account.username,
        "password": account.password,
        "message": "",
        "auth": 1,
        "status": account.status,
        "exp_date": str(expires),
        "is_trial": "1" if user.is_trial else "0",
        "active_cons": str(active_connections),
        "created_at": str(user.created_at),
        "max_connections": str(user.max_connections),
        "allowed_output_formats": list(user.allowed_output_formats),
    }


def server_info(origin: Origin, now: float) -> JsonObject:
    return {
        "url": origin.host,
        "port": str(origin.http_port),
        "https_port": str(origin.https_port),
        "server_protocol": origin.scheme,
        "rtmp_port": "0",  # no RTMP; digits, as the Go client decodes it
        "timezone": "UTC",
        "timestamp_now": int(now),
        "time_now": wall(now),
        "process": True,
    }
