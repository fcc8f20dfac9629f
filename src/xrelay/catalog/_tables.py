"""The catalog's tables: their names, record classes, keys and labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from xrelay.models import (
    Bouquet,
    Category,
    Channel,
    EpgSource,
    Episode,
    Movie,
    Season,
    Series,
    User,
)


@attrs.frozen
class Table:
    name: str  # the Catalog field, and the document's array of tables
    entity: str  # what one row is called in messages
    record: type[Any]
    key: Callable[[Any], Any] = attrs.field(default=lambda r: r.id)
    label: Callable[[Any], str] = attrs.field(default=lambda r: f'{r.id} "{r.name}"')


# In the order they are written and compared; a table comes after the tables
# it refers to.
TABLES = (
    Table("categories", "category", Category),
    Table("channels", "channel", Channel),
    Table("movies", "movie", Movie),
    Table("series", "series", Series),
    Table(
        "seasons",
        "season",
        Season,
        key=lambda r: (r.series_id, r.number),
        label=lambda r: f"{r.series_id}/{r.number}",
    ),
    Table("episodes", "episode", Episode, label=lambda r: f'{r.id} "{r.title}"'),
    Table("bouquets", "bouquet", Bouquet),
    Table("users", "user", User, label=lambda r: r.username),
    Table("epg_sources", "epg_source", EpgSource),
)
