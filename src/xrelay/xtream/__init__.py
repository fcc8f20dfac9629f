"""The Xtream Codes client API: ``player_api.php``, ``panel_api.php`` and
``get.php``, served from an in-memory, pre-encoded view of the catalog.

The field-by-field reference is the shared ``xtream-api.md``.
"""

from xrelay.xtream._address import Origin, ServerAddress
from xrelay.xtream._api import XtreamApi
from xrelay.xtream._cache import CatalogCache, file_stamp, in_threads, run_inline
from xrelay.xtream._http import (
    gzip_compressor,
    open_stream,
    read_params,
    send_refusal,
    wants_gzip,
)
from xrelay.xtream._login import NEVER_EXPIRES
from xrelay.xtream._view import CatalogView

__all__ = [
    "NEVER_EXPIRES",
    "CatalogCache",
    "CatalogView",
    "Origin",
    "ServerAddress",
    "XtreamApi",
    "file_stamp",
    "gzip_compressor",
    "in_threads",
    "open_stream",
    "read_params",
    "run_inline",
    "send_refusal",
    "wants_gzip",
]
