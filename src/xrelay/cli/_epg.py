"""``xrelay epg``: guide sources, the channel matches and their review.

Sources live in the catalog (so ``xrelay export``/``apply`` carry them);
what was fetched, the operator's pins and offsets live in the guide
database (``epg.path``).  ``status`` computes the matches exactly as the
daemon does, from the same two files; a running daemon picks up changes
made here within seconds.
"""

from __future__ import annotations

import argparse
import os
from contextlib import closing
from typing import Any, TextIO
from urllib.parse import urlsplit

import attrs

from xrelay.cli._common import (
    DEFAULT_DATA_DIR,
    CommandError,
    SubParsers,
    add_json_option,
    find,
    format_time,
    open_db,
    positive_int,
    print_json,
    print_table,
)
from xrelay.config import Config, ConfigError, load_config, with_overrides
from xrelay.models import EpgSource

SUPPRESS = argparse.SUPPRESS


def register(sub: SubParsers) -> None:
    epg = sub.add_parser(
        "epg", help="the programme guide: sources and channel matches"
    ).add_subparsers(metavar="ACTION", required=True)

    status = epg.add_parser(
        "status",
        help="each channel's guide match, its source, confidence and why",
        description="List every channel with the guide channel it shows, the "
        "source, the confidence (1.0 = by id or pinned) and the rule and "
        "reason that chose it; then the sources with their last fetch; then "
        "the unmatched channels.  Fix a wrong match with `xrelay epg map`.",
    )
    status.add_argument(
        "--unmatched", action="store_true", help="only channels without a guide"
    )
    add_json_option(status)
    status.set_defaults(func=_status)

    pin = epg.add_parser(
        "map", help="pin a channel to a guide channel (overrides matching)"
    )
    pin.add_argument("channel", type=positive_int)
    pin.add_argument("guide_id", help="the guide channel's id, as in its XMLTV")
    pin.add_argument(
        "--source",
        type=positive_int,
        metavar="ID",
        help="only from this source (default: the best source listing it)",
    )
    pin.set_defaults(func=_map)

    unmap = epg.add_parser("unmap", help="give a channel no guide at all")
    unmap.add_argument("channel", type=positive_int)
    unmap.set_defaults(func=_unmap)

    auto = epg.add_parser("auto", help="drop a channel's pin: match it again")
    auto.add_argument("channel", type=positive_int)
    auto.set_defaults(func=_auto)

    offset = epg.add_parser(
        "offset", help="shift a channel's guide times (on top of its source's)"
    )
    offset.add_argument("channel", type=positive_int)
    offset.add_argument("minutes", type=int, help="e.g. 60 or -30; 0 removes it")
    offset.set_defaults(func=_channel_offset)

    refresh = epg.add_parser(
        "refresh",
        help="fetch guide sources now",
        description="Fetch the sources (all enabled ones, or those named) "
        "now, here, and store their guides: a running daemon serves them "
        "at once.  With --daemon, ask the running daemon to do it instead.",
    )
    refresh.add_argument("sources", nargs="*", type=positive_int, metavar="SOURCE")
    refresh.add_argument(
        "--force", action="store_true", help="download even if unchanged"
    )
    refresh.add_argument(
        "--daemon",
        action="store_true",
        help="only mark them due: the daemon fetches them within 10 s",
    )
    refresh.set_defaults(func=_refresh)

    sources = epg.add_parser("sources", help="XMLTV guide sources").add_subparsers(
        metavar="ACTION", required=True
    )
    add = sources.add_parser("add", help="add a guide source")
    add.add_argument("name")
    add.add_argument("url", help="http(s):// or file:// URL of an XMLTV file")
    _source_options(add)
    add.set_defaults(func=_add_source)

    listing = sources.add_parser("list", help="list the guide sources")
    add_json_option(listing)
    listing.set_defaults(func=_list_sources)

    change = sources.add_parser("set", help="change a guide source")
    change.add_argument("id", type=positive_int)
    change.add_argument("--name", default=SUPPRESS)
    change.add_argument("--url", default=SUPPRESS)
    _source_options(change)
    change.set_defaults(func=_set_source)

    remove = sources.add_parser(
        "remove", help="remove a guide source (the daemon forgets its guide)"
    )
    remove.add_argument("id", type=positive_int)
    remove.set_defaults(func=_remove_source)


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--priority",
        type=int,
        default=SUPPRESS,
        metavar="N",
        help="higher wins when sources list the same channel (default 0)",
    )
    parser.add_argument(
        "--refresh",
        dest="refresh_seconds",
        type=int,
        default=SUPPRESS,
        metavar="SECONDS",
        help="fetch this often (default 0: epg.refresh_seconds)",
    )
    parser.add_argument(
        "--offset",
        type=int,
        default=SUPPRESS,
        metavar="MINUTES",
        help="shift all its times, for a guide whose zone is wrong",
    )
    parser.add_argument(
        "--disabled",
        dest="enabled",
        action="store_false",
        default=SUPPRESS,
        help="keep it but do not fetch or use it",
    )
    parser.add_argument(
        "--enabled", dest="enabled", action="store_true", default=SUPPRESS
    )


