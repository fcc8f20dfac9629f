"""The programme guide (EPG): XMLTV sources fetched on a schedule, matched
to the catalog's channels, kept in their own SQLite file, and served as
``xmltv.php``, ``get_short_epg`` and ``get_simple_data_table``.

- ``_xmltv``: the streaming, hardened XMLTV parser (pure);
- ``_decode``: gzip/xz/bzip2/zip bodies as XML bytes;
- ``_fetch``: one conditional download (treq) or ``file://`` read;
- ``_import``/``_sql``: a guide file into ``epg.sqlite3``, atomically;
- ``_refresh``: fetch + import + schedule for one source;
- ``_mapping``: which guide channel each channel shows, and why (pure);
- ``_service``: the LoopingCall that drives it all;
- ``_guide``/``_render``/``_http``: the answers players get;
- ``_demo``: the generated guide of the ``--demo`` channel;
- ``_wiring``: the service tree's part, from the configuration.
"""

from xrelay.epg._db import GuideDatabase, InlineDatabase, PooledDatabase
from xrelay.epg._demo import seed_demo_guide
from xrelay.epg._fetch import FetchError, Validators, fetch_once
from xrelay.epg._guide import ArchiveSpans, Assignment, Guide, no_archive
from xrelay.epg._http import XmltvEndpoint
from xrelay.epg._import import ImportResult, import_guide
from xrelay.epg._mapping import Match, match_channels, normalise
from xrelay.epg._refresh import EpgSettings, Refreshed, refresh_source
from xrelay.epg._service import EpgService, assignments
from xrelay.epg._wiring import Epg, build_epg, http_client, settings_from
from xrelay.epg._xmltv import GuideChannel, Programme, XmltvError, XmltvParser

__all__ = [
    "ArchiveSpans",
    "Assignment",
    "Epg",
    "EpgService",
    "EpgSettings",
    "FetchError",
    "Guide",
    "GuideChannel",
    "GuideDatabase",
    "ImportResult",
    "InlineDatabase",
    "Match",
    "PooledDatabase",
    "Programme",
    "Refreshed",
    "Validators",
    "XmltvEndpoint",
    "XmltvError",
    "XmltvParser",
    "assignments",
    "build_epg",
    "fetch_once",
    "http_client",
    "import_guide",
    "match_channels",
    "no_archive",
    "normalise",
    "refresh_source",
    "seed_demo_guide",
    "settings_from",
]
