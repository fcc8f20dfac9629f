"""Password hashing (scrypt) and the credential charset.

A stored hash describes itself: ``scrypt$N$r$p$<salt b64>$<hash b64>``, so
the cost can be raised later without breaking existing hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_SCHEME = "scrypt"

_CREDENTIAL = re.compile(r"[A-Za-z0-9._@-]{1,64}")

CREDENTIAL_RULE = "1 to 64 of the characters A-Z a-z 0-9 . _ @ -"
"""What ``check_credential_charset`` accepts, for error messages."""


def hash_password(password: str) -> str:
    """A fresh salted scrypt hash of ``password``."""
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _N, _R, _P, _HASH_BYTES)
    return "$".join([_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; False for a malformed hash."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != _SCHEME:
            return False
        want = base64.b64decode(expected, validate=True)
        salt_bytes = base64.b64decode(salt, validate=True)
        # scrypt refuses bad parameters (and ones needing over 32 MiB)
        # with ValueError, as int() and b64decode() refuse bad text.
        digest = _scrypt(password, salt_bytes, int(n), int(r), int(p), len(want))
    except (ValueError, OverflowError):
        return False
    return hmac.compare_digest(digest, want)


def check_credential_charset(value: str) -> bool:
    """Whether ``value`` may be a username or password.

    Xtream URLs carry credentials in paths and query strings, so they are
    limited to characters that survive there unescaped.
    """
    return _CREDENTIAL.fullmatch(value) is not None


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=size
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
