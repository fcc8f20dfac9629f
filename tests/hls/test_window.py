"""The segment window and its playlist, read back by a strict parser."""

from __future__ import annotations

import itertools

from twisted.trial.unittest import SynchronousTestCase

from xrelay.hls import Cut, SegmentWindow

from ._m3u8 import MediaPlaylist, PlaylistError, check_follows, parse


def cut(size: int = 10, duration: float = 4.0, discontinuity: bool = False) -> Cut:
    return Cut(b"\x47" * size, duration, discontinuity)


def playlist(window: SegmentWindow) -> MediaPlaylist:
    return parse(window.playlist().decode("ascii"))


class WindowTests(SynchronousTestCase):
    def test_slides_and_keeps_a_window_more_for_late_fetches(self) -> None:
        window = SegmentWindow(listed=3, max_bytes=10**6, target_seconds=4.0)
        previous = None
        for n in range(10):
            window.add(cut(duration=4.0 + n / 100))
            current = playlist(window)
            if previous is not None:
                check_follows(previous, current)
            previous = current
        assert previous is not None
        self.assertEqual(previous.media_sequence, 7)
        self.assertEqual([s.uri for s in previous.segments], ["7.ts", "8.ts", "9.ts"])
        self.assertEqual([s.duration for s in previous.segments], [4.07, 4.08, 4.09])
        self.assertEqual(previous.version, 3)
        self.assertEqual(previous.target_duration, 4)
        self.assertFalse(previous.ended)
        self.assertEqual(
            [window.get(n) is not None for n in range(11)],
            [False] * 4 + [True] * 6 + [False],
        )

    def test_a_byte_bound_drops_the_oldest_even_listed(self) -> None:
        window = SegmentWindow(listed=5, max_bytes=35, target_seconds=4.0)
        for _ in range(6):
            window.add(cut(size=10))
        self.assertEqual(window.bytes, 30)
        self.assertEqual([s.sequence for s in window.segments], [3, 4, 5])
        self.assertEqual(playlist(window).media_sequence, 3)
        window.add(cut(size=100))  # bigger than the bound: kept alone
        self.assertEqual([s.sequence for s in window.segments], [6])

    def test_discontinuities_numbered_across_the_slide(self) -> None:
        window = SegmentWindow(listed=2, max_bytes=10**6, target_seconds=4.0)
        lists = []
        for flag in (False, True, False, True, True, False, False):
            window.add(cut(discontinuity=flag))
            lists.append(playlist(window))
        for before, after in itertools.pairwise(lists):
            check_follows(before, after)
        text = window.playlist().decode()
        self.assertEqual(lists[-1].discontinuity_sequence, 3)
        self.assertNotIn("#EXT-X-DISCONTINUITY\n", text)
        # a listed segment keeps its tag; the sequence counts those gone
        self.assertEqual(lists[4].discontinuity_sequence, 1)
        self.assertEqual([s.discontinuity for s in lists[4].segments], [True, True])
        self.assertEqual([s.discontinuity_sequence for s in lists[4].segments], [2, 3])

    def test_target_duration_grows_with_long_segments_never_shrinks(self) -> None:
        window = SegmentWindow(listed=2, max_bytes=10**6, target_seconds=4.0)
        window.add(cut(duration=4.0))
        self.assertEqual(playlist(window).target_duration, 4)
        window.add(cut(duration=6.0))
        for _ in range(3):
            window.add(cut(duration=4.0))
        self.assertEqual(playlist(window).target_duration, 6)
        self.assertEqual(SegmentWindow(2, 10, 2.5).target_duration, 3)

    def test_ended(self) -> None:
        window = SegmentWindow(listed=3, max_bytes=10**6, target_seconds=4.0)
        window.add(cut())
        before = playlist(window)
        window.end()
        after = playlist(window)
        self.assertTrue(after.ended)
        self.assertTrue(window.playlist().endswith(b"#EXT-X-ENDLIST\n"))
        self.assertEqual(after.segments, before.segments)
        empty = SegmentWindow(listed=3, max_bytes=10**6, target_seconds=4.0)
        empty.end()
        self.assertEqual(playlist(empty).segments, ())

    def test_the_playlist_is_built_once_per_change(self) -> None:
        window = SegmentWindow(listed=3, max_bytes=10**6, target_seconds=4.0)
        window.add(cut())
        self.assertIs(window.playlist(), window.playlist())
        first = window.playlist()
        window.add(cut())
        self.assertIsNot(window.playlist(), first)


class ParserTests(SynchronousTestCase):
    """The strict parser must reject what the RFC forbids, or the tests
    above would prove nothing."""

    GOOD = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
        "#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:4.000,\n5.ts\n"
    )

    def test_accepts_a_good_one(self) -> None:
        parsed = parse(self.GOOD)
        self.assertEqual(parsed.media_sequence, 5)
        self.assertEqual(parsed.segments[0].uri, "5.ts")

    def test_rejects(self) -> None:
        bad = {
            "no header": self.GOOD.replace("#EXTM3U\n", ""),
            "no target": self.GOOD.replace("#EXT-X-TARGETDURATION:4\n", ""),
            "too long": self.GOOD.replace("4.000", "4.600"),
            "decimal in v1": self.GOOD.replace("#EXT-X-VERSION:3\n", ""),
            "uri without extinf": self.GOOD + "6.ts\n",
            "extinf without uri": self.GOOD + "#EXTINF:4.000,\n",
            "unknown tag": self.GOOD + "#EXT-X-FOO\n",
            "header after segments": self.GOOD + "#EXT-X-VERSION:3\n",
            "after endlist": self.GOOD + "#EXT-X-ENDLIST\n#EXTINF:4,\n6.ts\n",
            "unterminated": self.GOOD.rstrip("\n"),
        }
        for name, text in bad.items():
            with self.assertRaises(PlaylistError, msg=name):
                parse(text)

    def test_rejects_a_bad_reload(self) -> None:
        before = parse(self.GOOD)
        for text in (
            self.GOOD.replace("SEQUENCE:5", "SEQUENCE:4").replace("5.ts", "4.ts"),
            self.GOOD.replace("TARGETDURATION:4", "TARGETDURATION:5"),
            self.GOOD.replace("5.ts", "other.ts"),
        ):
            with self.assertRaises(PlaylistError):
                check_follows(before, parse(text))
