"""``xrelay library scan``: one library scan, now, against the daemon's store.

It is the daemon's own scan (same directories, ffprobe cache and catalog
rules), run once; a running daemon shows the result within seconds.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, TextIO

import attrs
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from xrelay.cli._common import DEFAULT_DATA_DIR, CommandError, SubParsers
from xrelay.config import Config, ConfigError, load_config, with_overrides

if TYPE_CHECKING:  # imported when scanning: other commands need none of it
    from xrelay.vod import ScanReport


def register(sub: SubParsers) -> None:
    p = sub.add_parser("library", help="the VOD library (movie and series files)")
    actions = p.add_subparsers(metavar="ACTION", required=True)
    p = actions.add_parser(
        "scan",
        help="scan the library directories and update the catalog",
        description="Find the movie and series files in the library "
        "directories (library.movie_dirs / series_dirs of --config, or "
        "--movies / --series), probe new and changed ones with ffprobe, and "
        "make the catalog match: new files are added, removed ones go.  "
        "Files that cannot be used are listed with the reason.",
    )
    p.add_argument(
        "--movies",
        action="append",
        metavar="DIR",
        help="a movie directory (repeatable; replaces library.movie_dirs)",
    )
    p.add_argument(
        "--series",
        action="append",
        metavar="DIR",
        help="a series directory (repeatable; replaces library.series_dirs)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would change and change nothing",
    )
    p.set_defaults(func=scan)


def _config(args: argparse.Namespace) -> Config:
    """The configuration as the daemon would read it, with the command
    line's data directory and library directories."""
    overrides: dict[str, object] = {}
    if args.data_dir is not None or args.config is None:
        overrides["server.data_dir"] = args.data_dir or DEFAULT_DATA_DIR
    if args.movies is not None:
        overrides["library.movie_dirs"] = tuple(args.movies)
    if args.series is not None:
        overrides["library.series_dirs"] = tuple(args.series)
    try:
        return with_overrides(load_config(args.config), overrides)
    except ConfigError as e:
        raise CommandError(f"invalid configuration:\n{e}") from None


def scan(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    library = config.library
    if not library.movie_dirs and not library.series_dirs:
        raise CommandError(
            "no library directories: give --movies/--series, or set "
            "library.movie_dirs / library.series_dirs in --config"
        )
    library = attrs.evolve(
        library,
        movie_dirs=tuple(map(os.path.abspath, library.movie_dirs)),
        series_dirs=tuple(map(os.path.abspath, library.series_dirs)),
    )
    report = _run_scan(attrs.evolve(config, library=library), not args.dry_run)
    for name, changes in (
        ("movies", report.movies),
        ("series", report.series),
        ("episodes", report.episodes),
    ):
        out.write(f"{name + ':':<10} {changes}\n")
    out.write(
        f"{report.probed} files probed, {report.cached} unchanged,"
        f" {report.seconds:.1f} s\n"
    )
    if report.problems:
        out.write(f"problems ({len(report.problems)}):\n")
        for problem in report.problems:
            out.write(f"  {problem}\n")
    if args.dry_run:
        out.write("dry run: the catalog was not changed\n")
    return 0


def _run_scan(config: Config, write: bool) -> ScanReport:
    """Run the global reactor for one scan.  A reactor runs once per
    process: this is for the command line only."""
    from twisted.internet import reactor

    from xrelay.store import SqliteStore
    from xrelay.vod import ScanError, in_threads, library_scanner

    store = SqliteStore(config.store_path, reactor)
    scanner = library_scanner(
        config.library, config.server.data_dir, store, reactor, in_threads(reactor)
    )

    async def once() -> ScanReport:
        await store.start()
        try:
            return await scanner.scan(write)
        finally:
            await store.close()

    outcome: list[ScanReport | Failure] = []

    def start() -> None:
        d = Deferred.fromCoroutine(once())
        d.addBoth(outcome.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()  # type: ignore[attr-defined]
    if not outcome:
        raise CommandError("interrupted")
    (result,) = outcome
    if isinstance(result, Failure):
        if result.check(ScanError):
            raise CommandError(result.getErrorMessage())
        result.raiseException()
    assert not isinstance(result, Failure)
    return result