def _config(args: argparse.Namespace) -> Config:
    overrides: dict[str, object] = {}
    if args.data_dir is not None or args.config is None:
        overrides["server.data_dir"] = args.data_dir or DEFAULT_DATA_DIR
    try:
        return with_overrides(load_config(args.config), overrides)
    except ConfigError as e:
        raise CommandError(f"invalid configuration:\n{e}") from None


def _guide_db(args: argparse.Namespace) -> Any:
    from xrelay.epg import InlineDatabase

    return InlineDatabase(_config(args).epg_path)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "file"):
        raise CommandError(f"{url!r}: the URL must be http://, https:// or file://")
    if parts.scheme == "file" and not os.path.isabs(parts.path):
        raise CommandError(f"{url!r}: a file:// URL needs an absolute path")
    if parts.scheme != "file" and not parts.hostname:
        raise CommandError(f"{url!r}: no host")


# -- sources


def _add_source(args: argparse.Namespace, out: TextIO) -> int:
    _check_url(args.url)
    fields = {
        k: v
        for k, v in vars(args).items()
        if k in ("priority", "refresh_seconds", "enabled")
    }
    new = EpgSource(0, args.name, args.url, **{"refresh_seconds": 0, **fields})
    with closing(open_db(args)) as db:
        source = db.put_epg_source(new)
    if "offset" in args:
        _set_source_offset(args, source.id, args.offset)
    out.write(f"added guide source {source.id}: {source.name}\n")
    return 0


def _set_source(args: argparse.Namespace, out: TextIO) -> int:
    if "url" in args:
        _check_url(args.url)
    changes = {
        k: v
        for k, v in vars(args).items()
        if k in ("name", "url", "priority", "refresh_seconds", "enabled")
    }
    with closing(open_db(args)) as db:
        source = find(db.list_epg_sources(), args.id, "guide source")
        db.put_epg_source(attrs.evolve(source, **changes))
    if "offset" in args:
        _set_source_offset(args, args.id, args.offset)
    out.write(f"updated guide source {args.id}\n")
    return 0


def _set_source_offset(args: argparse.Namespace, source_id: int, minutes: int) -> None:
    from xrelay.epg._sql import set_source_offset

    db = _guide_db(args)
    try:
        db.run(set_source_offset, source_id, minutes * 60)
    finally:
        db.close()


def _remove_source(args: argparse.Namespace, out: TextIO) -> int:
    with closing(open_db(args)) as db:
        if not db.delete_epg_source(args.id):
            raise CommandError(f"no guide source {args.id}")
    out.write(f"removed guide source {args.id}\n")
    return 0


