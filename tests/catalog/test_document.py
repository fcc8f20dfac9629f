"""The TOML catalog document: lossless round trips and complete errors."""

from __future__ import annotations

import tomllib

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.catalog import DocumentError, dump_document, parse_document
from xrelay.models import Catalog, Category, Channel, User

from ._rich import rich_catalog


def no_passwords(user_id: int, password: str) -> str:
    raise AssertionError("nothing should be hashed")


def parse(text: str) -> Catalog:
    return parse_document(text, "doc.toml", no_passwords)


def errors(text: str) -> list[str]:
    try:
        parse(text)
    except DocumentError as e:
        return e.errors
    raise AssertionError("no DocumentError")


class RoundTripTests(SynchronousTestCase):
    def test_rich_catalog(self) -> None:
        catalog = rich_catalog()
        self.assertEqual(parse(dump_document(catalog)), catalog)

    def test_empty_catalog(self) -> None:
        self.assertEqual(parse(dump_document(Catalog())), Catalog())

    @given(st.text(min_size=1).filter(str.strip))
    def test_any_text(self, text: str) -> None:
        catalog = rich_catalog(text)
        self.assertEqual(parse(dump_document(catalog)), catalog)

    def test_layout(self) -> None:
        """A warning, the version, one block per record, defaults left out."""
        text = dump_document(rich_catalog())
        self.assertTrue(text.startswith("# xrelay catalog.  It holds password hashes"))
        document = tomllib.loads(text)
        self.assertEqual(document["version"], 1)
        self.assertEqual(
            document["channels"][2], {"id": 9, "number": 1, "name": "Bare"}
        )
        self.assertEqual(document["users"][1]["expires_at"], 0)
        self.assertIn('\n[[channels]]\nid = 9\nnumber = 1\nname = "Bare"\n', text)

    def test_records_are_sorted(self) -> None:
        catalog = parse(
            "version = 1\n"
            '[[categories]]\nid = 2\nkind = "live"\nname = "B"\n'
            '[[categories]]\nid = 1\nkind = "live"\nname = "A"\n'
        )
        self.assertEqual([c.id for c in catalog.categories], [1, 2])


class PasswordTests(SynchronousTestCase):
    def test_plain_password_is_hashed(self) -> None:
        hashed: list[tuple[int, str]] = []

        def hasher(user_id: int, password: str) -> str:
            hashed.append((user_id, password))
            return f"hash-of-{password}"

        catalog = parse_document(
            'version = 1\n[[users]]\nid = 4\nusername = "carol"\npassword = "s3cret"\n',
            "doc.toml",
            hasher,
        )
        self.assertEqual(catalog.users, (User(4, "carol", "hash-of-s3cret"),))
        self.assertEqual(hashed, [(4, "s3cret")])

    def test_nothing_is_hashed_when_something_is_wrong(self) -> None:
        self.assertEqual(
            errors(
                "version = 1\n"
                '[[users]]\nid = 4\nusername = "carol"\npassword = "s3cret"\n'
                "[[users]]\nid = 5\nusername = \"dave\"\npassword = ''\n"
            ),
            [
                "doc.toml: users[1].password: must be 1 to 64 of the characters "
                "A-Z a-z 0-9 . _ @ -"
            ],
        )

    def test_password_and_hash(self) -> None:
        self.assertEqual(
            errors(
                'version = 1\n[[users]]\nid = 4\nusername = "c"\n'
                'password = "p"\npassword_hash = "h"\n'
            ),
            ["doc.toml: users[0].password: give password or password_hash, not both"],
        )


