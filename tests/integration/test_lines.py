"""Lines, connection limits and the login throttle end to end: real
``twistd -n xrelay`` daemons on loopback with a config file, real
concurrent HTTP clients (from 127.0.0.2 and 127.0.0.3 too: Linux routes all
of 127/8 to lo), a real redis-server shared by two daemons, and HTTPS with a
certificate made here."""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import attrs
from twisted.trial.unittest import SynchronousTestCase

from tests.cred._redis_server import RedisServer
from tests.ingest.test_http import self_signed_cert
from tests.integration._daemon import Daemon, free_port
from xrelay.cred.passwords import hash_password
from xrelay.demo import demo_media_path
from xrelay.models import Bouquet, Category, Channel, User
from xrelay.store import open_sync

NOW = int(time.time())
PW = "s3cret"
PW_HASH = hash_password(PW)
BASIC = 1  # the bouquet made first: channel 1 only
ZAP_GRACE = 1.0
HEARTBEAT, NODE_TIMEOUT = 0.5, 2.0  # the cluster tests' [redis] timings


def make_data_dir(directory: Path, users: Iterable[User]) -> Path:
    """A catalog of two live channels looping the demo TS, a bouquet with
    channel 1, and ``users``."""
    db = open_sync(str(directory / "xrelay.sqlite3"))
    category = db.put_category(Category(0, "live", "Live"))
    for cid in (1, 2):
        db.put_channel(
            Channel(
                id=cid,
                number=cid,
                name=f"Channel {cid}",
                category_id=category.id,
                sources=(demo_media_path().as_uri(),),
            )
        )
    assert db.put_bouquet(Bouquet(0, "Basic", channel_ids=(1,))).id == BASIC
    for user in users:
        db.put_user(user)
    db.close()
    return directory


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """A TOML file (JSON spells the strings, numbers and lists alike)."""
    text = "".join(
        f"[{name}]\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
        for name, keys in sections.items()
    )
    path.write_text(text)
    return path


def start_daemon(
    test: SynchronousTestCase,
    workdir: Path,
    users: Iterable[User] = (),
    *args: str,
    **sections: dict[str, Any],
) -> Daemon:
    workdir.mkdir(parents=True, exist_ok=True)
    data = make_data_dir(workdir / "data", users)
    server = {"data_dir": str(data), **sections.pop("server", {})}
    config = write_config(workdir / "xrelay.toml", {"server": server, **sections})
    daemon = Daemon(workdir, "--config", str(config), *args)
    test.addCleanup(daemon.stop)
    daemon.start()
    return daemon


def connection(
    port: int,
    source: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
    timeout: float = 10,
) -> http.client.HTTPConnection:
    if tls is not None:
        return http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, source_address=(source, 0), context=tls
        )
    return http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )


def fetch(
    port: int,
    path: str,
    agent: str = "xrelay-test",
    source: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    """A finite response: refusals, JSON."""
    conn = connection(port, source, tls)
    try:
        conn.request("GET", path, headers={"User-Agent": agent})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def player_api(
    port: int,
    username: str,
    password: str = PW,
    agent: str = "xrelay-test",
    source: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
    **params: str,
) -> Any:
    query = urlencode({"username": username, "password": password, **params})
    status, body = fetch(port, f"/player_api.php?{query}", agent, source, tls)
    if status != 200:
        return status
    return json.loads(body)


class Viewer:
    """A stream request held open; ``first`` is its first TS packet, or the
    whole refusal body."""

    def __init__(
        self,
        port: int,
        path: str,
        agent: str,
        source: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.port = port
        self.agent = agent
        self.conn = connection(port, source, tls)
        self.conn.request("GET", path, headers={"User-Agent": agent})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.first = self.response.read(188 if self.status == 200 else None)

    def ended(self, timeout: float = 10) -> bool:
        """Whether the server closes this stream within ``timeout``."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.response.read(65536):
                    return True
        except (OSError, http.client.HTTPException):
            return True
        return False

    def close(self) -> None:
        self.conn.close()


def watch(test: SynchronousTestCase, *args: Any, **kwargs: Any) -> Viewer:
    viewer = Viewer(*args, **kwargs)
    test.addCleanup(viewer.close)
    return viewer


def at_once(
    test: SynchronousTestCase, requests: list[tuple[int, str, str]]
) -> list[Viewer]:
    """One viewer per (port, path, agent), all started together."""
    viewers: list[Viewer | BaseException | None] = [None] * len(requests)
    ready = threading.Barrier(len(requests))

    def run(index: int, port: int, path: str, agent: str) -> None:
        ready.wait(10)
        try:
            viewers[index] = watch(test, port, path, agent)
        except BaseException as e:  # reported below, in the test's thread
            viewers[index] = e

    threads = [
        threading.Thread(target=run, args=(i, *request))
        for i, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for viewer in viewers:
        if not isinstance(viewer, Viewer):
            raise AssertionError(f"a viewer failed: {viewer!r}")
    return [v for v in viewers if isinstance(v, Viewer)]


def stream(username: str, channel: int = 1, password: str = PW) -> str:
    return f"/live/{username}/{password}/{channel}.ts"


def wait_for(predicate: Any, timeout: float, what: str) -> float:
    """Seconds until ``predicate()`` held, polling; fails after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


class RefusalTests(SynchronousTestCase):
    """Every kind of refusal, on stream URLs and on player_api.php, with
    the store and a lines file chained."""

    def setUp(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir(parents=True)
        lines_file = workdir / "lines.txt"
        lines_file.write_text(f'# small setups\nfiley:{PW_HASH}:{{"is_trial": 1}}\n')
        self.daemon = start_daemon(
            self,
            workdir,
            [
                User(0, "alice", PW_HASH, bouquet_ids=(BASIC,)),
                User(0, "old", PW_HASH, expires_at=NOW - 86400),
                User(0, "off", PW_HASH, enabled=False),
                User(0, "office", PW_HASH, allowed_networks=("10.0.0.0/8",)),
                User(0, "tivi", PW_HASH, allowed_user_agents=("TiviMate/*",)),
                User(0, "hls", PW_HASH, allowed_output_formats=("m3u8",)),
            ],
            auth={"checkers": ["sqlite", "file"], "file": str(lines_file)},
        )
        self.port = self.daemon.port

    def refused(self, path: str, agent: str = "VLC/3.0") -> tuple[int, bytes]:
        viewer = watch(self, self.port, path, agent)
        self.assertNotEqual(viewer.first[:1], b"\x47", "no media byte")
        return viewer.status, viewer.first

    def plays(self, path: str, agent: str = "VLC/3.0") -> bool:
        viewer = watch(self, self.port, path, agent)
        viewer.close()
        return viewer.status == 200 and viewer.first[:1] == b"\x47"

    def test_stream_urls(self) -> None:
        for path, agent, status, body in (
            (
                stream("alice", password="wrong"),
                "VLC/3.0",
                401,
                b"invalid credentials\n",
            ),
            (stream("nobody"), "VLC/3.0", 401, b"invalid credentials\n"),
            (stream("old"), "VLC/3.0", 403, b"line expired\n"),
            (stream("off"), "VLC/3.0", 403, b"line disabled\n"),
            (stream("office"), "VLC/3.0", 403, b"address not allowed for this line\n"),
            (stream("tivi"), "VLC/3.0", 403, b"player not allowed for this line\n"),
            (stream("hls"), "VLC/3.0", 403, b"output format 'ts' not allowed\n"),
            (stream("alice", channel=2), "VLC/3.0", 404, b"no such channel\n"),
        ):
            self.assertEqual(self.refused(path, agent), (status, body), path)
        self.assertTrue(self.plays(stream("alice")))
        self.assertTrue(self.plays(stream("tivi"), agent="TiviMate/4.7.0"))
        self.assertTrue(self.plays(stream("filey")), "a line from the lines file")
        log = self.daemon.output()
        self.assertNotIn(PW, log)
        self.assertIn("/live/old/***/1.ts", log)

    def test_player_api(self) -> None:
        self.assertEqual(
            player_api(self.port, "alice", "wrong"), {"user_info": {"auth": 0}}
        )
        self.assertEqual(player_api(self.port, "nobody"), {"user_info": {"auth": 0}})
        for username, agent, status in (
            ("alice", "VLC/3.0", "Active"),
            ("filey", "VLC/3.0", "Active"),
            ("old", "VLC/3.0", "Expired"),
            ("off", "VLC/3.0", "Disabled"),
            ("office", "VLC/3.0", "Banned"),
            ("tivi", "VLC/3.0", "Banned"),
            ("tivi", "TiviMate/4.7.0", "Active"),
        ):
            info = player_api(self.port, username, agent=agent)["user_info"]
            self.assertEqual((info["auth"], info["status"]), (1, status), username)
        info = player_api(self.port, "old")["user_info"]
        self.assertEqual(info["exp_date"], str(NOW - 86400))
        self.assertEqual(player_api(self.port, "filey")["user_info"]["is_trial"], "1")
        # catalogue actions: a line's bouquets, nothing for an unusable line
        streams = player_api(self.port, "alice", action="get_live_streams")
        self.assertEqual([s["stream_id"] for s in streams], [1])
        self.assertEqual(player_api(self.port, "old", action="get_live_streams"), [])
        everything = player_api(self.port, "office", source="127.0.0.1")
        self.assertEqual(everything["user_info"]["status"], "Banned")


class OneNodeLimitTests(SynchronousTestCase):
    def test_concurrent_viewers_against_max_connections(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        daemon = start_daemon(
            self,
            workdir,
            [User(0, "alice", PW_HASH, max_connections=3)],
            connections={"zap_grace": ZAP_GRACE},
        )
        port = daemon.port
        viewers = at_once(
            self, [(port, stream("alice", 1 + n % 2), f"tv-{n}") for n in range(8)]
        )
        admitted = [v for v in viewers if v.status == 200]
        refused = [v for v in viewers if v.status != 200]
        self.assertEqual(len(admitted), 3, [v.status for v in viewers])
        self.assertTrue(all(v.first[:1] == b"\x47" for v in admitted))
        self.assertEqual(
            {(v.status, v.first) for v in refused},
            {(403, b"max connections reached\n")},
        )
        self.assertEqual(player_api(port, "alice")["user_info"]["active_cons"], "3")

        # a viewer leaves: its slot waits out the zap grace for that player
        admitted[0].close()
        self.assertEqual(watch(self, port, stream("alice"), "newcomer").status, 403)
        waited = wait_for(
            lambda: watch(self, port, stream("alice"), "newcomer").status == 200,
            ZAP_GRACE + 5,
            "the slot of a viewer that left came back",
        )
        self.assertGreater(waited, ZAP_GRACE / 2, "not before the zap grace")
        self.assertEqual(player_api(port, "alice")["user_info"]["active_cons"], "3")

        # a player zapping (opening the next channel before closing the
        # last) replaces its own stream instead of counting twice
        self.assertEqual(watch(self, port, stream("alice"), "another").status, 403)
        zapper = admitted[1]
        again = watch(self, port, stream("alice", 2), zapper.agent)
        self.assertEqual((again.status, again.first[:1]), (200, b"\x47"))
        self.assertTrue(zapper.ended(), "its previous stream was closed")
        self.assertEqual(player_api(port, "alice")["user_info"]["active_cons"], "3")


class LineChangeTests(SynchronousTestCase):
    def test_a_disabled_line_loses_the_streams_it_has_open(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        alice = User(0, "alice", PW_HASH, max_connections=2)
        daemon = start_daemon(
            self,
            workdir,
            [alice, User(0, "bob", PW_HASH)],
            connections={"recheck_seconds": 1.0},
        )
        hers = watch(self, daemon.port, stream("alice"), "tv")
        his = watch(self, daemon.port, stream("bob"), "tv")
        self.assertEqual((hers.status, his.status), (200, 200))

        db = open_sync(str(workdir / "data" / "xrelay.sqlite3"))
        stored = db.get_user("alice")
        assert stored is not None
        db.put_user(attrs.evolve(stored, enabled=False))
        db.close()
        # the line is re-read within 2 s; the watch looks every second
        self.assertTrue(hers.ended(timeout=6), "the disabled line kept its stream")
        self.assertEqual(len(his.response.read(188 * 100)), 188 * 100)
        self.assertEqual(watch(self, daemon.port, stream("alice"), "tv").status, 403)


class ClusterLimitTests(SynchronousTestCase):
    """Two daemons sharing one redis-server: lines provisioned in Redis,
    one limit across both, a killed node's slots released."""

    def setUp(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        self.redis = RedisServer(workdir / "redis")
        self.redis.directory.mkdir(parents=True)
        self.redis.start()
        self.addCleanup(self.redis.stop)
        # what a billing system or panel does to provision a line
        self.redis.command(
            "HSET", "xrelay:line:alice", "password_hash", PW_HASH, "max_connections", 2
        )
        self.nodes = [
            start_daemon(
                self,
                workdir / name,
                [],
                server={"node_name": name},
                auth={"checkers": ["redis"]},
                connections={"zap_grace": ZAP_GRACE},
                redis={
                    "url": self.redis.url,
                    "heartbeat": HEARTBEAT,
                    "node_timeout": NODE_TIMEOUT,
                },
            )
            for name in ("n1", "n2")
        ]
        wait_for(
            lambda: len(self.node_keys()) == 2, 10, "both nodes registered in Redis"
        )

    def node_keys(self) -> list[bytes]:
        keys = self.redis.command("KEYS", "xrelay:node:*")
        assert isinstance(keys, list)
        return keys

    def test_one_limit_across_nodes_and_a_killed_node_is_released(self) -> None:
        n1, n2 = self.nodes
        viewers = at_once(
            self,
            [
                (node.port, stream("alice", 1 + n % 2), f"tv-{n}")
                for n, node in enumerate([n1, n2] * 4)
            ],
        )
        admitted = [v for v in viewers if v.status == 200]
        self.assertEqual(len(admitted), 2, [v.status for v in viewers])
        self.assertEqual(
            {v.first for v in viewers if v.status != 200},
            {b"max connections reached\n"},
        )
        for node in self.nodes:
            info = player_api(node.port, "alice")["user_info"]
            self.assertEqual(info["active_cons"], "2", node.workdir.name)

        # the node holding a viewer crashes
        crashed = next(node for node in self.nodes if node.port == admitted[0].port)
        other = n2 if crashed is n1 else n1
        assert crashed.process is not None
        os.kill(crashed.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        crashed.process.wait(10)
        waited = wait_for(
            lambda: watch(self, other.port, stream("alice"), "tv-late").status == 200,
            NODE_TIMEOUT + 5,
            "a crashed node's viewers were released",
        )
        released = time.monotonic() - killed
        self.assertGreater(released, NODE_TIMEOUT - HEARTBEAT - 0.5, "too early?")
        self.assertLess(
            released, NODE_TIMEOUT + 1.5, "released within redis.node_timeout"
        )
        self.assertLessEqual(waited, released)
        self.assertEqual(len(self.node_keys()), 1)


class BruteForceTests(SynchronousTestCase):
    """1,000 wrong passwords from 127.0.0.2 get throttled; the right
    password from 127.0.0.3 still works at once.  Counts in memory."""

    with_redis = False

    def setUp(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        sections: dict[str, dict[str, Any]] = {}
        if self.with_redis:
            self.redis = RedisServer(workdir / "redis")
            self.redis.directory.mkdir(parents=True)
            self.redis.start()
            self.addCleanup(self.redis.stop)
            sections["redis"] = {"url": self.redis.url}
        self.daemon = start_daemon(
            self, workdir, [User(0, "alice", PW_HASH, max_connections=2)], **sections
        )

    def hammer(
        self,
        count: int,
        source: str,
        pool: int,
        seconds: float,
        path: Callable[[int], str] = lambda n: stream("alice", password=f"guess{n}"),
    ) -> Counter[int]:
        """``count`` wrong passwords for alice from ``source`` (``path(n)``
        the n-th request), over ``pool`` keep-alive connections at once;
        stops at ``seconds``."""
        statuses: Counter[int] = Counter()
        numbers = iter(range(count))
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def worker() -> None:
            conn = connection(self.daemon.port, source)
            try:
                while time.monotonic() < deadline:
                    with lock:
                        n = next(numbers, None)
                    if n is None:
                        return
                    conn.request("GET", path(n))
                    response = conn.getresponse()
                    response.read()
                    with lock:
                        statuses[response.status] += 1
            finally:
                conn.close()

        threads = [threading.Thread(target=worker) for _ in range(pool)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 10)
        return statuses

    def test_a_thousand_wrong_passwords_from_one_address(self) -> None:
        started = time.monotonic()
        statuses = self.hammer(1000, "127.0.0.2", pool=20, seconds=60)
        elapsed = time.monotonic() - started
        self.assertEqual(sum(statuses.values()), 1000, f"{statuses} in {elapsed:.1f}s")
        self.assertEqual(set(statuses), {401, 429})
        # defaults: 5 free failures, then 1 s, 2 s, 4 s ... waits: only a
        # handful of the guesses ever reach a password hash
        self.assertGreaterEqual(statuses[401], 5)
        self.assertLessEqual(statuses[401], 20, f"{statuses} in {elapsed:.1f}s")

        # the owner, from another address, gets in at once
        started = time.monotonic()
        info = player_api(self.daemon.port, "alice", source="127.0.0.3")
        self.assertLess(time.monotonic() - started, 2.0)
        self.assertEqual(
            (info["user_info"]["auth"], info["user_info"]["status"]), (1, "Active")
        )
        viewer = watch(self, self.daemon.port, stream("alice"), "TV", "127.0.0.3")
        self.assertEqual((viewer.status, viewer.first[:1]), (200, b"\x47"))
        # the attacking address is still held back, whatever it sends
        status, _ = fetch(self.daemon.port, stream("alice"), source="127.0.0.2")
        self.assertEqual(status, 429)
        log = self.daemon.output()
        self.assertNotIn("guess1", log)

    def test_guessing_through_player_api_is_throttled_too(self) -> None:
        def login(n: int) -> str:
            query = urlencode({"username": "alice", "password": f"guess{n}"})
            return f"/player_api.php?{query}"

        started = time.monotonic()
        statuses = self.hammer(1000, "127.0.0.4", pool=20, seconds=60, path=login)
        # a panel answers a failed login 200 {"auth": 0}, throttled or not;
        # that 1,000 of them are answered this fast shows few were hashed
        self.assertEqual(statuses, Counter({200: 1000}))
        self.assertLess(time.monotonic() - started, 30)
        # the address is held back now, even with the right password
        status, _ = fetch(self.daemon.port, stream("alice"), source="127.0.0.4")
        self.assertEqual(status, 429)
        info = player_api(self.daemon.port, "alice", source="127.0.0.4")
        self.assertEqual(info, {"user_info": {"auth": 0}})
        # and the owner elsewhere is not
        info = player_api(self.daemon.port, "alice", source="127.0.0.3")
        self.assertEqual(info["user_info"]["auth"], 1)


class RedisBruteForceTests(BruteForceTests):
    """The same, with the counts in Redis."""

    with_redis = True


class TlsTests(SynchronousTestCase):
    def test_https_serves_everything_and_reports_its_port(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir(parents=True)
        cert, key = self_signed_cert()
        (workdir / "cert.pem").write_bytes(cert)
        (workdir / "key.pem").write_bytes(key)
        tls_port = free_port()
        daemon = start_daemon(
            self,
            workdir,
            [User(0, "alice", PW_HASH)],
            "--http",
            f"ssl:{tls_port}:interface=127.0.0.1:"
            f"privateKey={workdir / 'key.pem'}:certKey={workdir / 'cert.pem'}",
        )
        tls = ssl.create_default_context(cafile=str(workdir / "cert.pem"))
        secure = player_api(tls_port, "alice", tls=tls)["server_info"]
        self.assertEqual(secure["server_protocol"], "https")
        self.assertEqual(secure["https_port"], str(tls_port))
        self.assertEqual(secure["port"], str(daemon.port))
        plain = player_api(daemon.port, "alice")["server_info"]
        self.assertEqual(plain["server_protocol"], "http")
        self.assertEqual(plain["https_port"], str(tls_port))
        viewer = watch(self, tls_port, stream("alice"), "TV", tls=tls)
        self.assertEqual((viewer.status, viewer.first[:1]), (200, b"\x47"))
        self.assertEqual(
            fetch(tls_port, stream("alice", password="x"), tls=tls)[0], 401
        )


class RedisOutageTests(SynchronousTestCase):
    def test_the_daemon_keeps_serving_while_redis_is_away(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        redis = RedisServer(workdir / "redis")
        redis.directory.mkdir(parents=True)
        redis.start()
        self.addCleanup(redis.stop)
        redis.command("HSET", "xrelay:line:alice", "password_hash", PW_HASH)
        daemon = start_daemon(
            self,
            workdir,
            [],
            auth={"checkers": ["redis"]},
            connections={"zap_grace": ZAP_GRACE},
            redis={
                "url": redis.url,
                "heartbeat": HEARTBEAT,
                "node_timeout": NODE_TIMEOUT,
            },
        )
        port = daemon.port
        wait_for(lambda: redis.command("KEYS", "xrelay:node:*"), 10, "registered")
        self.assertEqual(player_api(port, "alice")["user_info"]["status"], "Active")
        tv = watch(self, port, stream("alice"), "TV")
        self.assertEqual(tv.status, 200)

        redis.stop()
        # a line seen before keeps working from its last known state, and
        # its limit (1) is kept by this node alone
        self.assertEqual(player_api(port, "alice")["user_info"]["status"], "Active")
        self.assertEqual(watch(self, port, stream("alice"), "Phone").status, 403)
        self.assertEqual(watch(self, port, stream("alice", 2), "TV").status, 200)
        self.assertTrue(tv.ended(), "the player's old stream was replaced")
        # lines never seen: 503, not "wrong password" (players would drop
        # the account)
        self.assertEqual(fetch(port, stream("bob"))[0], 503)
        self.assertEqual(player_api(port, "bob"), 503)
        log = daemon.output()
        self.assertIn("Redis unavailable", log)
        self.assertIsNone(daemon.process and daemon.process.poll())

        redis.start()
        redis.command("HSET", "xrelay:line:bob", "password_hash", PW_HASH)
        wait_for(lambda: player_api(port, "bob") != 503, 20, "logins read Redis again")
        self.assertEqual(player_api(port, "bob")["user_info"]["status"], "Active")
        self.assertIn("Redis is back", daemon.output())