def _list_sources(args: argparse.Namespace, out: TextIO) -> int:
    from xrelay.epg._sql import get_states
    from xrelay.ingest import display_url

    with closing(open_db(args)) as db:
        sources = db.list_epg_sources()
    db = _guide_db(args)
    try:
        states = db.run(get_states)
    finally:
        db.close()
    offsets = {i: s.offset_seconds // 60 for i, s in states.items()}
    if args.json:
        print_json(
            out,
            [
                {**attrs.asdict(s), "offset_minutes": offsets.get(s.id, 0)}
                for s in sources
            ],
        )
        return 0
    print_table(
        out,
        ["ID", "NAME", "ENABLED", "PRIORITY", "REFRESH", "OFFSET", "URL"],
        (
            [
                s.id,
                s.name,
                "yes" if s.enabled else "no",
                s.priority,
                s.refresh_seconds or "default",
                f"{offsets.get(s.id, 0):+d} min",
                display_url(s.url),
            ]
            for s in sources
        ),
    )
    return 0


# -- channel choices


def _put_setting(args: argparse.Namespace, channel_id: int, **changes: Any) -> None:
    from xrelay.epg._sql import ChannelSetting, get_settings, put_setting

    with closing(open_db(args)) as catalog:
        if catalog.get_channel(channel_id) is None:
            raise CommandError(f"no channel {channel_id}")
    db = _guide_db(args)
    try:
        current = db.run(get_settings).get(channel_id, ChannelSetting(channel_id))
        db.run(put_setting, attrs.evolve(current, **changes))
    finally:
        db.close()


def _map(args: argparse.Namespace, out: TextIO) -> int:
    _put_setting(args, args.channel, guide_id=args.guide_id, source_id=args.source)
    out.write(f"channel {args.channel} pinned to guide channel {args.guide_id!r}\n")
    return 0


def _unmap(args: argparse.Namespace, out: TextIO) -> int:
    _put_setting(args, args.channel, guide_id="", source_id=None)
    out.write(f"channel {args.channel} shows no guide\n")
    return 0


def _auto(args: argparse.Namespace, out: TextIO) -> int:
    _put_setting(args, args.channel, guide_id=None, source_id=None)
    out.write(f"channel {args.channel} is matched automatically\n")
    return 0


def _channel_offset(args: argparse.Namespace, out: TextIO) -> int:
    _put_setting(args, args.channel, offset_seconds=args.minutes * 60)
    out.write(f"channel {args.channel}: guide times shifted {args.minutes:+d} min\n")
    return 0


# -- status


def _status(args: argparse.Namespace, out: TextIO) -> int:
    from xrelay.epg import match_channels
    from xrelay.epg._sql import get_settings, get_states, guide_channels
    from xrelay.ingest import display_url

    with closing(open_db(args)) as catalog:
        channels = catalog.list_channels()
        sources = catalog.list_epg_sources()
    db = _guide_db(args)
    try:
        states = db.run(get_states)
        rows = db.run(guide_channels)
        settings = db.run(get_settings)
    finally:
        db.close()
    offsets = {i: s.offset_seconds for i, s in states.items()}
    matches = match_channels(channels, sources, rows, settings, offsets)
    counts = {(r.source_id, r.id): r.programmes for r in rows}
    names = {s.id: s.name for s in sources}
    report = []
    for c in sorted(channels, key=lambda c: (c.number, c.id)):
        m = matches[c.id]
        why = m.why
        if m.matched and not c.epg_id.strip():
            why += "; no epg_id, so xmltv.php cannot list it (set one)"
        report.append(
            {
                "channel": c.id,
                "number": c.number,
                "name": c.name,
                "epg_id": c.epg_id,
                "guide_id": m.guide_id,
                "source": m.source_id,
                "source_name": names.get(m.source_id or 0, ""),
                "confidence": m.confidence,
                "rule": m.rule,
                "why": why,
                "offset_minutes": m.offset // 60,
                "programmes": counts.get((m.source_id or 0, m.guide_id or ""), 0),
            }
        )
    unmatched = [r for r in report if r["guide_id"] is None]
    shown = unmatched if args.unmatched else report
    source_report = [_source_status(s, states.get(s.id)) for s in sources]
    if args.json:
        print_json(
            out,
            {
                "channels": shown,
                "sources": source_report,
                "unmatched": [r["channel"] for r in unmatched],
            },
        )
        return 0
    print_table(
        out,
        ["CH", "NAME", "EPG ID", "GUIDE", "SRC", "CONF", "PROGS", "RULE", "WHY"],
        (
            [
                r["channel"],
                r["name"],
                r["epg_id"] or "-",
                r["guide_id"] if r["guide_id"] is not None else "-",
                r["source"] if r["source"] is not None else "-",
                f"{r['confidence']:.2f}",
                r["programmes"],
                r["rule"],
                r["why"],
            ]
            for r in shown
        ),
    )
    out.write("\nSources:\n")
    print_table(
        out,
        ["ID", "NAME", "STATE", "LAST OK", "CHANNELS", "PROGS", "NEXT", "ERROR"],
        (
            [
                s["id"],
                s["name"],
                s["state"],
                s["last_ok"],
                s["channels"],
                s["programmes"],
                s["next"],
                s["error"] or s["rejects"] or display_url(s["url"]),
            ]
            for s in source_report
        ),
    )
    total = len(report)
    out.write(f"\nUnmatched: {len(unmatched)} of {total} channels")
    listed = ", ".join(f"{r['channel']} {r['name']!r}" for r in unmatched[:50])
    out.write(f": {listed}\n" if unmatched else "\n")
    return 0


def _source_status(source: EpgSource, state: Any) -> dict[str, Any]:
    if not source.enabled:
        label = "disabled"
    elif state is None or state.checked_at is None:
        label = "not fetched yet"
    elif state.error:
        label = f"failing ({state.failures}x)"
    else:
        label = "ok"
    rejects = state.rejects if state is not None else {}
    return {
        "id": source.id,
        "name": source.name,
        "url": source.url,
        "state": label,
        "last_ok": format_time(state.ok_at) if state is not None else "never",
        "imported": format_time(state.imported_at) if state is not None else "never",
        "next": format_time(state.next_at) if state is not None else "now",
        "channels": state.channels if state is not None else 0,
        "programmes": state.programmes if state is not None else 0,
        "rejects": ", ".join(f"{n} {reason}" for reason, n in sorted(rejects.items())),
        "error": state.error if state is not None else "",
    }


# -- refresh


def _refresh(args: argparse.Namespace, out: TextIO) -> int:
    from xrelay.epg._sql import due_now

    with closing(open_db(args)) as catalog:
        sources = catalog.list_epg_sources()
    if args.sources:
        sources = [find(sources, i, "guide source") for i in args.sources]
    else:
        sources = [s for s in sources if s.enabled]
    if not sources:
        raise CommandError(
            "no guide source to refresh (add one: xrelay epg sources add)"
        )
    if args.daemon:
        db = _guide_db(args)
        try:
            for source in sources:
                db.run(due_now, source.id)
        finally:
            db.close()
        out.write(f"asked the daemon to refresh {len(sources)} sources\n")
        return 0
    return _refresh_here(_config(args), sources, args.force, out)


def _refresh_here(
    config: Config, sources: list[EpgSource], force: bool, out: TextIO
) -> int:
    """Run the daemon's refresh of each source on the global reactor (a
    reactor runs once per process: this is for the command line only)."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    from xrelay.epg import InlineDatabase, http_client, refresh_source, settings_from
    from xrelay.epg._sql import get_states
    from xrelay.ingest import display_url

    db = InlineDatabase(config.epg_path)
    settings = settings_from(config)  # downloads apart from the daemon's:
    settings = attrs.evolve(settings, spool_dir=os.path.join(settings.spool_dir, "cli"))
    failed = 0

    async def run() -> None:
        nonlocal failed
        http = http_client(reactor)
        states = db.run(get_states)
        for source in sources:
            state = states.get(source.id)
            if force and state is not None:
                state = attrs.evolve(state, etag="", last_modified="")
            result = await refresh_source(source, state, db, http, reactor, settings)
            shown = f"{source.id} {source.name!r} ({display_url(source.url)})"
            if not result.ok:
                failed += 1
                out.write(f"{shown}: failed: {result.state.error}\n")
            elif result.imported is None:
                out.write(f"{shown}: unchanged\n")
            else:
                out.write(f"{shown}: {result.imported.describe()}\n")
                for note in result.imported.notes:
                    out.write(f"  {note}\n")

    outcome: list[object] = []

    def start() -> None:
        d = Deferred.fromCoroutine(run())
        d.addBoth(outcome.append)
        d.addBoth(lambda _: reactor.stop())  # type: ignore[attr-defined]

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    db.close()
    if outcome and not isinstance(outcome[0], type(None)):
        raise CommandError(f"refresh failed: {outcome[0]}")
    return 1 if failed else 0