class ErrorTests(SynchronousTestCase):
    def test_invalid_toml(self) -> None:
        (message,) = errors("version = \n")
        self.assertTrue(message.startswith("doc.toml: invalid TOML: "), message)

    def test_version(self) -> None:
        self.assertEqual(
            errors(""), ["doc.toml: version: required (this xrelay reads version 1)"]
        )
        self.assertEqual(
            errors("version = 2"), ["doc.toml: version: 2 is not 1, the version I read"]
        )

    def test_every_error_at_once(self) -> None:
        text = """
version = 1
channel = []
users = "x"

[[categories]]
id = 1
kind = "film"
name = " "

[[categories]]
id = 1
kind = "vod"
name = "Films"
colour = "red"

[[channels]]
id = 0
number = 5
name = "A"
category_id = 1
sources = ["rtsp://h/x", "http://h/a", 3]

[[channels]]
id = 2
number = 5
name = "B"
category_id = 1
sources = ["rtsp://h/x"]
on_demand = 1

[[channels]]
id = 3
number = 9223372036854775807
name = "C"
sources = ["rtsp://h/x"]

[[seasons]]
series_id = 4
number = 1

[[episodes]]
id = 1
series_id = 4
season_number = 1
episode_number = true
title = "T"
source = ""

[[bouquets]]
id = 1
name = "B"
channel_ids = [2, 7, 8]

[[epg_sources]]
id = 1
name = "E"
"""
        self.assertEqual(
            errors(text),
            [
                "doc.toml: channel: unknown table (known: categories, channels, "
                "movies, series, seasons, episodes, bouquets, users, epg_sources)",
                "doc.toml: categories[1].colour: unknown field",
                "doc.toml: channels[0].sources: item 2: expected a string, "
                "got an integer",
                "doc.toml: channels[1].on_demand: expected a boolean, got an integer",
                "doc.toml: episodes[0].episode_number: expected an integer, "
                "got a boolean",
                "doc.toml: users: expected an array of tables ([[...]])",
                "doc.toml: epg_sources[0].url: required",
                "doc.toml: categories[0].name: must not be empty",
                "doc.toml: categories[0].kind: 'film' is not one of live, vod, series",
                "doc.toml: channels[2].sources: item 0: unsupported URL scheme "
                "'rtsp' (allowed: http, https, udp, rtp, tcp, file, exec, transcode)",
                "doc.toml: seasons[0].series_id: no series with id 4",
                "doc.toml: bouquets[0].channel_ids: no channels with id 7, 8",
            ],
        )

    def test_keys_and_references(self) -> None:
        text = """
version = 1

[[categories]]
id = 1
kind = "vod"
name = "Films"

[[categories]]
id = 1
kind = "live"
name = "Again"

[[channels]]
id = 1
number = 1
name = "A"
category_id = 1

[[channels]]
id = 1
number = 1
name = "B"
category_id = 3

[[users]]
id = 1
username = "u"
password_hash = "h"
allowed_output_formats = ["ts", "mkv"]
allowed_networks = ["10.0.0.0/33"]
bouquet_ids = [1]

[[users]]
id = 2
username = "u"
password_hash = "h"

[[users]]
id = 3
username = "me/you"
password_hash = "h"
"""
        self.assertEqual(
            errors(text),
            [
                "doc.toml: categories[1].id: same id as categories[0]",
                "doc.toml: channels[1].id: same id as channels[0]",
                "doc.toml: channels[1].number: same number as channels[0]",
                "doc.toml: channels[1].category_id: no live category with id 3",
                "doc.toml: users[0].bouquet_ids: no bouquets with id 1",
                "doc.toml: users[0].allowed_output_formats: mkv not among "
                "ts, m3u8, rtmp",
                "doc.toml: users[0].allowed_networks: item 0: '10.0.0.0/33' "
                "is not a network",
                "doc.toml: users[1].username: same username as users[0]",
                "doc.toml: users[2].username: must be 1 to 64 of the characters "
                "A-Z a-z 0-9 . _ @ -",
            ],
        )

    def test_integers_fit_in_64_bits(self) -> None:
        self.assertEqual(
            errors(
                'version = 1\n[[categories]]\nid = 1\nkind = "live"\nname = "A"\n'
                f"sort_order = {2**63}\n"
            ),
            ["doc.toml: categories[0].sort_order: integer out of range"],
        )

    def test_minimal_rows(self) -> None:
        catalog = parse(
            'version = 1\n[[categories]]\nid = 1\nkind = "live"\nname = "A"\n'
            '[[channels]]\nid = 1\nnumber = 1\nname = "X"\ncategory_id = 1\n'
        )
        self.assertEqual(catalog.channels, (Channel(1, 1, "X", category_id=1),))
        self.assertEqual(catalog.categories, (Category(1, "live", "A"),))
