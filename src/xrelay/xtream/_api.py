"""``player_api.php``, ``panel_api.php`` and ``get.php``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from xrelay.interfaces import IGuide
from xrelay.web._auth import LineAuthenticator, Refusal
from xrelay.web._responses import send_text
from xrelay.xtream._actions import ACTIONS, epg_actions
from xrelay.xtream._address import ServerAddress
from xrelay.xtream._cache import CatalogCache
from xrelay.xtream._fields import with_origin
from xrelay.xtream._http import (
    ChunkWriter,
    read_params,
    send_json,
    send_refusal,
)
from xrelay.xtream._login import FAILED_LOGIN, Account, server_info, user_info
from xrelay.xtream._playlist import OUTPUTS, TYPES, playlist_chunks
from xrelay.xtream._view import CatalogView, dump

Handler = Callable[[Request], Coroutine[Any, Any, None]]


class XtreamApi:
    """The Xtream Codes client API; the router calls one method per path."""

    log = Logger()

    def __init__(
        self,
        auth: LineAuthenticator,
        catalog: CatalogCache,
        address: ServerAddress,
        clock: IReactorTime,
        guide: IGuide | None = None,
    ) -> None:
        self._auth = auth
        self._catalog = catalog
        self._address = address
        self._clock = clock
        self._actions = ACTIONS if guide is None else {**ACTIONS, **epg_actions(guide)}

    def player_api(self, request: Request) -> int:
        return self._start(self._player_api, request)

    def panel_api(self, request: Request) -> int:
        return self._start(self._panel_api, request)

    def playlist(self, request: Request) -> int:
        return self._start(self._playlist, request)

    def _start(self, handler: Handler, request: Request) -> int:
        d = Deferred.fromCoroutine(handler(request))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _failed(self, failure: Failure, request: Request) -> None:
        self.log.failure("serving the Xtream API", failure)
        send_text(request, 500, "internal error")

    async def _account(
        self, request: Request, params: dict[str, str]
    ) -> Account | None:
        """The line if its credentials are right (usable or not).  Otherwise
        None, once the refusal is answered: ``auth`` 0 for wrong, missing or
        throttled credentials; 503 when lines cannot be checked now (an
        ``auth`` 0 would make players drop a valid account)."""
        username, password = params.get("username", ""), params.get("password", "")
        outcome = await self._auth.login(request, username, password)
        if not isinstance(outcome, Refusal):
            return Account(outcome.user, "Active", username, password)
        if outcome.user is not None:
            status = outcome.account_status or "Disabled"
            return Account(outcome.user, status, username, password)
        if outcome.status == 503:
            send_refusal(request, outcome.status, outcome.reason)
        else:
            send_json(request, FAILED_LOGIN)
        return None

    async def _login(self, request: Request, account: Account) -> bytes:
        active = await self._auth.active_connections(account.user.username)
        origin = self._address.origin(request)
        return dump(
            {
                "user_info": user_info(account, active),
                "server_info": server_info(origin, self._clock.seconds()),
            }
        )

    async def _player_api(self, request: Request) -> None:
        params = read_params(request)
        account = await self._account(request, params)
        if account is None:
            return
        action = self._actions.get(params.get("action", ""))
        if action is None:  # none, unknown, get_account_info, ...: log in
            send_json(request, await self._login(request, account))
        elif not account.usable:
            send_json(request, action.empty)
        else:
            view = await self._catalog.view()
            visible = view.visibility(account.user.bouquet_ids)
            body = action.answer(view, visible, params)
            if isinstance(body, Deferred):  # the guide's answers
                body = await body
            if view.local_art:
                body = with_origin(body, self._address.origin(request).base)
            send_json(request, body)

    async def _panel_api(self, request: Request) -> None:
        params = read_params(request)
        account = await self._account(request, params)
        if account is None:
            return
        login = (await self._login(request, account))[:-1]  # the object, still open
        if account.usable:
            view = await self._catalog.view()
            send_json(request, login + b"," + _panel_catalog(view, account) + b"}")
        else:
            send_json(request, login + b"," + _EMPTY_PANEL_CATALOG + b"}")

    async def _playlist(self, request: Request) -> None:
        params = read_params(request)
        kind = params.get("type") or "m3u_plus"
        live_format = OUTPUTS.get(params.get("output") or "ts")
        if kind not in TYPES or live_format is None:
            send_refusal(request, 400, "unsupported type or output")
            return
        username, password = params.get("username", ""), params.get("password", "")
        outcome = await self._auth.login(request, username, password, live_format)
        if isinstance(outcome, Refusal):
            send_refusal(request, outcome.status, outcome.reason)
            return
        view = await self._catalog.view()
        visible = view.visibility(outcome.user.bouquet_ids)
        chunks = playlist_chunks(
            view.playlist,
            None if visible is None else visible.ids,
            self._address.origin(request).base,
            username,
            password,
            plus=kind == "m3u_plus",
            live_format=live_format,
        )
        if view.local_art:
            base = self._address.origin(request).base
            chunks = (with_origin(chunk, base) for chunk in chunks)
        request.setHeader(
            b"content-disposition",
            f'attachment; filename="tv_channels_{username}.m3u"'.encode(),
        )
        ChunkWriter(request, chunks, self._clock, b"audio/x-mpegurl").start()


def _panel_catalog(view: CatalogView, account: Account) -> bytes:
    """``categories`` and ``available_channels`` (the live ones, keyed by
    stream id) of the legacy ``panel_api.php`` dump (§4.10)."""
    visible = view.visibility(account.user.bouquet_ids)
    channels = b",".join(
        [b'"%d":%s' % (item.id, item.json) for item in view.items("live", visible)]
    )
    return (
        b'"categories":{"live":%s,"movie":%s,"series":%s},'
        b'"available_channels":{%s}'
        % (
            view.categories_json("live", visible),
            view.categories_json("vod", visible),
            view.categories_json("series", visible),
            channels,
        )
    )


_EMPTY_PANEL_CATALOG = (
    b'"categories":{"live":[],"movie":[],"series":[]},"available_channels":{}'
)
