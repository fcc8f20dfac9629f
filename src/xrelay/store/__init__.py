"""The catalog and users in SQLite.

``SqliteStore`` is the daemon's asynchronous ``IStore`` (adbapi) and
``StoreService`` its lifecycle; ``open_sync`` gives the admin CLI the same
operations synchronously.  Both run the one layer of SQL in ``_sql``.
``CachedStore`` keeps the per-request lookups in memory for a moment.
"""

from xrelay.store._async import SqliteStore, StoreService
from xrelay.store._cached import CachedStore
from xrelay.store._errors import StoreError
from xrelay.store._sync import CatalogDB, open_sync

__all__ = [
    "CachedStore",
    "CatalogDB",
    "SqliteStore",
    "StoreError",
    "StoreService",
    "open_sync",
]
