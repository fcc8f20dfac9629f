"""``--demo``: a user, a category and one looping live channel, out of the box."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from twisted.logger import Logger

from xrelay.cred.passwords import hash_password
from xrelay.interfaces import IStore
from xrelay.models import Category, Channel, User

log = Logger()

DEMO_CHANNEL_ID = 1
DEMO_USERNAME = "demo"
DEMO_DATA_DIR = "./xrelay-demo-data"


def demo_media_path() -> Path:
    """The sample TS shipped in the package (tools/make-demo-ts.sh made it)."""
    return Path(str(files("xrelay.media") / "demo.ts")).resolve()


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
