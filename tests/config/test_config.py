"""Parsing, validation and overrides of xrelay.config, plus the example file."""

from __future__ import annotations

import re
import socket
import tempfile
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import tomli_w
import twisted.test
from hypothesis import given
from hypothesis import strategies as st
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from xrelay.config import (
    Config,
    ConfigError,
    ConfigProblem,
    LiveConfig,
    LogConfig,
    ServerConfig,
    StoreConfig,
    example_toml,
    load_config,
    parse_config,
    with_overrides,
)

EXAMPLE = Path(__file__).parents[2] / "etc" / "xrelay.toml"
# A key and certificate pair Twisted ships for its own tests.
SERVER_PEM = FilePath(twisted.test.__file__).sibling("server.pem").path


def problems(text: str) -> list[tuple[str, str, str]]:
    """(file, key, reason) of every problem parse_config finds in ``text``."""
    try:
        parse_config(text, "x.toml")
    except ConfigError as e:
        return [(p.file, p.key, p.reason) for p in e.problems]
    raise AssertionError("expected a ConfigError")


class ValidFileTests(SynchronousTestCase):
    def test_empty_file_is_all_defaults(self) -> None:
        self.assertEqual(parse_config("", "x.toml"), Config())

    def test_no_path_is_all_defaults(self) -> None:
        self.assertEqual(load_config(None), Config())

    def test_every_section(self) -> None:
        config = parse_config(
            """
            [server]
            node_name = "edge-1"
            data_dir = "/var/lib/xrelay"
            http = ["tcp:80", "unix:/run/xrelay.sock"]
            public_host = "tv.example.com:8443"
            [log]
            format = "json"
            level = "debug"
            [store]
            path = "/srv/catalog.sqlite3"
            [live]
            queue_seconds = 2       # an integer is fine for a number
            stall_timeout = 30.5
            linger = 0
            """,
            "x.toml",
        )
        self.assertEqual(
            config,
            Config(
                server=ServerConfig(
                    node_name="edge-1",
                    data_dir="/var/lib/xrelay",
                    http=("tcp:80", "unix:/run/xrelay.sock"),
                    public_host="tv.example.com:8443",
                ),
                log=LogConfig(format="json", level="debug"),
                store=StoreConfig(path="/srv/catalog.sqlite3"),
                live=LiveConfig(queue_seconds=2.0, stall_timeout=30.5, linger=0.0),
            ),
        )
        self.assertIsInstance(config.live.queue_seconds, float)
        self.assertEqual(config.node, "edge-1")
        self.assertEqual(config.store_path, "/srv/catalog.sqlite3")

    def test_partial_section_keeps_other_defaults(self) -> None:
        config = parse_config('[log]\nlevel = "warn"\n', "x.toml")
        self.assertEqual(config, Config(log=LogConfig(level="warn")))

    def test_ssl_endpoint_with_readable_key(self) -> None:
        config = parse_config(
            f'[server]\nhttp = ["ssl:8443:privateKey={SERVER_PEM}"]\n', "x.toml"
        )
        self.assertEqual(config.server.http, (f"ssl:8443:privateKey={SERVER_PEM}",))

    def test_node_defaults_to_host_name(self) -> None:
        self.assertEqual(Config().node, socket.gethostname())

    def test_store_path_defaults_into_data_dir(self) -> None:
        config = Config(server=ServerConfig(data_dir="/d"))
        self.assertEqual(config.store_path, "/d/xrelay.sqlite3")

    def test_load_config_reads_a_file(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "xrelay.toml"
            path.write_text("[live]\nlinger = 3.0\n", encoding="utf-8")
            config = load_config(str(path))
        self.assertEqual(config, Config(live=LiveConfig(linger=3.0)))


class ProblemTests(SynchronousTestCase):
    def test_wrong_types(self) -> None:
        self.assertEqual(
            problems(
                """
                [server]
                data_dir = 5
                http = "tcp:80"
                [live]
                linger = "10s"
                stall_timeout = true
                """
            ),
            [
                ("x.toml", "server.data_dir", "must be a string, not integer 5"),
                ("x.toml", "server.http", "must be an array, not string 'tcp:80'"),
                ("x.toml", "live.linger", "must be a number, not string '10s'"),
                ("x.toml", "live.stall_timeout", "must be a number, not boolean True"),
            ],
        )

    def test_wrong_item_type_names_the_item(self) -> None:
        self.assertEqual(
            problems('[server]\nhttp = ["tcp:80", 8080]\n'),
            [("x.toml", "server.http[1]", "must be a string, not integer 8080")],
        )

    def test_unknown_key(self) -> None:
        [(_, key, reason)] = problems("[live]\nlinger = 1.0\nlingr = 2.0\n")
        self.assertEqual(key, "live.lingr")
        self.assertEqual(
            reason,
            "unknown key (known: queue_seconds, stall_timeout, linger, join_burst)",
        )

    def test_unknown_nested_table(self) -> None:
        [(_, key, reason)] = problems("[server.tls]\ncert = 'x'\n")
        self.assertEqual(key, "server.tls")
        self.assertTrue(reason.startswith("unknown key"))

    def test_unknown_section(self) -> None:
        [(_, key, reason)] = problems("[guide]\nurl = 'http://x'\n")
        self.assertEqual(key, "guide")
        self.assertEqual(
            reason,
            "unknown section (known: server, log, store, live, hls, failover, "
            "admin, auth, connections, throttle, redis, archive, transcode, "
            "library, epg)",
        )

    def test_top_level_key_is_not_a_section(self) -> None:
        self.assertEqual(
            problems("server = 1\n"),
            [("x.toml", "server", "must be a table, not integer 1")],
        )

    def test_bad_endpoints(self) -> None:
        found = problems(
            '[server]\nhttp = ["tcp:8080", "foo:1", "tcp:abc", "tcp:80:bogus=1"]\n'
        )
        self.assertEqual(
            [key for _, key, _ in found],
            ["server.http[1]", "server.http[2]", "server.http[3]"],
        )
        self.assertIn("bad endpoint 'foo:1': Unknown endpoint type", found[0][2])
        self.assertIn("bad endpoint 'tcp:abc'", found[1][2])

    def test_ssl_endpoint_with_missing_key_file(self) -> None:
        [(_, key, reason)] = problems(
            '[server]\nhttp = ["ssl:443:privateKey=/nonexistent/key.pem"]\n'
        )
        self.assertEqual(key, "server.http[0]")
        self.assertIn("/nonexistent/key.pem", reason)

    def test_bad_enums(self) -> None:
        self.assertEqual(
            problems('[log]\nformat = "xml"\nlevel = "verbose"\n'),
            [
                ("x.toml", "log.format", "must be one of 'text', 'json', not 'xml'"),
                (
                    "x.toml",
                    "log.level",
                    "must be one of 'debug', 'info', 'warn', 'error', 'critical',"
                    " not 'verbose'",
                ),
            ],
        )

    def test_out_of_range_numbers(self) -> None:
        self.assertEqual(
            problems("[live]\nqueue_seconds = 0\nstall_timeout = inf\nlinger = -1\n"),
            [
                (
                    "x.toml",
                    "live.queue_seconds",
                    "must be between 0.1 and 60.0, not 0.0",
                ),
                (
                    "x.toml",
                    "live.stall_timeout",
                    "must be between 1.0 and 3600.0, not inf",
                ),
                ("x.toml", "live.linger", "must be between 0.0 and 3600.0, not -1.0"),
            ],
        )

    def test_nan_is_out_of_range(self) -> None:
        [(_, key, _)] = problems("[live]\nlinger = nan\n")
        self.assertEqual(key, "live.linger")

    def test_bad_strings(self) -> None:
        found = problems(
            '[server]\nnode_name = "edge 1"\ndata_dir = ""\n'
            'public_host = "http://tv.example.com/"\n'
        )
        self.assertEqual(
            [key for _, key, _ in found],
            ["server.node_name", "server.data_dir", "server.public_host"],
        )

    def test_public_host_forms(self) -> None:
        for host in ["tv.example.com", "tv:8080", "10.0.0.1", "[::1]:8443"]:
            config = parse_config(f'[server]\npublic_host = "{host}"\n', "x.toml")
            self.assertEqual(config.server.public_host, host)

    def test_every_problem_is_reported_at_once(self) -> None:
        text = (
            "[server]\n"
            'http = ["tcp:80", "nope:1"]\n'
            "colour = 1\n"
            "[log]\n"
            'level = "loud"\n'
            "[live]\n"
            "linger = -5\n"
            "[cluster]\n"
        )
        with self.assertRaises(ConfigError) as raised:
            parse_config(text, "etc/xrelay.toml")
        lines = str(raised.exception).splitlines()
        self.assertEqual(len(lines), 5)
        self.assertEqual(
            [line.split(": ")[:2] for line in lines],
            [
                ["etc/xrelay.toml", "server.http[1]"],
                ["etc/xrelay.toml", "server.colour"],
                ["etc/xrelay.toml", "log.level"],
                ["etc/xrelay.toml", "live.linger"],
                ["etc/xrelay.toml", "cluster"],
            ],
        )

    def test_trusted_proxies_are_networks(self) -> None:
        config = parse_config(
            '[server]\ntrusted_proxies = ["10.0.0.0/8", "::1"]\n', "x.toml"
        )
        self.assertEqual(config.server.trusted_proxies, ("10.0.0.0/8", "::1"))
        with self.assertRaises(ConfigError) as raised:
            parse_config(
                '[server]\ntrusted_proxies = ["10.0.0.0/8", "nginx"]\n', "x.toml"
            )
        [problem] = raised.exception.problems
        self.assertEqual(problem.key, "server.trusted_proxies[1]")
        self.assertIn("'nginx'", str(problem))

    def test_toml_syntax_error_names_file_and_line(self) -> None:
        with self.assertRaises(ConfigError) as raised:
            parse_config('[server]\ndata_dir = "a"\nhttp = [tcp:80]\n', "x.toml")
        [problem] = raised.exception.problems
        self.assertEqual((problem.file, problem.key, problem.line), ("x.toml", "", 3))
        self.assertTrue(str(problem).startswith("x.toml:3: invalid TOML: "))

    def test_duplicate_key_is_a_syntax_error(self) -> None:
        with self.assertRaises(ConfigError) as raised:
            parse_config("[live]\nlinger = 1\nlinger = 2\n", "x.toml")
        self.assertEqual(raised.exception.problems[0].line, 3)

    def test_report_format(self) -> None:
        error = ConfigError(
            [
                ConfigProblem("a.toml", "log.level", "bad"),
                ConfigProblem("a.toml", "", "cannot read: denied"),
                ConfigProblem("a.toml", "", "invalid TOML: oops", line=7),
            ]
        )
        self.assertEqual(
            str(error),
            "a.toml: log.level: bad\na.toml: cannot read: denied\n"
            "a.toml:7: invalid TOML: oops",
        )

    @given(
        st.dictionaries(
            st.sampled_from(["server", "log", "store", "live", "epg"]) | st.text(),
            st.dictionaries(
                st.sampled_from(
                    [
                        a.name
                        for c in (ServerConfig, LiveConfig)
                        for a in attrs.fields(c)
                    ]
                )
                | st.text(),
                st.recursive(
                    st.booleans()
                    | st.integers(-(2**63), 2**63 - 1)
                    | st.floats()
                    | st.text(st.characters(codec="utf-8")),
                    lambda inner: st.lists(inner, max_size=3),
                    max_leaves=5,
                ),
            ),
        )
    )
    def test_any_toml_gives_a_config_or_a_config_error(self, data: Any) -> None:
        try:
            parse_config(tomli_w.dumps(data), "x.toml")
        except ConfigError as e:
            self.assertTrue(e.problems)


class LoadTests(SynchronousTestCase):
    def test_missing_file(self) -> None:
        with self.assertRaises(ConfigError) as raised:
            load_config("/nonexistent/xrelay.toml")
        self.assertEqual(
            str(raised.exception),
            "/nonexistent/xrelay.toml: cannot read: No such file or directory",
        )

    def test_directory(self) -> None:
        with (
            tempfile.TemporaryDirectory() as directory,
            self.assertRaises(ConfigError) as raised,
        ):
            load_config(directory)
        [problem] = raised.exception.problems
        self.assertEqual(problem.file, directory)
        self.assertTrue(problem.reason.startswith("cannot read: "))

    def test_not_utf8(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "x.toml"
            path.write_bytes(b'[server]\nnode_name = "\xff"\n')
            with self.assertRaises(ConfigError) as raised:
                load_config(str(path))
        self.assertEqual(str(raised.exception), f"{path}: not UTF-8 text (byte 22)")


class OverrideTests(SynchronousTestCase):
    def test_overrides_replace_keys(self) -> None:
        base = parse_config('[server]\nnode_name = "n"\n[log]\nlevel = "warn"\n', "f")
        config = with_overrides(
            base,
            {
                "server.data_dir": "/tmp/d",
                "server.http": ("tcp:81", "tcp:82"),
                "log.format": "json",
            },
        )
        self.assertEqual(
            config,
            Config(
                server=ServerConfig(
                    node_name="n", data_dir="/tmp/d", http=("tcp:81", "tcp:82")
                ),
                log=LogConfig(format="json", level="warn"),
            ),
        )
        self.assertEqual(base.log.format, "text")

    def test_no_overrides(self) -> None:
        self.assertEqual(with_overrides(Config(), {}), Config())

    def test_list_for_an_array(self) -> None:
        config = with_overrides(Config(), {"server.http": ["tcp:81"]})
        self.assertEqual(config.server.http, ("tcp:81",))

    def test_bad_overrides_are_reported_as_command_line(self) -> None:
        with self.assertRaises(ConfigError) as raised:
            with_overrides(
                Config(),
                {
                    "server.http": ("tcp:81", "tcp:nope"),
                    "log.format": "xml",
                    "live.linger": "5",
                    "server.colour": "red",
                    "cluster.peers": (),
                },
            )
        self.assertEqual(
            [(p.file, p.key) for p in raised.exception.problems],
            [
                ("<command line>", "server.http[1]"),
                ("<command line>", "server.colour"),
                ("<command line>", "log.format"),
                ("<command line>", "live.linger"),
                ("<command line>", "cluster"),
            ],
        )
        self.assertTrue(
            str(raised.exception).startswith(
                "<command line>: server.http[1]: bad endpoint 'tcp:nope': "
            )
        )


class ExampleFileTests(SynchronousTestCase):
    def test_example_is_current(self) -> None:
        self.assertEqual(
            EXAMPLE.read_text(encoding="utf-8"),
            example_toml(),
            "etc/xrelay.toml is stale: python -m xrelay.config > etc/xrelay.toml",
        )

    def test_example_yields_the_defaults(self) -> None:
        self.assertEqual(load_config(str(EXAMPLE)), Config())

    def test_example_sets_every_key(self) -> None:
        text = EXAMPLE.read_text(encoding="utf-8")
        for section in attrs.fields(Config):
            self.assertIn(f"\n[{section.name}]\n", text)
            body = text.split(f"\n[{section.name}]\n")[1].split("\n[")[0]
            for key in attrs.fields(section.type):
                if typing.get_origin(key.type) is Mapping:  # named tables
                    self.assertIn(f"\n[{section.name}.{key.name}]\n", text)
                else:
                    self.assertRegex(body, rf"\n{re.escape(key.name)} = ")
