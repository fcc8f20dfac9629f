"""Lines in a static file, htpasswd style: ``username:scrypt-hash`` a line,
optionally followed by ``:`` and a JSON object of the line's other fields
(``{"max_connections": 2}``; all of them in README.md, "Lines in Redis").
Blank lines and lines starting with ``#`` are skipped."""

from __future__ import annotations

import json
import os

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from xrelay.cred.passwords import check_credential_charset
from xrelay.cred.records import user_from_record
from xrelay.models import User


def parse_lines_file(text: str) -> tuple[dict[str, User], list[str]]:
    """The lines in ``text``, and a problem for each line skipped."""
    users: dict[str, User] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        username, _, rest = entry.partition(":")
        password_hash, _, extra = rest.partition(":")
        try:
            if not check_credential_charset(username):
                raise ValueError("the username is not a valid credential")
            record = json.loads(extra) if extra else {}
            if not isinstance(record, dict):
                raise ValueError("the fields after the hash must be a JSON object")
            if username in users:
                raise ValueError(f"{username} appears twice")
            record["password_hash"] = password_hash
            users[username] = user_from_record(username, record)
        except ValueError as e:  # json.JSONDecodeError is one
            problems.append(f"line {number}: {e}")
    return users, problems


class FileLines:
    """The lines of the file at ``path``, re-read when it changes (checked
    at most every ``check_every`` seconds, on logins).  A file that cannot
    be read leaves the lines last read in place."""

    log = Logger()

    def __init__(
        self, path: str, clock: IReactorTime, check_every: float = 2.0
    ) -> None:
        self._path = path
        self._clock = clock
        self._check_every = check_every
        self._next_check = float("-inf")
        self._signature: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}
        self._error = ""  # the last read error, logged once

    def get_user(self, username: str) -> Deferred[User | None]:
        if self._clock.seconds() >= self._next_check:
            self._next_check = self._clock.seconds() + self._check_every
            self._reload()
        return succeed(self._users.get(username))

    def _reload(self) -> None:
        # Small files, read in the reactor thread: as long as a stat + read.
        try:
            st = os.stat(self._path)
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
            if signature == self._signature:
                return
            with open(self._path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            if str(e) != self._error:
                self._error = str(e)
                self.log.error(
                    "cannot read the lines file {path}: {error}",
                    path=self._path,
                    error=self._error,
                )
            return
        self._users, problems = parse_lines_file(text)
        self._signature, self._error = signature, ""
        for problem in problems:
            self.log.warn(
                "lines file {path}: {problem} (skipped)",
                path=self._path,
                problem=problem,
            )
        self.log.info(
            "read {count} lines from {path}", count=len(self._users), path=self._path
        )
