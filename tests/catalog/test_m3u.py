"""The M3U parser: what it accepts, and every problem it names."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xrelay.catalog import Entry, Problem, check_source_url, parse_m3u

PLAYLIST = (
    b'\xef\xbb\xbf#EXTM3U url-tvg="http://epg.example/guide.xml"\r\n'
    b"\r\n"
    b'#EXTINF:-1 group-title="UK, News" tvg-logo=http://img/bbc.png '
    b'tvg-id="bbc1.uk" tvg-name="BBC One",BBC One, HD\r\n'
    b"#EXTVLCOPT:http-user-agent=Mozilla\r\n"
    b"http://up.example/bbc1.ts\r\n"
    b"#EXTINF:0 tvg-chno=7 tvg-name='Seven',\r\n"
    b"#EXTGRP:Local\r\n"
    b"udp://@239.1.1.7:1234\r\n"
    b"# a comment\r\n"
    b"rtp://239.1.1.8:5004\r\n"
)


class ParseTests(SynchronousTestCase):
    def test_extended_playlist(self) -> None:
        playlist = parse_m3u(PLAYLIST)
        self.assertEqual(playlist.problems, ())
        self.assertEqual(playlist.header, {"url-tvg": "http://epg.example/guide.xml"})
        self.assertEqual(
            playlist.entries,
            (
                Entry(
                    line=3,
                    name="BBC One, HD",
                    url="http://up.example/bbc1.ts",
                    group="UK, News",
                    tvg_id="bbc1.uk",
                    logo="http://img/bbc.png",
                ),
                Entry(6, "Seven", "udp://@239.1.1.7:1234", group="Local", chno=7),
                Entry(10, "rtp://239.1.1.8:5004", "rtp://239.1.1.8:5004"),
            ),
        )

    def test_line_endings_do_not_matter(self) -> None:
        lf = PLAYLIST.replace(b"\r\n", b"\n")
        cr = PLAYLIST.replace(b"\r\n", b"\r")
        self.assertEqual(parse_m3u(lf), parse_m3u(PLAYLIST))
        self.assertEqual(parse_m3u(cr), parse_m3u(PLAYLIST))

    def test_plain_m3u(self) -> None:
        """No header, bare URL lines: each is an entry named after its URL."""
        playlist = parse_m3u(b"http://a/1.ts\nfile:///srv/loop.ts\n")
        self.assertEqual(
            [(e.line, e.name) for e in playlist.entries],
            [(1, "http://a/1.ts"), (2, "file:///srv/loop.ts")],
        )
        self.assertEqual(playlist.problems, ())

    def test_group_title_wins_over_extgrp(self) -> None:
        playlist = parse_m3u(b'#EXTINF:-1 group-title="A",X\n#EXTGRP:B\nhttp://a/x\n')
        self.assertEqual(playlist.entries[0].group, "A")

    def test_extgrp_applies_to_the_next_entry_only(self) -> None:
        playlist = parse_m3u(
            b"#EXTGRP:B\n#EXTINF:-1,X\nhttp://a/x\n#EXTINF:-1,Y\nhttp://a/y\n"
        )
        self.assertEqual([e.group for e in playlist.entries], ["B", ""])

    def test_attribute_names_are_case_insensitive(self) -> None:
        playlist = parse_m3u(b'#EXTINF:-1 TVG-ID="a.b" Group-Title=G,X\nhttp://a/x\n')
        self.assertEqual(playlist.entries[0].tvg_id, "a.b")
        self.assertEqual(playlist.entries[0].group, "G")

    def test_no_duration(self) -> None:
        playlist = parse_m3u(b'#EXTINF:tvg-id="a",X\nhttp://a/x\n')
        self.assertEqual(playlist.entries[0].tvg_id, "a")

    def test_empty_input(self) -> None:
        self.assertEqual(parse_m3u(b"").entries, ())
        self.assertEqual(parse_m3u(b"#EXTM3U\n").problems, ())


class ProblemTests(SynchronousTestCase):
    def problems(self, data: bytes) -> list[Problem]:
        return list(parse_m3u(data).problems)

    def test_extinf_without_url(self) -> None:
        self.assertEqual(
            self.problems(b"#EXTINF:-1,A\n#EXTINF:-1,B\nhttp://a/b\n#EXTINF:-1,C\n"),
            [
                Problem(1, "#EXTINF is not followed by a URL line"),
                Problem(4, "#EXTINF is not followed by a URL line"),
            ],
        )

    def test_unterminated_quote(self) -> None:
        """The bad line is named; its URL does not become an entry."""
        playlist = parse_m3u(b'#EXTINF:-1 tvg-name="A,B\nhttp://a/x\n')
        self.assertEqual(
            playlist.problems, (Problem(1, "unterminated quote in attribute tvg-name"),)
        )
        self.assertEqual(playlist.entries, ())

    def test_url_of_a_bad_extinf_is_still_checked(self) -> None:
        self.assertEqual(
            [p.line for p in self.problems(b'#EXTINF:-1 a="x\n\nrtsp://h/x\n')],
            [1, 3],
        )

    def test_schemes(self) -> None:
        problems = self.problems(
            b"rtsp://h/x\nexec:ffmpeg -i x -f mpegts -\nhttp:///x\n"
            b"www.example.com/x.ts\nhttp://h/a b\nfile:\n"
        )
        self.assertEqual(
            problems,
            [
                Problem(
                    1,
                    "unsupported URL scheme 'rtsp' "
                    "(allowed: http, https, udp, rtp, tcp, file)",
                ),
                Problem(
                    2,
                    "exec: sources run commands on the server; refused from a playlist",
                ),
                Problem(3, "http URL has no host"),
                Problem(4, "not a URL: 'www.example.com/x.ts' (expected scheme://...)"),
                Problem(5, "URL contains whitespace"),
                Problem(6, "not a URL: 'file:' (expected scheme://...)"),
            ],
        )

    def test_empty_name(self) -> None:
        self.assertEqual(
            self.problems(b"#EXTINF:-1 tvg-id=x,  \nhttp://a/x\n"),
            [Problem(1, "empty channel name")],
        )

    def test_tvg_name_stands_in_for_an_empty_name(self) -> None:
        playlist = parse_m3u(b'#EXTINF:-1 tvg-name="Named",\nhttp://a/x\n')
        self.assertEqual(playlist.entries[0].name, "Named")

    def test_bad_tvg_chno(self) -> None:
        self.assertEqual(
            self.problems(b"#EXTINF:-1 tvg-chno=0,A\nhttp://a/x\n"),
            [
                Problem(
                    1, "tvg-chno must be a whole number from 1 to 2147483647, not '0'"
                )
            ],
        )

    def test_malformed_attributes(self) -> None:
        self.assertEqual(
            self.problems(
                b"#EXTINF:-1 radio,A\nhttp://a/x\n#EXTINF:-1 a=1\nhttp://a/y\n"
            ),
            [
                Problem(1, "expected key=value at column 4"),
                Problem(3, "#EXTINF has no ',' before the channel name"),
            ],
        )

    def test_duplicate_url(self) -> None:
        self.assertEqual(
            self.problems(b"#EXTINF:-1,A\nhttp://a/x\n#EXTINF:-1,B\nhttp://a/x\n"),
            [Problem(4, "same URL as the entry on line 1")],
        )

    def test_invalid_utf8(self) -> None:
        self.assertEqual(
            self.problems(b"#EXTINF:-1,\xff\nhttp://a/x\n"),
            [Problem(1, "not valid UTF-8")],
        )

    def test_check_source_url_allows_exec_by_default(self) -> None:
        """Documents written by the operator may run commands."""
        self.assertIsNone(check_source_url("exec:ffmpeg -re -i in.mp4 -f mpegts -"))
        self.assertEqual(check_source_url("exec: "), "exec: source has no command")


_LINES = st.sampled_from(
    [
        "#EXTM3U",
        '#EXTM3U x-tvg-url="a',
        "#EXTINF:-1,Name",
        '#EXTINF:-1 tvg-id="x" group-title="G, H",Name',
        "#EXTINF:-1 tvg-chno=",
        "#EXTINF:",
        "#EXTGRP:G",
        "#EXTVLCOPT:x=y",
        "http://h/a",
        "http://h/b",
        "exec:x",
        "",
        " ",
    ]
)


class PropertyTests(SynchronousTestCase):
    @given(st.binary())
    def test_any_bytes(self, data: bytes) -> None:
        playlist = parse_m3u(data)
        last_line = len(data.splitlines())
        for problem in playlist.problems:
            self.assertTrue(1 <= problem.line <= last_line)

    @given(
        st.lists(st.one_of(_LINES, st.text())), st.sampled_from(["\n", "\r\n", "\r"])
    )
    def test_playlist_like_text(self, lines: list[str], newline: str) -> None:
        """Never raises; every entry is importable and each URL appears once;
        the newline convention changes nothing."""
        lines = [line for line in lines if "\r" not in line and "\n" not in line]
        data = newline.join(lines).encode()
        playlist = parse_m3u(data)
        urls = [e.url for e in playlist.entries]
        self.assertEqual(len(urls), len(set(urls)))
        for entry in playlist.entries:
            self.assertIsNone(check_source_url(entry.url))
            self.assertFalse(entry.url.startswith("exec:"))
            self.assertTrue(entry.name)
        self.assertEqual(parse_m3u("\n".join(lines).encode()), playlist)
