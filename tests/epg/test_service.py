"""The guide loop on a Clock: schedule, conditional refresh, backoff, and
one bad source never stopping the others."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from tests.epg._samples import NOW, guide, hourly
from xrelay.epg import EpgService, EpgSettings, Guide, InlineDatabase, _sql
from xrelay.models import Channel, EpgSource
from xrelay.testing import MemoryStore

Reply = Callable[[Request], Any]


class Origins(Resource):
    """One web server for every source: ``/NAME`` answers with the next of
    ``replies[NAME]`` (the last one repeats) and counts its requests."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.replies: dict[str, list[Reply]] = {}
        self.requests: dict[str, list[Request]] = {}

    def render_GET(self, request: Request) -> Any:
        name = request.path.decode().strip("/")
        self.requests.setdefault(name, []).append(request)
        replies = self.replies[name]
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        return reply(request)


def ok(data: bytes, etag: str = '"1"') -> Reply:
    def reply(request: Request) -> bytes:
        if request.getHeader("if-none-match") == etag:
            request.setResponseCode(304)
            return b""
        request.setHeader("etag", etag)
        return data

    return reply


def status(code: int) -> Reply:
    def reply(request: Request) -> bytes:
        request.setResponseCode(code)
        return b"nope"

    return reply


def silent(request: Request) -> int:
    return NOT_DONE_YET


GUIDE_A = guide(*hourly("a.uk", NOW - 3600, 48, "A"), channels=(("a.uk", "Alpha"),))
GUIDE_B = guide(*hourly("b.uk", NOW - 3600, 48, "B"), channels=(("b.uk", "Beta"),))


class ServiceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = MemoryStore()
        self.origins = Origins()
        self.http = StubTreq(self.origins)
        self.db = InlineDatabase(":memory:")
        self.guide = Guide(self.db, self.clock)
        self.settings = EpgSettings(
            spool_dir=str(Path(self.mktemp()).resolve()),
            refresh_seconds=43200,
            timeout=30,
            retry_seconds=60,
            retry_max_seconds=600,
        )
        self.service = EpgService(
            self.store,
            self.db,
            self.guide,
            lambda: self.http,
            self.clock,
            self.settings,
            tick=10,
        )
        self.set_catalog(
            channels=(
                Channel(1, 1, "Alpha", epg_id="a.uk"),
                Channel(2, 2, "Beta HD", epg_id=""),
            ),
            epg_sources=(EpgSource(1, "A", "http://guides/a"),),
        )

    def set_catalog(self, **changes: Any) -> None:
        catalog = self.successResultOf(self.store.read_catalog())
        self.successResultOf(
            self.store.replace_catalog(attrs.evolve(catalog, **changes))
        )

    def start(self) -> None:
        self.service.startService()
        self.addCleanup(self.stop)
        self.pump()

    def stop(self) -> None:
        if self.service.running:
            self.successResultOf(self.service.stopService())

    def pump(self, seconds: float = 0) -> None:
        """Let ``seconds`` pass, a tick at a time, serving every request."""
        self.http.flush()
        target = self.clock.seconds() + seconds
        while self.clock.seconds() < target:
            self.clock.advance(min(10, target - self.clock.seconds()))
            self.http.flush()

    def titles(self, channel_id: int) -> list[str]:
        body = json.loads(self.successResultOf(self.guide.short_epg(channel_id, 2)))
        from base64 import b64decode

        return [b64decode(e["title"]).decode() for e in body["epg_listings"]]

    def state(self, source_id: int = 1) -> _sql.SourceState:
        return self.db.run(_sql.get_states)[source_id]

    def hits(self, name: str = "a") -> int:
        return len(self.origins.requests.get(name, []))

    def test_fetched_at_start_then_conditionally_every_period(self) -> None:
        self.origins.replies["a"] = [ok(GUIDE_A)]
        self.start()
        self.assertEqual(self.hits(), 1)
        self.assertEqual(self.titles(1), ["A 1", "A 2"])
        self.assertEqual(self.state().next_at, NOW + 43200)
        self.pump(43190)
        self.assertEqual(self.hits(), 1)
        self.pump(10)
        self.assertEqual(self.hits(), 2)
        self.assertEqual(
            self.origins.requests["a"][1].getHeader("if-none-match"), '"1"'
        )
        self.assertEqual(self.state().ok_at, NOW + 43200)
        self.assertEqual(self.state().imported_at, NOW)  # 304: nothing re-imported
        self.assertEqual(self.titles(1), ["A 13", "A 14"])  # half a day on

    def test_a_failing_source_keeps_its_guide_and_backs_off(self) -> None:
        self.origins.replies["a"] = [ok(GUIDE_A), status(500)]
        self.start()
        with capturedLogs() as events:
            self.pump(43200)
        self.assertEqual(self.hits(), 2)
        state = self.state()
        self.assertEqual(state.error, "http://guides/…: HTTP 500 Internal Server Error")
        self.assertEqual((state.failures, state.next_at), (1, NOW + 43200 + 60))
        warnings = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertIn("keeping its last guide", warnings[0]["log_format"])
        self.assertEqual(self.titles(1), ["A 13", "A 14"])  # still served
        for delay, failures in ((60, 2), (120, 3), (240, 4), (480, 5), (600, 6)):
            self.pump(delay - 10)
            self.assertEqual(self.state().failures, failures - 1)
            self.pump(10)
            self.assertEqual(self.state().failures, failures)
        self.origins.replies["a"] = [ok(GUIDE_A, etag='"2"')]
        self.pump(600)
        self.assertEqual((self.state().failures, self.state().error), (0, ""))

    def test_an_unanswered_request_times_out_and_is_retried(self) -> None:
        self.origins.replies["a"] = [silent, ok(GUIDE_A)]
        self.start()
        self.pump(30)
        self.assertIn("no answer in 30 s", self.state().error)
        self.pump(60)
        self.assertEqual(self.hits(), 2)
        self.assertEqual(self.state().error, "")
        self.assertEqual(self.titles(1), ["A 1", "A 2"])

    def test_one_bad_source_never_stops_the_others(self) -> None:
        self.set_catalog(
            epg_sources=(
                EpgSource(1, "A", "http://guides/a"),
                EpgSource(2, "Broken", "http://guides/broken"),
                EpgSource(3, "B", "http://guides/b"),
            )
        )
        self.origins.replies["a"] = [ok(GUIDE_A)]
        self.origins.replies["broken"] = [ok(b"<tv><programme")]
        self.origins.replies["b"] = [ok(GUIDE_B)]
        self.start()
        self.pump(10)
        self.assertIn("line 1", self.state(2).error)
        self.assertEqual(self.titles(1), ["A 1", "A 2"])
        self.assertEqual(self.titles(2), ["B 1", "B 2"])  # matched by name
        self.pump(60)
        self.assertEqual(self.hits("broken"), 2)  # the loop goes on

    def test_catalog_changes_are_followed(self) -> None:
        self.origins.replies["a"] = [ok(GUIDE_A)]
        self.origins.replies["b"] = [ok(GUIDE_B)]
        self.start()
        self.assertEqual(self.titles(2), [])
        self.set_catalog(
            epg_sources=(
                EpgSource(1, "A", "http://guides/a"),
                EpgSource(2, "B", "http://guides/b"),
            )
        )
        self.pump(10)
        self.assertEqual(self.titles(2), ["B 1", "B 2"])
        self.set_catalog(epg_sources=(EpgSource(2, "B", "http://guides/b"),))
        self.pump(10)
        self.assertEqual(self.titles(1), [])
        self.assertEqual(list(self.db.run(_sql.get_states)), [2])

    def test_a_changed_url_is_fetched_at_once(self) -> None:
        self.origins.replies["a"] = [ok(GUIDE_A)]
        self.origins.replies["b"] = [ok(GUIDE_B)]
        self.start()
        self.set_catalog(epg_sources=(EpgSource(1, "A", "http://guides/b"),))
        self.pump(10)
        self.assertEqual(self.hits("b"), 1)
        self.assertIsNone(self.origins.requests["b"][0].getHeader("if-none-match"))

    def test_operator_choices_apply_without_a_refresh(self) -> None:
        self.origins.replies["a"] = [ok(GUIDE_A)]
        self.start()
        self.db.run(_sql.put_setting, _sql.ChannelSetting(2, "a.uk", None, 3600))
        self.db.run(_sql.put_setting, _sql.ChannelSetting(1, ""))
        self.pump(10)
        self.assertEqual(self.titles(1), [])
        self.assertEqual(self.titles(2), ["A 0", "A 1"])  # an hour later
        self.assertEqual(self.hits(), 1)

    def test_a_disabled_source_is_neither_fetched_nor_used(self) -> None:
        self.origins.replies["a"] = [ok(GUIDE_A)]
        self.start()
        self.set_catalog(
            epg_sources=(EpgSource(1, "A", "http://guides/a", enabled=False),)
        )
        self.pump(43210)
        self.assertEqual(self.hits(), 1)
        self.assertEqual(self.titles(1), [])

    def test_stopping_cancels_what_runs_and_leaves_no_timer(self) -> None:
        self.origins.replies["a"] = [silent]
        self.start()
        self.successResultOf(self.service.stopService())
        self.assertEqual(self.clock.getDelayedCalls(), [])
