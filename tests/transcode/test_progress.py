"""ffmpeg's -progress blocks, parsed from stderr lines."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xrelay.transcode import Progress, ProgressParser

# What ffmpeg 5.1 wrote for one second of encoding (-progress pipe:2).
BLOCK = """\
frame=250
fps=24.97
stream_0_0_q=29.0
bitrate= 450.7kbits/s
total_size=564940
out_time_us=10026667
out_time_ms=10026667
out_time=00:00:10.026667
dup_frames=1
drop_frames=3
speed=1.01x
progress=continue
"""

FIRST = """\
frame=2
fps=0.00
stream_0_0_q=0.0
bitrate=N/A
total_size=0
out_time_us=N/A
out_time_ms=N/A
out_time=N/A
dup_frames=0
drop_frames=0
speed=   0x
progress=continue
"""


def feed(parser: ProgressParser, text: str) -> list[str]:
    """The lines the parser left to the caller."""
    return [line for line in text.splitlines() if not parser.line(line)]


class ProgressTests(SynchronousTestCase):
    def test_a_block(self) -> None:
        parser = ProgressParser()
        self.assertEqual(feed(parser, BLOCK), [])
        self.assertEqual(
            parser.current,
            Progress(
                frame=250,
                fps=24.97,
                speed=1.01,
                bitrate_kbps=450.7,
                out_seconds=10.026667,
                dropped_frames=3,
                duplicated_frames=1,
            ),
        )
        self.assertEqual(parser.reports, 1)

    def test_not_available_values(self) -> None:
        parser = ProgressParser()
        feed(parser, FIRST)
        self.assertEqual(
            parser.current, Progress(frame=2, fps=0.0, speed=0.0, bitrate_kbps=None)
        )

    def test_a_block_counts_once_it_ends(self) -> None:
        parser = ProgressParser()
        feed(parser, BLOCK)
        feed(parser, "frame=300\nfps=25.00\nspeed=0.5x\n")
        self.assertEqual(parser.current.frame, 250)  # still the last whole block
        feed(parser, "progress=end\n")
        self.assertEqual((parser.current.frame, parser.current.speed), (300, 0.5))
        self.assertEqual(parser.reports, 2)

    def test_other_lines_are_left_to_the_caller(self) -> None:
        parser = ProgressParser()
        errors = [
            "[mpegts @ 0x55d0c0] Packet corrupt (stream = 0, dts = 1234).",
            "Error while decoding stream #0:0: Invalid data found",
            "pipe:0: Invalid data found when processing input",
            "x264 [warning]: VBV underflow (frame 12, -1234 bits)",
            "key=value",  # not a progress key
            "",
        ]
        self.assertEqual(feed(parser, "\n".join(errors)), errors[:-1])
        self.assertEqual(parser.current, Progress())

    def test_garbage_values_are_unknown(self) -> None:
        parser = ProgressParser()
        feed(parser, "frame=lots\nfps=\nspeed=fastx\nprogress=continue\n")
        self.assertEqual(parser.current, Progress())
