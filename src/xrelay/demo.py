"""``--demo``: a user, a category and one looping live channel, out of the box."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import attrs
from twisted.application.internet import TimerService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from xrelay.config import Config
from xrelay.cred.passwords import hash_password
from xrelay.epg import seed_demo_guide
from xrelay.interfaces import IStore
from xrelay.models import Category, Channel, User

log = Logger()

DEMO_CHANNEL_ID = 1
DEMO_USERNAME = "demo"
DEMO_DATA_DIR = "./xrelay-demo-data"
# The demo channel records catch-up; archive_days cannot say an hour, so
# --demo sets archive.max_hours (a cap on every channel's retention).
DEMO_ARCHIVE_HOURS = 1.0


def demo_media_path() -> Path:
    """The sample TS shipped in the package (tools/make-demo-ts.sh made it)."""
    return Path(str(files("xrelay.media") / "demo.ts")).resolve()


def with_demo_library(config: Config) -> Config:
    """``config`` with the sample movie and series shipped in the package
    (tools/make-demo-vod.sh made them) added to the library directories."""
    media = Path(str(files("xrelay.media"))).resolve() / "vod"
    library = config.library
    return attrs.evolve(
        config,
        library=attrs.evolve(
            library,
            movie_dirs=(*library.movie_dirs, str(media / "movies")),
            series_dirs=(*library.series_dirs, str(media / "series")),
        ),
    )


async def seed_demo(store: IStore, now: int) -> None:
    """Make the demo catalog exist (idempotent: safe on every start)."""
    category = next(
        (c for c in await store.list_categories("live") if c.name == "Demo"), None
    )
    if category is None:
        category = await store.put_category(Category(0, "live", "Demo"))
    await store.put_channel(
        Channel(
            id=DEMO_CHANNEL_ID,
            number=1,
            name="xrelay demo",
            category_id=category.id,
            sources=(demo_media_path().as_uri(),),
            epg_id="demo.xrelay",
            on_demand=True,
            added=now,
            archive_days=1,
        )
    )
    if await store.get_user(DEMO_USERNAME) is None:
        await store.put_user(
            User(
                id=0,
                username=DEMO_USERNAME,
                password_hash=hash_password("demo"),
                max_connections=2,
                notes="created by --demo",
                created_at=now,
            )
        )
    log.info(
        "demo ready: http://127.0.0.1:8080/live/demo/demo/{channel}.ts",
        channel=DEMO_CHANNEL_ID,
    )


class DemoSeeder(TimerService):
    """Seeds the demo catalog and its guide at start, then writes the guide
    afresh every day: it spans 14 days either side of when it was made, so
    a demo left running keeps a guide around "now" (the guide loop re-reads
    the file within the hour, as it does any changed ``file://`` source)."""

    REGENERATE = 86400.0

    def __init__(self, store: IStore, clock: IReactorTime, data_dir: str) -> None:
        super().__init__(self.REGENERATE, self._run)
        self.clock = self._clock = clock  # TimerService's, and typed
        self._store = store
        self._data_dir = data_dir
        self._seeded = False

    def _run(self) -> Deferred[None]:
        d = Deferred.fromCoroutine(self._seed(int(self._clock.seconds())))
        d.addErrback(lambda f: log.failure("seeding the demo catalog", f))
        return d

    async def _seed(self, now: int) -> None:
        if not self._seeded:  # the catalog once; the guide every day
            await seed_demo(self._store, now)
            self._seeded = True
        await seed_demo_guide(self._store, self._data_dir, DEMO_CHANNEL_ID, now)
