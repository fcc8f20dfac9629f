"""[transcode] and its [transcode.profiles.NAME] tables in the config."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from xrelay.config import (
    ConfigError,
    TranscodeProfile,
    example_toml,
    parse_config,
    with_overrides,
)


def problems(text: str) -> list[tuple[str, str]]:
    try:
        parse_config(text, "x.toml")
    except ConfigError as e:
        return [(p.key, p.reason) for p in e.problems]
    raise AssertionError("expected a ConfigError")


FFMPEG = f'[transcode]\nffmpeg = "{sys.executable}"\n'  # any executable


class ProfileTests(SynchronousTestCase):
    def test_no_profiles_by_default(self) -> None:
        config = parse_config("", "x.toml")
        self.assertEqual(config.transcode.profiles, {})
        self.assertEqual(config.transcode.ffmpeg, "ffmpeg")

    def test_named_profiles_with_defaults_for_keys_left_out(self) -> None:
        config = parse_config(
            FFMPEG + "[transcode.profiles.720p]\n"
            "[transcode.profiles.mobile]\n"
            'height = 360\nvideo_bitrate = 800\npreset = "faster"\n'
            'audio_codec = "copy"\nvideo_codec = "h264_qsv"\nfps = 25\n',
            "x.toml",
        )
        self.assertEqual(
            config.transcode.profiles,
            {
                "720p": TranscodeProfile(),
                "mobile": TranscodeProfile(
                    height=360,
                    video_bitrate=800,
                    preset="faster",
                    audio_codec="copy",
                    video_codec="h264_qsv",
                    fps=25.0,
                ),
            },
        )
        self.assertEqual(
            TranscodeProfile(),
            TranscodeProfile(
                video_codec="libx264",
                height=720,
                video_bitrate=2500,
                preset="veryfast",
                audio_codec="aac",
            ),
        )

    def test_problems_name_the_profile_and_key(self) -> None:
        self.assertEqual(
            problems(
                FFMPEG + "[transcode.profiles.hd]\n"
                'height = 721\nvideo_codec = "h265_magic"\nbitrate = 1\n'
                "preset = 3\n"
                "[transcode.profiles.ok]\n"
            ),
            [
                ("transcode.profiles.hd.height", "must be even, not 721"),
                (
                    "transcode.profiles.hd.video_codec",
                    "must be one of 'libx264', 'h264_vaapi', 'h264_nvenc', "
                    "'h264_qsv', not 'h265_magic'",
                ),
                (
                    "transcode.profiles.hd.bitrate",
                    "unknown key (known: video_codec, height, video_bitrate, "
                    "preset, fps, keyframe_interval, audio_codec, audio_bitrate, "
                    "vaapi_device)",
                ),
                ("transcode.profiles.hd.preset", "must be a string, not integer 3"),
            ],
        )

    def test_bad_profile_names_and_shapes(self) -> None:
        self.assertEqual(
            problems(
                FFMPEG + '[transcode.profiles."a b"]\n[transcode.profiles]\nflat = 1\n'
            ),
            [
                (
                    "transcode.profiles.a b",
                    "bad name: must be up to 32 letters, digits, '_' or '-', not 'a b'",
                ),
                ("transcode.profiles.flat", "must be a table, not integer 1"),
            ],
        )
        self.assertEqual(
            problems("[transcode]\nprofiles = 3\n"),
            [("transcode.profiles", "must be a table, not integer 3")],
        )

    def test_missing_ffmpeg_is_an_error_naming_the_key(self) -> None:
        found = problems(
            '[transcode]\nffmpeg = "/nonexistent/ffmpeg"\n'
            "[transcode.profiles.720p]\n[transcode.profiles.small]\n"
        )
        self.assertEqual(
            found,
            [
                (
                    "transcode.ffmpeg",
                    "'/nonexistent/ffmpeg' not found (an executable on PATH or "
                    "a path); transcode.profiles (720p, small) need it",
                )
            ],
        )

    def test_ffmpeg_is_looked_up_on_path(self) -> None:
        empty = Path(self.mktemp())
        empty.mkdir()
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = str(empty)
        self.addCleanup(os.environ.__setitem__, "PATH", path)
        [(key, reason)] = problems("[transcode.profiles.720p]\n")
        self.assertEqual(key, "transcode.ffmpeg")
        self.assertTrue(reason.startswith("'ffmpeg' not found"), reason)
        # Without profiles ffmpeg is not needed.
        self.assertEqual(parse_config("", "x.toml").transcode.profiles, {})

    def test_overriding_ffmpeg_on_the_command_line(self) -> None:
        config = parse_config(FFMPEG + "[transcode.profiles.720p]\n", "x.toml")
        with self.assertRaises(ConfigError) as raised:
            with_overrides(config, {"transcode.ffmpeg": "/nonexistent/ffmpeg"})
        self.assertTrue(
            str(raised.exception).startswith(
                "<command line>: transcode.ffmpeg: '/nonexistent/ffmpeg' not found"
            )
        )

    def test_example_documents_every_profile_key(self) -> None:
        text = example_toml()
        # From the table's header to the next blank line.
        body = text.split("\n[transcode.profiles]\n")[1].split("\n\n")[0]
        for key in TranscodeProfile.__attrs_attrs__:
            self.assertIn(f"\n# {key.name} = ", body)
        # Uncommented, the example profile is the default one.
        uncommented = "\n".join(
            line[2:] if line.startswith("# ") else line for line in body.splitlines()
        ).replace("NAME", "720p")
        config = parse_config(FFMPEG + "[transcode.profiles]\n" + uncommented, "x")
        self.assertEqual(config.transcode.profiles, {"720p": TranscodeProfile()})
