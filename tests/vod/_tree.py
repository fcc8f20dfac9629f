"""Library trees on disk for the tests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def make_tree(root: Path, files: Mapping[str, bytes | str]) -> Path:
    """Write ``files`` (relative path -> content; a str starting with
    "->" makes a symbolic link to the rest) below ``root``."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content.startswith("->"):
            os.symlink(content[2:], path)
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root
