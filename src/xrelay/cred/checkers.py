"""twisted.cred pieces for player logins: the store checker and the realm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm
from twisted.internet.defer import Deferred
from zope.interface import Interface, implementer

from xrelay.cred.passwords import hash_password
from xrelay.interfaces import ILine, IStore
from xrelay.models import User

# (password, stored hash) -> Deferred[bool]; scrypt is slow on purpose, so
# production runs it in the reactor's thread pool (see tap.py).
Verifier = Callable[[str, str], "Deferred[bool]"]

# Unknown users are checked against this so they cost what a known one does.
_DECOY_HASH = hash_password("xrelay-decoy-password")


@implementer(ICredentialsChecker)
class StoreChecker:
    """Checks usernames and passwords against the store's lines."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, store: IStore, verify: Verifier) -> None:
        self._store = store
        self._verify = verify

    def requestAvatarId(self, credentials: Any) -> Deferred[bytes | tuple[()]]:
        return Deferred.fromCoroutine(self._check(credentials))

    async def _check(self, credentials: Any) -> bytes | tuple[()]:
        username = _text(credentials.username)
        password = _text(credentials.password)
        user = await self._store.get_user(username)
        stored = user.password_hash if user is not None else _DECOY_HASH
        if not await self._verify(password, stored) or user is None:
            raise UnauthorizedLogin("invalid credentials")
        return username.encode("utf-8")


@implementer(ILine)
@attrs.frozen
class Line:
    user: User


@implementer(IRealm)
class LineRealm:
    """Turns a proven username into its ``ILine`` avatar."""

    def __init__(self, store: IStore) -> None:
        self._store = store

    def requestAvatar(
        self, avatarId: bytes | tuple[()], mind: object, *interfaces: Any
    ) -> Deferred[tuple[type[Interface], object, Callable[[], None]]]:
        if ILine not in interfaces:
            raise NotImplementedError("xrelay only offers ILine avatars")
        if not isinstance(avatarId, bytes):
            raise UnauthorizedLogin("anonymous logins are not offered")
        return Deferred.fromCoroutine(self._avatar(avatarId))

    async def _avatar(
        self, avatarId: bytes
    ) -> tuple[type[Interface], object, Callable[[], None]]:
        user = await self._store.get_user(avatarId.decode("utf-8"))
        if user is None:  # deleted between check and lookup
            raise UnauthorizedLogin("invalid credentials")
        return ILine, Line(user), lambda: None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
