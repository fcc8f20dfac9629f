"""Interfaces shared across xrelay's subpackages.

Every interface here has an in-memory implementation in ``xrelay.testing``
that passes the same contract tests as the real one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from xrelay.models import Bouquet, Catalog, Category, Channel, User


class IStore(Interface):
    """The catalog and users, asynchronously (the daemon's view).

    ``put_*`` inserts (id 0 = assign the next id) or replaces by id and fires
    with the stored record.  ``delete_*`` fires with True if something was
    deleted.  Lookups fire with None when nothing matches.  Integrity
    problems (duplicate username, unknown category, ...) fail with
    ``xrelay.store.StoreError`` naming the field.
    """

    def start() -> Deferred[None]:
        """Open the database and apply pending migrations."""

    def close() -> Deferred[None]:
        """Flush and close; fires when done."""

    def get_user(username: str) -> Deferred[User | None]: ...

    def list_users() -> Deferred[list[User]]: ...

    def put_user(user: User) -> Deferred[User]: ...

    def delete_user(username: str) -> Deferred[bool]: ...

    def get_channel(channel_id: int) -> Deferred[Channel | None]: ...

    def list_channels() -> Deferred[list[Channel]]: ...

    def put_channel(channel: Channel) -> Deferred[Channel]: ...

    def delete_channel(channel_id: int) -> Deferred[bool]: ...

    def list_categories(kind: str | None = None) -> Deferred[list[Category]]: ...

    def put_category(category: Category) -> Deferred[Category]: ...

    def delete_category(category_id: int) -> Deferred[bool]: ...

    def list_bouquets() -> Deferred[list[Bouquet]]: ...

    def put_bouquet(bouquet: Bouquet) -> Deferred[Bouquet]: ...

    def delete_bouquet(bouquet_id: int) -> Deferred[bool]: ...

    def read_catalog() -> Deferred[Catalog]:
        """Everything, as one consistent snapshot."""

    def replace_catalog(
        catalog: Catalog, expected: Catalog | None = None
    ) -> Deferred[None]:
        """Make the store hold exactly ``catalog``, atomically; with
        ``expected``, fail with StoreError unless the store still holds
        exactly ``expected`` (a compare-and-swap for read-change-write)."""


class IPacketSink(Interface):
    """Takes MPEG-TS from a source: what a channel hub offers its sources."""

    def write_packets(data: bytes) -> None:
        """Whole 188-byte packets (len(data) is a multiple of 188)."""

    # Optional: ``source_switched()``, called by failover just before the
    # first packets of another source (led by its PAT/PMT and a keyframe).

    def source_ended(reason: str) -> None:
        """The source stopped delivering (EOF, error, dead upstream)."""


class IChannelSource(Interface):
    """A producer of MPEG-TS for one channel, configured by URL.

    A source that waits to be sent to (a listening socket) may set a true
    class attribute ``passive``: failover then leaves it running while
    others play, so a sender finds it open whenever it comes back.
    """

    def start(sink: IPacketSink) -> None:
        """Begin delivering packets to ``sink``."""

    def stop() -> Deferred[None]:
        """Stop delivering; fires once every resource (file, socket,
        child process) is released."""


class ILine(Interface):
    """The avatar of an authenticated viewer: a subscriber line."""

    # The line's stored record (xrelay.models.User).
    user = Attribute("the xrelay.models.User this login proved")


class IGuide(Interface):
    """The programme guide as the Xtream API serves it (xtream-api.md §4.7,
    §4.8): each answer is the encoded JSON object ``{"epg_listings": [...]}``,
    empty for a channel without a guide."""

    def short_epg(channel_id: int, limit: int) -> Deferred[bytes]:
        """``get_short_epg``: the programme on now and the next ones, at
        most ``limit``."""

    def data_table(channel_id: int) -> Deferred[bytes]:
        """``get_simple_data_table``: the channel's whole guide window,
        past programmes included."""
