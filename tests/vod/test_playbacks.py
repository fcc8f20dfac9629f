"""Concurrent range requests of one player share one connection slot."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from xrelay.cred.limits import ConnectionTracker
from xrelay.vod._playbacks import Playbacks


class PlaybackTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.tracker = ConnectionTracker(self.clock)
        self.playbacks = Playbacks(self.tracker)
        self.kicked: list[DummyRequest] = []

    def take(self, request: DummyRequest, client: str, item: str = "7") -> bool:
        d = self.playbacks.take(
            request, "ann", 1, "movie", item, client, self.kicked.append
        )
        return bool(self.successResultOf(Deferred.fromCoroutine(d)))

    def active(self) -> int:
        return int(self.successResultOf(self.tracker.active("ann")))

    def test_one_players_requests_share_a_slot(self) -> None:
        playing, index = DummyRequest([b""]), DummyRequest([b""])
        self.assertTrue(self.take(playing, "10.0.0.1 TV"))
        self.assertTrue(self.take(index, "10.0.0.1 TV"))  # reads the moov atom
        self.assertEqual((self.active(), self.kicked), (1, []))
        self.assertFalse(self.take(DummyRequest([b""]), "10.0.0.2 Phone"))
        index.finish()
        self.assertEqual(self.active(), 1)
        playing.finish()
        self.assertEqual(self.active(), 0)

    def test_another_item_is_another_stream(self) -> None:
        first = DummyRequest([b""])
        self.assertTrue(self.take(first, "10.0.0.1 TV"))
        # The same player opening another movie replaces its old one.
        self.assertTrue(self.take(DummyRequest([b""]), "10.0.0.1 TV", item="8"))
        self.assertEqual(self.kicked, [first])
        self.assertEqual(self.active(), 1)

    def test_a_kick_ends_every_shared_request(self) -> None:
        a, b = DummyRequest([b""]), DummyRequest([b""])
        self.take(a, "10.0.0.1 TV")
        self.take(b, "10.0.0.1 TV")
        self.take(DummyRequest([b""]), "10.0.0.1 TV", item="8")
        self.assertEqual(set(self.kicked), {a, b})

    def test_a_client_gone_while_waiting_holds_nothing(self) -> None:
        request = DummyRequest([b""])
        request.finish()
        self.assertFalse(self.take(request, "10.0.0.1 TV"))
        self.assertEqual(self.active(), 0)
