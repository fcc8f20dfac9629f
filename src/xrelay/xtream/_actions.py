"""The catalogue actions of ``player_api.php`` (§4), by name.

Each has the answer for a line that may browse, built from the view, and
the "empty" answer (same shape, nothing in it) for a line that may not.
Actions not listed here answer with the login payload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
from twisted.internet.defer import Deferred

from xrelay.interfaces import IGuide
from xrelay.xtream._fields import EMPTY_EPG, EMPTY_SERIES_INFO, EMPTY_VOD_INFO
from xrelay.xtream._view import CatalogView, Visibility, dump

Params = Mapping[str, str]


@attrs.frozen
class Action:
    answer: Callable[[CatalogView, Visibility | None, Params], bytes | Deferred[bytes]]
    empty: bytes


def _categories(kind: str) -> Action:
    return Action(lambda view, visible, _: view.categories_json(kind, visible), b"[]")


def _streams(kind: str) -> Action:
    return Action(
        lambda view, visible, params: view.streams_json(
            kind, visible, params.get("category_id")
        ),
        b"[]",
    )


# Without a guide: the right shape, always empty (§4.7, §4.8).
_NO_EPG = Action(lambda *_: dump(EMPTY_EPG), dump(EMPTY_EPG))


def epg_actions(guide: IGuide) -> dict[str, Action]:
    """``get_short_epg`` and ``get_simple_data_table`` from ``guide``, for
    channels the line sees (others get the empty answer)."""

    def channel(visible: Visibility | None, params: Params) -> int | None:
        text = params.get("stream_id", "")
        if not (text.isascii() and text.isdigit()):
            return None
        channel_id = int(text)
        if visible is not None and channel_id not in visible.ids["live"]:
            return None
        return channel_id

    def short_epg(
        _: CatalogView, visible: Visibility | None, params: Params
    ) -> bytes | Deferred[bytes]:
        channel_id = channel(visible, params)
        if channel_id is None:
            return dump(EMPTY_EPG)
        limit = params.get("limit", "")
        count = min(int(limit), 1000) if limit.isascii() and limit.isdigit() else 0
        return guide.short_epg(channel_id, count or 4)  # 4: the usual default

    def data_table(
        _: CatalogView, visible: Visibility | None, params: Params
    ) -> bytes | Deferred[bytes]:
        channel_id = channel(visible, params)
        return dump(EMPTY_EPG) if channel_id is None else guide.data_table(channel_id)

    return {
        "get_short_epg": Action(short_epg, dump(EMPTY_EPG)),
        "get_simple_data_table": Action(data_table, dump(EMPTY_EPG)),
    }


ACTIONS: Mapping[str, Action] = {
    "get_live_categories": _categories("live"),
    "get_vod_categories": _categories("vod"),
    "get_series_categories": _categories("series"),
    "get_live_streams": _streams("live"),
    "get_vod_streams": _streams("vod"),
    "get_series": _streams("series"),
    "get_vod_info": Action(
        lambda view, visible, params: dump(
            view.vod_info(params.get("vod_id", ""), visible)
        ),
        dump(EMPTY_VOD_INFO),
    ),
    "get_series_info": Action(
        lambda view, visible, params: dump(
            view.series_info(params.get("series_id", ""), visible)
        ),
        dump(EMPTY_SERIES_INFO),
    ),
    "get_short_epg": _NO_EPG,
    "get_simple_data_table": _NO_EPG,
}
