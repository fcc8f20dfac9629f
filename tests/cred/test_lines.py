"""Line sources: the lines file, chaining, caching; line records; and the
whole login chain (portal, checker, caches) seeing changes within seconds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from xrelay.cred.checkers import CachingVerifier, Line, LineRealm, StoreChecker
from xrelay.cred.filelines import FileLines, parse_lines_file
from xrelay.cred.lines import CachedLines, FirstKnown, LineSource, LinesUnavailable
from xrelay.cred.passwords import hash_password, verify_password
from xrelay.cred.records import decode_redis_hash, user_from_record
from xrelay.interfaces import ILine
from xrelay.models import User
from xrelay.store import CachedStore
from xrelay.testing import MemoryStore

RIGHT, OTHER = hash_password("right"), hash_password("other")


class Counting:
    """A source answering from a dict (or failing), counting the asks."""

    def __init__(self, users: dict[str, User] | None = None) -> None:
        self.users = users or {}
        self.asked: list[str] = []
        self.error: Exception | None = None

    def get_user(self, username: str) -> Deferred[User | None]:
        self.asked.append(username)
        if self.error is not None:
            return fail(self.error)
        return succeed(self.users.get(username))


def verify_now(password: str, stored: str) -> Deferred[bool]:
    return succeed(verify_password(password, stored))


class RecordTests(SynchronousTestCase):
    def test_every_field(self) -> None:
        record = decode_redis_hash(
            [
                "password_hash", RIGHT,
                "enabled", "1",
                "expires_at", "1767225600",
                "max_connections", "3",
                "allowed_output_formats", '["ts"]',
                "allowed_networks", '["10.0.0.0/8", "192.0.2.7"]',
                "allowed_user_agents", '["*TiviMate*"]',
                "bouquet_ids", "[1, 2]",
                "is_trial", "true",
                "created_at", "1700000000",
                "panel_plan", "gold",  # a panel's own field: ignored
                "notes", "",  # empty: absent
            ]
        )  # fmt: skip
        self.assertEqual(
            user_from_record("alice", record),
            User(
                0,
                "alice",
                RIGHT,
                enabled=True,
                expires_at=1767225600,
                max_connections=3,
                allowed_output_formats=("ts",),
                allowed_networks=("10.0.0.0/8", "192.0.2.7"),
                allowed_user_agents=("*TiviMate*",),
                bouquet_ids=(1, 2),
                is_trial=True,
                created_at=1700000000,
            ),
        )

    def test_defaults(self) -> None:
        user = user_from_record("bob", {"password_hash": RIGHT})
        self.assertEqual(user, User(0, "bob", RIGHT))
        self.assertIsNone(
            user_from_record(
                "bob", {"password_hash": RIGHT, "expires_at": None}
            ).expires_at
        )

    def test_bad_fields_are_named(self) -> None:
        for record, field in (
            ({"password_hash": "plain-text"}, "password_hash"),
            ({"enabled": "yes"}, "enabled"),
            ({"expires_at": -1}, "expires_at"),
            ({"max_connections": 0}, "max_connections"),
            ({"allowed_output_formats": ["flv"]}, "allowed_output_formats"),
            ({"allowed_output_formats": "ts"}, "allowed_output_formats"),
            ({"allowed_networks": ["10.0.0.0/33"]}, "allowed_networks"),
            ({"allowed_user_agents": [1]}, "allowed_user_agents"),
            ({"bouquet_ids": ["1"]}, "bouquet_ids"),
            ({"is_trial": 2}, "is_trial"),
        ):
            with self.assertRaises(ValueError) as caught:
                user_from_record("x", {"password_hash": RIGHT, **record})
            self.assertTrue(str(caught.exception).startswith(field + ":"), record)
            self.assertNotIn("plain-text", str(caught.exception), "no secrets")
        with self.assertRaisesRegex(ValueError, "^password_hash: missing"):
            user_from_record("x", {"enabled": True})

    def test_json_values_and_bare_strings(self) -> None:
        self.assertEqual(
            decode_redis_hash(["a", "0123", "b", "x y", "c", "null", "d", ""]),
            {"a": "0123", "b": "x y", "c": None},
        )


class LinesFileTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.path = Path(self.mktemp())
        self.write(f"# lines\n\nalice:{RIGHT}\n")
        self.lines = FileLines(str(self.path), self.clock, check_every=2.0)

    def write(self, text: str) -> None:
        self.path.write_text(text)
        # a distinct mtime even on coarse-grained file systems
        stamp = self.path.stat().st_mtime_ns + 1_000_000_000
        os.utime(self.path, ns=(stamp, stamp))

    def get(self, username: str) -> User | None:
        return self.successResultOf(self.lines.get_user(username))

    def test_htpasswd_style_with_optional_fields(self) -> None:
        users, problems = parse_lines_file(
            f"alice:{RIGHT}\n"
            f'  bob:{OTHER}:{{"max_connections": 2, "bouquet_ids": [3]}}  \n'
            "# carol:commented out\n"
        )
        self.assertEqual(problems, [])
        self.assertEqual(users["alice"], User(0, "alice", RIGHT))
        self.assertEqual(
            users["bob"], User(0, "bob", OTHER, max_connections=2, bouquet_ids=(3,))
        )
        self.assertEqual(set(users), {"alice", "bob"})

    def test_bad_lines_are_skipped_with_their_number(self) -> None:
        users, problems = parse_lines_file(
            f"alice:{RIGHT}\n"
            "bob:secret\n"
            f"carol:{RIGHT}:not json\n"
            f"dave:{RIGHT}:[1]\n"
            f"e v e:{RIGHT}\n"
            f"alice:{OTHER}\n"
            f'frank:{RIGHT}:{{"max_connections": "many"}}\n'
        )
        self.assertEqual(set(users), {"alice"})
        self.assertEqual(users["alice"].password_hash, RIGHT, "the first one wins")
        self.assertEqual(
            [p.split(":")[0] for p in problems], [f"line {n}" for n in range(2, 8)]
        )
        self.assertIn("max_connections", problems[-1])
        self.assertNotIn("secret", " ".join(problems), "no passwords in the log")

    def test_reread_when_changed_checked_every_few_seconds(self) -> None:
        self.assertEqual(self.get("alice"), User(0, "alice", RIGHT))
        self.write(f'alice:{RIGHT}:{{"enabled": false}}\nbob:{OTHER}\n')
        self.assertTrue(self.get("alice").enabled, "not checked again yet")
        self.clock.advance(2)
        self.assertFalse(self.get("alice").enabled)
        self.assertEqual(self.get("bob"), User(0, "bob", OTHER))

    def test_an_unreadable_file_keeps_the_lines_last_read(self) -> None:
        self.get("alice")
        self.path.unlink()
        with capturedLogs() as events:
            self.clock.advance(2)
            self.assertIsNotNone(self.get("alice"))
            self.clock.advance(2)
            self.get("alice")
        errors = [e for e in events if "cannot read" in e["log_format"]]
        self.assertEqual(len(errors), 1, "logged once, not on every check")
        self.assertEqual(errors[0]["path"], str(self.path))
        self.write(f"bob:{OTHER}\n")
        self.clock.advance(2)
        self.assertIsNone(self.get("alice"))
        self.assertIsNotNone(self.get("bob"))


class ChainTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.first = Counting({"alice": User(0, "alice", RIGHT)})
        self.second = Counting(
            {"alice": User(0, "alice", OTHER), "bob": User(0, "bob", OTHER)}
        )
        chain = FirstKnown([self.first, self.second])
        self.portal = Portal(LineRealm(chain), [StoreChecker(chain, verify_now)])

    def login(self, username: str, password: str) -> Deferred[object]:
        d = self.portal.login(
            UsernamePassword(username.encode(), password.encode()), None, ILine
        )
        return d.addCallback(lambda result: result[1])

    def test_the_first_source_that_knows_the_user_decides(self) -> None:
        self.assertEqual(
            self.successResultOf(self.login("alice", "right")),
            Line(User(0, "alice", RIGHT)),
        )
        # the second source's password for alice is never tried
        self.failureResultOf(self.login("alice", "other"), UnauthorizedLogin)

    def test_later_sources_answer_for_users_the_first_does_not_know(self) -> None:
        self.assertEqual(
            self.successResultOf(self.login("bob", "other")),
            Line(User(0, "bob", OTHER)),
        )
        self.failureResultOf(self.login("nobody", "other"), UnauthorizedLogin)
        self.assertIn("nobody", self.second.asked)

    def test_an_unavailable_source_is_not_skipped(self) -> None:
        self.first.error = LinesUnavailable("redis is away")
        self.failureResultOf(self.login("bob", "other"), LinesUnavailable)
        self.assertNotIn("bob", self.second.asked)


class CachedLinesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.source = Counting({"alice": User(0, "alice", RIGHT)})
        self.lines = CachedLines(self.source, self.clock, ttl=2.0, stale=60.0)

    def get(self, username: str) -> User | None:
        return self.successResultOf(self.lines.get_user(username))

    def test_answers_are_kept_for_the_ttl(self) -> None:
        self.get("alice")
        self.get("alice")
        self.get("nobody")
        self.get("nobody")
        self.assertEqual(self.source.asked, ["alice", "nobody"])
        self.clock.advance(2)
        self.get("alice")
        self.assertEqual(self.source.asked, ["alice", "nobody", "alice"])

    def test_last_answers_serve_through_an_outage_for_a_while(self) -> None:
        self.get("alice")
        self.source.error = LinesUnavailable("away")
        self.clock.advance(30)
        self.assertIsNotNone(self.get("alice"))
        self.failureResultOf(self.lines.get_user("bob"), LinesUnavailable)
        self.clock.advance(31)
        self.failureResultOf(self.lines.get_user("alice"), LinesUnavailable)

    def test_other_errors_are_not_hidden(self) -> None:
        self.get("alice")
        self.clock.advance(3)
        self.source.error = UnauthorizedLogin("malformed")
        self.failureResultOf(self.lines.get_user("alice"), UnauthorizedLogin)


class ChangesTakeEffectTests(SynchronousTestCase):
    """The production stack: CachedStore (2 s) under the checker and the
    realm, CachingVerifier (60 s) over the hash."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.store = MemoryStore()
        self.user = self.successResultOf(self.store.put_user(User(0, "alice", RIGHT)))
        self.hashes: list[str] = []

        def verify(password: str, stored: str) -> Deferred[bool]:
            self.hashes.append(password)
            return verify_now(password, stored)

        lines: LineSource = CachedStore(self.store, self.clock)
        cached = CachingVerifier(verify, self.clock, ttl=60)
        self.portal = Portal(LineRealm(lines), [StoreChecker(lines, cached)])

    def line(self, password: str = "right") -> User | None:
        d = self.portal.login(
            UsernamePassword(b"alice", password.encode()), None, ILine
        )
        result: list[User | None] = []
        d.addCallbacks(
            lambda r: result.append(r[1].user),
            lambda f: (f.trap(UnauthorizedLogin), result.append(None)),
        )
        return result[0]

    def test_a_disabled_line_is_seen_within_seconds(self) -> None:
        self.assertTrue(self.line().enabled)
        self.successResultOf(
            self.store.put_user(attrs.evolve(self.user, enabled=False))
        )
        self.clock.advance(2)
        self.assertFalse(self.line().enabled)
        self.assertEqual(self.hashes, ["right"], "the proven password was cached")

    def test_a_changed_password_is_seen_within_seconds(self) -> None:
        self.line()
        self.successResultOf(
            self.store.put_user(attrs.evolve(self.user, password_hash=OTHER))
        )
        self.clock.advance(2)
        self.assertIsNone(self.line("right"))
        self.assertIsNotNone(self.line("other"))

    def test_a_deleted_line_is_refused_within_seconds(self) -> None:
        self.line()
        self.successResultOf(self.store.delete_user("alice"))
        self.clock.advance(2)
        self.assertIsNone(self.line())


class FileCheckerTests(SynchronousTestCase):
    def test_a_lines_file_behind_a_portal(self) -> None:
        path = Path(self.mktemp())
        path.write_text(f"alice:{RIGHT}:{json.dumps({'max_connections': 4})}\n")
        lines = FileLines(str(path), Clock())
        portal = Portal(LineRealm(lines), [StoreChecker(lines, verify_now)])
        _, avatar, _ = self.successResultOf(
            portal.login(UsernamePassword(b"alice", b"right"), None, ILine)
        )
        self.assertEqual(avatar, Line(User(0, "alice", RIGHT, max_connections=4)))
        self.failureResultOf(
            portal.login(UsernamePassword(b"alice", b"wrong"), None, ILine),
            UnauthorizedLogin,
        )
