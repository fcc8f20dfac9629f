"""Small XMLTV documents and helpers shared by the guide tests."""

from __future__ import annotations

import time

NOW = 1_750_000_000  # 2025-06-15 15:06:40 UTC
HOUR = 3600


def stamp(seconds: float, zone: str = " +0000") -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds)) + zone


def programme(
    channel: str,
    start: float,
    stop: float | None,
    title: str = "Show",
    extra: str = "",
) -> str:
    stop_attr = f' stop="{stamp(stop)}"' if stop is not None else ""
    return (
        f'<programme start="{stamp(start)}"{stop_attr} channel="{channel}">'
        f"<title>{title}</title>{extra}</programme>\n"
    )


def guide(*items: str, channels: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A document with ``channels`` ((id, display name), ...) and ``items``."""
    head = "".join(
        f'<channel id="{i}"><display-name>{name}</display-name></channel>\n'
        for i, name in channels
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE tv SYSTEM "xmltv.dtd">\n'
        f"<tv>\n{head}{''.join(items)}</tv>\n"
    ).encode()


def hourly(channel: str, first: float, count: int, title: str = "Show") -> list[str]:
    """``count`` back-to-back one-hour programmes from ``first``."""
    return [
        programme(channel, first + i * HOUR, first + (i + 1) * HOUR, f"{title} {i}")
        for i in range(count)
    ]
