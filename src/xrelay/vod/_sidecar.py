"""Metadata files beside the media: xrelay's JSON sidecar and Kodi-style
``.nfo`` XML.  Pure: text in, ``Metadata`` and problems out.

A JSON sidecar (``Title (2008).json``, ``series.json``) is an object with
any of ``name``, ``year``, ``plot``, ``rating``, ``category``, ``poster``,
``backdrop``; ``poster``/``backdrop`` are URLs or image file names beside
it.  From an ``.nfo`` (``<movie>``, ``<tvshow>``, ``<episodedetails>``)
the title, year (or premiered/aired date), plot and rating are read.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ElementTree
from typing import Any

import attrs

MAX_SIDECAR_BYTES = 1 << 20


@attrs.frozen
class Metadata:
    """What a sidecar says; None where it says nothing."""

    name: str | None = None
    year: int | None = None
    plot: str | None = None
    rating: str | None = None
    category: str | None = None
    poster: str | None = None
    backdrop: str | None = None

    def over(self, other: Metadata) -> Metadata:
        """These values, with ``other``'s where these say nothing."""
        return Metadata(
            **{
                field.name: first
                if (first := getattr(self, field.name)) is not None
                else getattr(other, field.name)
                for field in attrs.fields(Metadata)
            }
        )


_TEXT_FIELDS = ("name", "plot", "category", "poster", "backdrop")


def parse_json(text: str) -> tuple[Metadata, list[str]]:
    """The sidecar's metadata and its problems (``field: reason``); a
    field with a problem is left out, the others still count."""
    try:
        data = json.loads(text)
    except ValueError as e:
        return Metadata(), [f"not JSON: {e}"]
    if not isinstance(data, dict):
        return Metadata(), ["must be a JSON object"]
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        if key in _TEXT_FIELDS:
            if isinstance(value, str):
                values[key] = value.strip()
            else:
                problems.append(f"{key}: must be a string")
        elif key == "year":
            if type(value) is int and 1800 <= value <= 2200:
                values[key] = value
            else:
                problems.append("year: must be a whole number like 2008")
        elif key == "rating":
            rating = _rating(value)
            if rating is None:
                problems.append("rating: must be a number from 0 to 10")
            else:
                values[key] = rating
        else:
            known = ", ".join(sorted((*_TEXT_FIELDS, "year", "rating")))
            problems.append(f"{key}: unknown field (known: {known})")
    return Metadata(**values), problems


def _rating(value: object) -> str | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if type(value) not in (int, float):
        return None
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number) or not 0 <= number <= 10:
        return None
    return f"{number:g}"


_DTD = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DATE_YEAR = re.compile(r"^\s*((?:18|19|20|21)\d\d)\b")


def parse_nfo(text: str) -> tuple[Metadata, list[str]]:
    """Kodi-style NFO XML.  Documents with a DTD are refused: entity
    expansion is the way XML files attack their readers."""
    if _DTD.search(text):
        return Metadata(), ["has a DTD or entities, which are not allowed"]
    try:
        root = ElementTree.fromstring(text.strip())
    except ElementTree.ParseError as e:
        return Metadata(), [f"not XML: {e}"]
    if root.tag not in ("movie", "tvshow", "episodedetails"):
        return Metadata(), [
            f"<{root.tag}>: expected <movie>, <tvshow> or <episodedetails>"
        ]

    def child(*names: str) -> str | None:
        for name in names:
            found = root.findtext(name)
            if found is not None and found.strip():
                return found.strip()
        return None

    year = None
    for text_year in (child("year"), child("premiered", "aired")):
        match = _DATE_YEAR.match(text_year or "")
        if match:
            year = int(match[1])
            break
    rating = child("rating", "ratings/rating/value")
    return (
        Metadata(
            name=child("title"),
            year=year,
            plot=child("plot", "outline"),
            rating=_rating(rating) if rating is not None else None,
        ),
        [],
    )
