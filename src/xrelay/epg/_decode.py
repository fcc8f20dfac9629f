"""A downloaded guide file as XML bytes: gzip, xz, bzip2 and zip bodies are
recognised by their first bytes (servers label them every which way) and
decompressed as a stream, with the output capped so a small compressed
file cannot expand without bound."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import zipfile
from collections.abc import Iterator
from typing import Any, Protocol

CHUNK = 64 * 1024
_MAX_LAYERS = 3  # a .gz served with Content-Encoding: gzip is two

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty one
)


class GuideFileError(ValueError):
    """The file cannot be read as a guide (the message says why)."""


def compression(head: bytes) -> str | None:
    """The compression these first bytes announce, if any."""
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


class _Stream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def peek(self, size: int = 0, /) -> bytes: ...


def guide_chunks(path: str, max_bytes: int) -> Iterator[bytes]:
    """The XML in the file at ``path``, in chunks, decompressed; raises
    GuideFileError past ``max_bytes`` of XML or on a corrupt archive."""
    with contextlib.ExitStack() as layers:
        stream: _Stream = layers.enter_context(open(path, "rb"))
        total = 0
        try:
            for _ in range(_MAX_LAYERS):
                kind = compression(stream.peek(8)[:8])
                if kind is None:
                    break
                stream = _open(kind, stream, path, layers)
            while chunk := stream.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise GuideFileError(
                        f"the guide is over {max_bytes // 1_000_000} MB of XML"
                    )
                yield chunk
        except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as e:
            raise GuideFileError(f"corrupt compressed guide: {e}") from None


def _open(kind: str, inner: Any, path: str, layers: contextlib.ExitStack) -> Any:
    """``inner`` decompressed; closed with ``layers``."""
    if kind == "gzip":
        return layers.enter_context(gzip.GzipFile(fileobj=inner, mode="rb"))
    if kind == "xz":
        return layers.enter_context(lzma.LZMAFile(inner))
    if kind == "bzip2":
        return layers.enter_context(bz2.BZ2File(inner))
    archive = layers.enter_context(zipfile.ZipFile(inner))
    members = [i for i in archive.infolist() if not i.is_dir()]
    xml = [i for i in members if i.filename.lower().endswith(".xml")]
    chosen = (xml or members)[:1]
    if not chosen:
        raise GuideFileError(f"{path}: the zip archive is empty")
    return layers.enter_context(archive.open(chosen[0]))
