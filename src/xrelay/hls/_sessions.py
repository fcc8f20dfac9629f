"""HLS sessions: what a player's token stands for, and how long."""

from __future__ import annotations

import secrets

import attrs
from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from xrelay.cred.limits import IConnectionTracker, Slot
from xrelay.fanout import ChannelRegistry
from xrelay.hls._feed import LiveFeed
from xrelay.hls._settings import HlsSettings
from xrelay.models import Channel, User

# (username, channel id, variant, client): a player's session, continued
# when it reloads the channel URL.
_PlayerKey = tuple[str, int, str | None, str]
_FeedKey = tuple[int, str | None]


@attrs.define(eq=False)
class HlsSession:
    """One player watching one channel over HLS.

    The token (random, not derived from the password) is the only
    credential of the playlist and segment URLs; it works from the
    address that opened the session only.
    """

    token: str
    username: str
    channel_id: int
    variant: str | None  # a transcoding profile, or None: the channel as is
    client: str  # address and User-Agent: who may continue the session
    address: str
    feed: LiveFeed
    last_seen: float
    slot: Slot | None = None


class HlsSessions(Service):
    """Opens, finds and expires HLS sessions.

    A session holds one connection slot of its line (kind "hls") from its
    first playlist request until ``session_timeout`` seconds pass without
    a request, or until another stream takes the slot over.  The sessions
    of a channel share one ``LiveFeed``, tapped into the channel's hub
    while any session uses it; the hub then lingers and stops as it does
    when its last viewer leaves.
    """

    log = Logger()

    def __init__(
        self,
        registry: ChannelRegistry,
        tracker: IConnectionTracker,
        clock: IReactorTime,
        settings: HlsSettings,
    ) -> None:
        self._registry = registry
        self._tracker = tracker
        self._clock = clock
        self.settings = settings
        self._by_token: dict[str, HlsSession] = {}
        self._by_player: dict[_PlayerKey, HlsSession] = {}
        self._feeds: dict[_FeedKey, LiveFeed] = {}  # the live (not ended) ones
        self._users: dict[LiveFeed, set[HlsSession]] = {}
        self._sweep = LoopingCall(self._expire)
        self._sweep.clock = clock

    def startService(self) -> None:
        super().startService()
        self._sweep.start(min(1.0, self.settings.session_timeout / 4), now=False)

    def stopService(self) -> None:
        super().stopService()
        if self._sweep.running:
            self._sweep.stop()
        for session in list(self._by_token.values()):
            self._close(session, "shutting down")

    async def open(
        self,
        user: User,
        channel: Channel,
        variant: str | None,
        client: str,
        address: str,
    ) -> HlsSession | None:
        """The player's session on ``channel`` (or its ``variant``): the one
        it has (a player reloading the channel URL continues it) or a new
        one; None when the line has no connection slot left."""
        key = (user.username, channel.id, variant, client)
        session = self._by_player.get(key)
        if session is not None:
            if self._usable(session):
                session.last_seen = self._clock.seconds()
                return session
            self._close(session, "replaced")
        opened: list[HlsSession] = []

        def kick() -> None:
            if opened:
                self._close(opened[0], "its connection slot was taken back")

        slot = await self._tracker.acquire(
            user.username, user.max_connections, "hls", str(channel.id), client, kick
        )
        if slot is None:
            return None
        session = self._by_player.get(key)
        if session is not None and self._usable(session):  # opened meanwhile
            slot.release()
            return session
        try:
            feed = self._feed(channel, variant)
        except Exception:
            slot.release()
            raise
        session = HlsSession(
            secrets.token_urlsafe(16),
            user.username,
            channel.id,
            variant,
            client,
            address,
            feed,
            self._clock.seconds(),
            slot,
        )
        opened.append(session)
        self._by_token[session.token] = session
        self._by_player[key] = session
        self._users[feed].add(session)
        self.log.info(
            "HLS session of {user} on channel {channel} opened",
            user=user.username,
            channel=channel.id,
        )
        return session

    def find(self, token: str, address: str) -> HlsSession | None:
        """The session a playlist or segment URL names, if it is still
        open and asked from its own address; counts as activity."""
        session = self._by_token.get(token)
        if session is None or session.address != address:
            return None
        now = self._clock.seconds()
        if now - session.last_seen > self.settings.session_timeout:
            self._close(session, "inactive")
            return None
        session.last_seen = now
        return session

    def stats(self) -> list[dict[str, object]]:
        """Per channel with sessions: its feed's window and session count."""
        return [
            {**feed.stats(), "sessions": len(sessions)}
            for feed, sessions in sorted(
                self._users.items(),
                key=lambda item: (item[0].channel_id, item[0].variant or ""),
            )
        ]

    def _usable(self, session: HlsSession) -> bool:
        idle = self._clock.seconds() - session.last_seen
        return idle <= self.settings.session_timeout and not session.feed.ended

    def _feed(self, channel: Channel, variant: str | None) -> LiveFeed:
        feed = self._feeds.get((channel.id, variant))
        if feed is None:
            feed = LiveFeed(channel.id, variant, self.settings, self._retire)
            feed.hub = self._registry.tap(channel, feed, variant)
            self._feeds[channel.id, variant] = feed
            self._users[feed] = set()
            if not feed.hub.running:  # its source failed at once
                feed.hub_stopped()
        return feed

    def _retire(self, feed: LiveFeed) -> None:
        """New sessions of the channel get a new feed from now on: this one
        ended (its sessions keep the final playlist until they expire) or
        lost its last session."""
        key = (feed.channel_id, feed.variant)
        if self._feeds.get(key) is feed:
            del self._feeds[key]

    def _expire(self) -> None:
        deadline = self._clock.seconds() - self.settings.session_timeout
        for session in [s for s in self._by_token.values() if s.last_seen < deadline]:
            self._close(session, "inactive")

    def _close(self, session: HlsSession, reason: str) -> None:
        if self._by_token.pop(session.token, None) is None:
            return
        key = (session.username, session.channel_id, session.variant, session.client)
        if self._by_player.get(key) is session:
            del self._by_player[key]
        if session.slot is not None:
            session.slot.release()
        feed = session.feed
        users = self._users[feed]
        users.discard(session)
        if not users:
            del self._users[feed]
            self._retire(feed)
            if feed.hub is not None:
                self._registry.untap(feed.hub, feed)
        self.log.info(
            "HLS session of {user} on channel {channel} ended: {reason}",
            user=session.username,
            channel=session.channel_id,
            reason=reason,
        )
