"""The CRUD commands, run through ``main`` against a temporary data dir."""

from __future__ import annotations

import io
import json
import os
import sys

import attrs
from twisted.trial.unittest import SynchronousTestCase

from xrelay.cli import main
from xrelay.cred.passwords import verify_password
from xrelay.models import Bouquet, Category, Channel, User
from xrelay.store import CatalogDB, open_sync


class CliTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.data_dir = self.mktemp()

    def run_cli(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of ``xrelay --data-dir D *argv``."""
        out, err = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", out)
        self.patch(sys, "stderr", err)
        self.patch(sys, "stdin", io.StringIO(stdin))
        status = main(["--data-dir", self.data_dir, *argv])
        return status, out.getvalue(), err.getvalue()

    def ok(self, *argv: str, stdin: str = "") -> str:
        status, out, err = self.run_cli(*argv, stdin=stdin)
        self.assertEqual((status, err), (0, ""), out)
        return out

    def fails(self, *argv: str, status: int = 1) -> str:
        """stderr of a command that must fail with ``status``, printing nothing."""
        got, out, err = self.run_cli(*argv)
        self.assertEqual((got, out), (status, ""), err)
        return err

    def db(self) -> CatalogDB:
        db = open_sync(os.path.join(self.data_dir, "xrelay.sqlite3"))
        self.addCleanup(db.close)
        return db


class UserCommandTests(CliTestCase):
    def user(self, username: str) -> User:
        user = self.db().get_user(username)
        assert user is not None
        return user

    def test_add_with_every_option(self) -> None:
        self.ok("bouquets", "add", "B1")
        self.ok("bouquets", "add", "B2")
        out = self.ok(
            "users", "add", "alice", "--password", "s3cret",
            "--max-connections", "3", "--expires", "2030-01-31", "--trial",
            "--notes", "paid cash", "--bouquet", "2", "1",
            "--allow-network", "10.0.0.0/8", "192.0.2.7",
            "--allow-user-agent", "VLC/3", "--output-formats", "ts,m3u8",
        )  # fmt: skip
        self.assertEqual(out, "added user alice (id 1)\n")
        alice = self.user("alice")
        self.assertTrue(verify_password("s3cret", alice.password_hash))
        self.assertEqual(
            alice,
            User(
                1,
                "alice",
                alice.password_hash,
                expires_at=1896048000,  # 2030-01-31T00:00:00Z
                max_connections=3,
                allowed_output_formats=("ts", "m3u8"),
                allowed_networks=("10.0.0.0/8", "192.0.2.7"),
                allowed_user_agents=("VLC/3",),
                bouquet_ids=(2, 1),
                is_trial=True,
                notes="paid cash",
                created_at=alice.created_at,
            ),
        )
        self.assertGreater(alice.created_at, 0)

    def test_add_has_the_model_defaults(self) -> None:
        self.ok("users", "add", "bob", "--password", "pw")
        bob = self.user("bob")
        self.assertEqual(
            bob, User(1, "bob", bob.password_hash, created_at=bob.created_at)
        )

    def test_password_from_stdin_is_one_line_and_never_echoed(self) -> None:
        out = self.ok("users", "add", "bob", "--password-stdin", stdin="p4ss\nmore\n")
        self.assertTrue(verify_password("p4ss", self.user("bob").password_hash))
        for command in (["users", "list"], ["users", "show", "bob"]):
            out += self.ok(*command)
        self.assertNotIn("p4ss", out)
        self.assertNotIn(self.user("bob").password_hash, out)
        self.assertIn("password:        set", out)

    def test_a_password_is_required(self) -> None:
        err = self.fails("users", "add", "bob")
        self.assertEqual(
            err, "xrelay: error: no password: give --password or --password-stdin\n"
        )
        self.assertIsNone(self.db().get_user("bob"))

    def test_credentials_must_fit_in_a_url(self) -> None:
        err = self.fails("users", "add", "bob", "--password", "a b")
        self.assertEqual(
            err,
            "xrelay: error: password: use 1 to 64 of the characters"
            " A-Z a-z 0-9 . _ @ -\n",
        )
        err = self.fails("users", "add", "bob/x", "--password", "ok")
        self.assertIn("users.username: 'bob/x' is not allowed", err)
        self.assertEqual(self.db().list_users(), [])

    def test_usernames_are_unique(self) -> None:
        self.ok("users", "add", "bob", "--password", "pw")
        err = self.fails("users", "add", "bob", "--password", "pw")
        self.assertEqual(err, "xrelay: error: users.username: 'bob' already exists\n")

    def test_bad_values_are_refused_by_name(self) -> None:
        for option, message in [
            (["--bouquet", "4"], "users.bouquet_ids: no bouquet 4 (listed by 'bob')"),
            (["--allow-network", "10.1"], "users.allowed_networks: '10.1' is not"),
            (["--output-formats", "ts,mkv"], "users.allowed_output_formats: 'mkv'"),
        ]:
            err = self.fails("users", "add", "bob", "--password", "pw", *option)
            self.assertIn(message, err)
        err = self.fails("users", "add", "bob", "--expires", "31/01/2030", status=2)
        self.assertIn("not YYYY-MM-DD or never: '31/01/2030'", err)

    def test_list(self) -> None:
        self.ok("users", "add", "bob", "--password", "pw", "--expires", "2030-01-31")
        self.ok("users", "add", "carol", "--password", "pw", "--trial")
        self.assertEqual(
            self.ok("users", "list").splitlines(),
            [
                "ID  USERNAME  ENABLED  EXPIRES               CONNECTIONS  BOUQUETS"
                "  TRIAL",
                "1   bob       yes      2030-01-31 00:00 UTC  1            -"
                "         no",
                "2   carol     yes      never                 1            -"
                "         yes",
            ],
        )
        listed = json.loads(self.ok("users", "list", "--json"))
        self.assertEqual([u["username"] for u in listed], ["bob", "carol"])
        self.assertNotIn("password_hash", listed[0])
        self.assertEqual(listed[0]["expires_at"], 1896048000)

    def test_show(self) -> None:
        self.ok("users", "add", "bob", "--password", "pw", "--allow-user-agent", "VLC")
        out = self.ok("users", "show", "bob")
        self.assertIn("username:        bob\n", out)
        self.assertIn("user agents:     'VLC'\n", out)
        self.assertIn("bouquets:        all\n", out)
        shown = json.loads(self.ok("users", "show", "bob", "--json"))
        self.assertEqual(shown["allowed_user_agents"], ["VLC"])
        self.assertNotIn("password_hash", shown)

    def test_set_changes_only_what_is_given(self) -> None:
        self.ok("bouquets", "add", "B")
        self.ok(
            "users", "add", "bob", "--password", "old", "--bouquet", "1",
            "--allow-network", "10.0.0.0/8", "--notes", "n",
        )  # fmt: skip
        before = self.user("bob")
        out = self.ok(
            "users", "set", "bob", "--password-stdin", "--disable",
            "--expires", "never", "--allow-network", "::1", "--bouquet",
            stdin="new\n",
        )  # fmt: skip
        self.assertEqual(out, "updated user bob\n")
        after = self.user("bob")
        self.assertTrue(verify_password("new", after.password_hash))
        self.assertEqual(
            after,
            User(
                before.id,
                "bob",
                after.password_hash,
                enabled=False,
                allowed_networks=("::1",),
                notes="n",
                created_at=before.created_at,
            ),
        )
        self.ok("users", "set", "bob", "--enable", "--max-connections", "2")
        self.assertEqual(
            self.user("bob"), attrs.evolve(after, enabled=True, max_connections=2)
        )

    def test_disable_and_delete(self) -> None:
        self.ok("users", "add", "bob", "--password", "pw")
        self.assertEqual(self.ok("users", "disable", "bob"), "disabled user bob\n")
        self.assertFalse(self.user("bob").enabled)
        self.assertEqual(self.ok("users", "delete", "bob"), "deleted user bob\n")
        self.assertIsNone(self.db().get_user("bob"))

    def test_unknown_users_are_named(self) -> None:
        for action in ("show", "set", "disable", "delete"):
            err = self.fails("users", action, "nobody")
            self.assertEqual(err, "xrelay: error: no user 'nobody'\n")


class CategoryCommandTests(CliTestCase):
    def test_add_list_set_delete(self) -> None:
        self.assertEqual(
            self.ok("categories", "add", "live", "News", "--sort", "2"),
            "added live category 1: News\n",
        )
        self.ok("categories", "add", "vod", "Films", "--id", "10")
        self.assertEqual(
            self.ok("categories", "list"),
            "ID  KIND  NAME   SORT\n1   live  News   2\n10  vod   Films  0\n",
        )
        listed = json.loads(self.ok("categories", "list", "--kind", "vod", "--json"))
        self.assertEqual(
            listed, [{"id": 10, "kind": "vod", "name": "Films", "sort_order": 0}]
        )
        self.assertEqual(
            self.ok("categories", "set", "10", "--name", "Movies", "--kind", "series"),
            "updated category 10\n",
        )
        self.assertEqual(
            self.db().list_categories(),
            [Category(1, "live", "News", 2), Category(10, "series", "Movies")],
        )
        self.assertEqual(self.ok("categories", "delete", "1"), "deleted category 1\n")
        self.assertEqual(
            self.db().list_categories(), [Category(10, "series", "Movies")]
        )

    def test_errors(self) -> None:
        self.ok("categories", "add", "live", "News")
        err = self.fails("categories", "add", "live", "Again", "--id", "1")
        self.assertEqual(err, "xrelay: error: category 1 already exists\n")
        err = self.fails("categories", "add", "radio", "R", status=2)
        self.assertIn("invalid choice: 'radio'", err)
        for action in (["set", "7", "--name", "x"], ["delete", "7"]):
            err = self.fails("categories", *action)
            self.assertEqual(err, "xrelay: error: no category 7\n")
        self.ok("channels", "add", "One", "--number", "1", "--category", "1")
        err = self.fails("categories", "set", "1", "--kind", "vod")
        self.assertEqual(
            err, "xrelay: error: channels.category_id: no live category 1\n"
        )


class ChannelCommandTests(CliTestCase):
    def test_add_show_list(self) -> None:
        self.ok("categories", "add", "live", "News")
        out = self.ok(
            "channels", "add", "News 24", "--number", "101", "--id", "7",
            "--category", "1", "--source", "udp://239.0.0.1:1234", "http://b/x.ts",
            "--logo", "http://l/n.png", "--epg-id", "news.example", "--always-on",
        )  # fmt: skip
        self.assertEqual(out, "added channel 7: News 24\n")
        channel = self.db().get_channel(7)
        assert channel is not None
        self.assertEqual(
            channel,
            Channel(
                7,
                101,
                "News 24",
                category_id=1,
                sources=("udp://239.0.0.1:1234", "http://b/x.ts"),
                logo="http://l/n.png",
                epg_id="news.example",
                on_demand=False,
                added=channel.added,
            ),
        )
        out = self.ok("channels", "show", "7")
        self.assertIn("mode:     always on\n", out)
        self.assertTrue(
            out.endswith(
                "sources:  2\n  1. udp://239.0.0.1:1234\n  2. http://b/x.ts\n"
            ),
            out,
        )
        self.assertEqual(
            json.loads(self.ok("channels", "show", "7", "--json"))["sources"],
            ["udp://239.0.0.1:1234", "http://b/x.ts"],
        )
        self.ok("channels", "add", "Plain", "--number", "5")
        self.assertEqual(
            self.ok("channels", "list"),
            "ID  NUMBER  NAME     CATEGORY  SOURCES  MODE\n"
            "7   101     News 24  1         2        always on\n"
            "8   5       Plain    -         0        on demand\n",
        )

    def test_set(self) -> None:
        self.ok("categories", "add", "live", "News")
        self.ok("channels", "add", "One", "--number", "1", "--category", "1",
                "--source", "udp://@239.0.0.1:1234", "http://b.example/s",
                "--logo", "l")  # fmt: skip
        before = self.db().get_channel(1)
        assert before is not None
        out = self.ok("channels", "set", "1", "--source", "tcp://c.example:9000",
                      "--category", "none",
                      "--name", "Uno", "--number", "11")  # fmt: skip
        self.assertEqual(out, "updated channel 1\n")
        self.assertEqual(
            self.db().get_channel(1),
            attrs.evolve(
                before,
                name="Uno",
                number=11,
                category_id=None,
                sources=("tcp://c.example:9000",),
            ),
        )

    def test_errors(self) -> None:
        self.ok("categories", "add", "vod", "Films")
        self.ok("channels", "add", "One", "--number", "1")
        for argv, message in [
            (["add", "Two", "--number", "1"], "channels.number: 1 already exists"),
            (["add", "Two", "--number", "2", "--id", "1"], "channel 1 already exists"),
            (["add", "Two", "--number", "2", "--category", "1"],
             "channels.category_id: no live category 1"),
            (["show", "9"], "no channel 9"),
            (["set", "9", "--name", "x"], "no channel 9"),
            (["delete", "9"], "no channel 9"),
        ]:  # fmt: skip
            self.assertEqual(
                self.fails("channels", *argv), f"xrelay: error: {message}\n"
            )
        err = self.fails("channels", "add", "Two", status=2)
        self.assertIn("the following arguments are required: --number", err)
        err = self.fails(
            "channels", "add", "Two", "--number", "2", "--source", "rtsp://x", status=2
        )
        self.assertIn("'rtsp://x': unsupported URL scheme 'rtsp'", err)
        err = self.fails("channels", "show", "0", status=2)
        self.assertIn("not a positive whole number: '0'", err)

    def test_delete_takes_the_channel_out_of_bouquets(self) -> None:
        for number in ("1", "2"):
            self.ok("channels", "add", f"C{number}", "--number", number)
        self.ok("bouquets", "add", "B", "--channel", "2", "1")
        self.assertEqual(self.ok("channels", "delete", "2"), "deleted channel 2\n")
        self.assertEqual(self.db().list_bouquets(), [Bouquet(1, "B", channel_ids=(1,))])


class BouquetCommandTests(CliTestCase):
    def setUp(self) -> None:
        super().setUp()
        for number in ("1", "2", "3"):
            self.ok("channels", "add", f"C{number}", "--number", number)

    def test_add_show_list_set(self) -> None:
        self.assertEqual(
            self.ok("bouquets", "add", "Basic", "--channel", "3", "1"),
            "added bouquet 1: Basic\n",
        )
        self.assertEqual(
            self.ok("bouquets", "show", "1"),
            "id:       1\nname:     Basic\nchannels: 3, 1\nmovies:   -\nseries:   -\n",
        )
        self.assertEqual(
            self.ok("bouquets", "list"),
            "ID  NAME   CHANNELS  MOVIES  SERIES\n1   Basic  2         0       0\n",
        )
        self.ok("bouquets", "set", "1", "--name", "Full", "--channel", "1", "2", "3")
        self.assertEqual(
            json.loads(self.ok("bouquets", "show", "1", "--json")),
            {
                "id": 1,
                "name": "Full",
                "channel_ids": [1, 2, 3],
                "movie_ids": [],
                "series_ids": [],
            },
        )
        self.ok("bouquets", "set", "1", "--channel")
        self.assertEqual(self.db().list_bouquets(), [Bouquet(1, "Full")])

    def test_errors(self) -> None:
        err = self.fails("bouquets", "add", "B", "--movie", "4")
        self.assertEqual(
            err, "xrelay: error: bouquets.movie_ids: no movie 4 (listed by bouquet 1)\n"
        )
        self.assertEqual(self.db().list_bouquets(), [])
        for argv in (["show", "9"], ["set", "9", "--name", "x"], ["delete", "9"]):
            self.assertEqual(
                self.fails("bouquets", *argv), "xrelay: error: no bouquet 9\n"
            )

    def test_a_bouquet_in_use_is_not_deleted(self) -> None:
        self.ok("bouquets", "add", "B")
        self.ok("users", "add", "bob", "--password", "pw", "--bouquet", "1")
        err = self.fails("bouquets", "delete", "1")
        self.assertEqual(
            err, "xrelay: error: users.bouquet_ids: no bouquet 1 (listed by 'bob')\n"
        )
        self.assertEqual(len(self.db().list_bouquets()), 1)


class DataDirTests(SynchronousTestCase):
    """Which database the commands open."""

    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(self.base)
        self.config = os.path.join(self.base, "xrelay.toml")
        self.patch(sys, "stdout", io.StringIO())
        self.err = io.StringIO()
        self.patch(sys, "stderr", self.err)

    def usernames(self, *path: str) -> list[str]:
        db = open_sync(os.path.join(self.base, *path))
        self.addCleanup(db.close)
        return [u.username for u in db.list_users()]

    def add_bob(self, *options: str) -> int:
        return main([*options, "users", "add", "bob", "--password", "pw"])

    def test_the_default_is_xrelay_data_in_the_current_directory(self) -> None:
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.base)
        self.assertEqual(self.add_bob(), 0)
        self.assertEqual(self.usernames("xrelay-data", "xrelay.sqlite3"), ["bob"])

    def test_the_config_names_the_data_dir(self) -> None:
        data = os.path.join(self.base, "from-config")
        with open(self.config, "w") as f:
            f.write(f"[server]\ndata_dir = {json.dumps(data)}\n")
        self.assertEqual(self.add_bob("--config", self.config), 0)
        self.assertEqual(self.usernames("from-config", "xrelay.sqlite3"), ["bob"])

    def test_data_dir_overrides_the_config(self) -> None:
        with open(self.config, "w") as f:
            f.write('[server]\ndata_dir = "elsewhere"\n')
        data = os.path.join(self.base, "given")
        self.assertEqual(self.add_bob("--config", self.config, "--data-dir", data), 0)
        self.assertEqual(self.usernames("given", "xrelay.sqlite3"), ["bob"])

    def test_the_config_can_name_the_database_file(self) -> None:
        path = os.path.join(self.base, "db", "catalog.sqlite3")
        with open(self.config, "w") as f:
            f.write(f"[store]\npath = {json.dumps(path)}\n")
        self.assertEqual(self.add_bob("--config", self.config), 0)
        self.assertEqual(self.usernames("db", "catalog.sqlite3"), ["bob"])

    def test_an_invalid_config_is_reported(self) -> None:
        with open(self.config, "w") as f:
            f.write("[server]\ndata_dir = 3\n")
        self.assertEqual(self.add_bob("--config", self.config), 1)
        report = self.err.getvalue()
        self.assertTrue(
            report.startswith("xrelay: error: invalid configuration:\n"), report
        )
        self.assertIn(f"{self.config}: server.data_dir:", report)

    def test_no_command_is_a_usage_error(self) -> None:
        self.assertEqual(main([]), 2)
        self.assertIn("required: COMMAND", self.err.getvalue())


class HashPasswordTests(CliTestCase):
    def test_prints_a_hash_that_verifies(self) -> None:
        stored = self.ok("hash-password", stdin="s3cret-pw\n").strip()
        self.assertTrue(verify_password("s3cret-pw", stored))
        self.assertFalse(verify_password("other", stored))
        self.assertNotIn("s3cret", stored)

    def test_refuses_a_password_players_cannot_send(self) -> None:
        status, out, err = self.run_cli("hash-password", stdin="two words\n")
        self.assertEqual((status, out), (1, ""))
        self.assertIn("password:", err)
