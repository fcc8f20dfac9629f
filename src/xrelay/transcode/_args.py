"""The ffmpeg command line of a profile.  Pure."""

from __future__ import annotations

from collections.abc import Sequence

from xrelay.config import TranscodeProfile

SOFTWARE = "libx264"

# The stream from the parent channel, on stdin; the result, on stdout.
PIPE_IN = ("-f", "mpegts", "-i", "pipe:0")
PIPE_OUT = ("-f", "mpegts", "-flush_packets", "1", "pipe:1")

# x264's preset names, mapped to NVENC's p1 (fastest) .. p7 (best) ...
_NVENC_PRESETS = {
    "ultrafast": "p1",
    "superfast": "p2",
    "veryfast": "p3",
    "faster": "p3",
    "fast": "p4",
    "medium": "p4",
    "slow": "p5",
    "slower": "p6",
    "veryslow": "p7",
}
# ... and to Quick Sync's names, which start at veryfast.
_QSV_FASTEST = "veryfast"


def ffmpeg_args(
    ffmpeg: str,
    profile: TranscodeProfile,
    encoder: str,
    source: Sequence[str] = PIPE_IN,
    sink: Sequence[str] = PIPE_OUT,
) -> list[str]:
    """argv for ffmpeg re-encoding ``source`` to ``sink`` by ``profile``
    with video ``encoder`` (the profile's own, or libx264 when its hardware
    is not usable).

    Progress goes to stderr as ``key=value`` lines every second (see
    ProgressParser), next to warnings and errors.  Keyframes come every
    ``keyframe_interval`` seconds of stream time whatever the frame rate, so
    a player joining the derived channel starts within that.
    """
    rate = profile.video_bitrate
    audio = {
        "aac": ["-map", "0:a:0?", "-c:a", "aac", "-b:a", f"{profile.audio_bitrate}k"],
        "copy": ["-map", "0:a:0?", "-c:a", "copy"],
        "none": ["-an"],
    }[profile.audio_codec]
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-nostats",
        "-progress",
        "pipe:2",
        "-stats_period",
        "1",
        *(["-vaapi_device", profile.vaapi_device] if encoder == "h264_vaapi" else []),
        # A relayed stream may start or jump anywhere: make up missing
        # timestamps, skip damaged packets, and probe no more than 2 s.
        "-fflags",
        "+genpts+discardcorrupt",
        "-analyzeduration",
        "2000000",
        *source,
        "-map",
        "0:v:0?",
        "-vf",
        ",".join(_filters(profile, encoder)),
        "-c:v",
        encoder,
        *_encoder_options(profile, encoder),
        "-b:v",
        f"{rate}k",
        "-maxrate",
        f"{rate}k",
        "-bufsize",
        f"{2 * rate}k",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{profile.keyframe_interval:g})",
        *audio,
        *sink,
    ]


def _filters(profile: TranscodeProfile, encoder: str) -> list[str]:
    # -2: the width that keeps the aspect ratio, rounded to even (4:2:0).
    fps = [f"fps={profile.fps:g}"] if profile.fps else []
    if encoder == "h264_vaapi":  # scaled on the GPU, from uploaded frames
        return [*fps, "format=nv12", "hwupload", f"scale_vaapi=w=-2:h={profile.height}"]
    return [*fps, f"scale=-2:{profile.height}"]


def _encoder_options(profile: TranscodeProfile, encoder: str) -> list[str]:
    preset = profile.preset
    match encoder:
        case "libx264":
            return ["-preset", preset, "-pix_fmt", "yuv420p"]
        case "h264_nvenc":
            return ["-preset", _NVENC_PRESETS[preset], "-forced-idr", "1"]
        case "h264_qsv":
            if preset in ("ultrafast", "superfast"):
                preset = _QSV_FASTEST
            return ["-preset", preset, "-pix_fmt", "nv12"]
    return []  # h264_vaapi: no presets
