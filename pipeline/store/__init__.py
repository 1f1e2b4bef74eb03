"""State that survives restarts: feeds and their schedule, seen entries, outcomes and
dead letters. The protocols and records are in ``pipeline.store.base``; two
implementations: SQLite for the embedded mode (``pipeline.store.sqlite``), Redis for
the distributed one (``pipeline.store.redis``), picked by the ``store`` setting. Here:
opening the one the settings name, feed health, and the feeds file.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, HttpUrl, ValidationError, field_validator

from pipeline.errors import InputError
from pipeline.feedurl import check_feed_url
from pipeline.settings import Settings
from pipeline.store.base import (
    Coordination,
    DistributedStore,
    EntryRecord,
    EntryStatus,
    Feed,
    FeedStatus,
    Fingerprint,
    Groups,
    HandOffs,
    PendingEntry,
    Store,
)
from pipeline.store.sqlite import SqliteStore

__all__ = [
    "Coordination",
    "DistributedStore",
    "EntryRecord",
    "EntryStatus",
    "Feed",
    "FeedConfig",
    "FeedStatus",
    "Fingerprint",
    "Groups",
    "HandOffs",
    "PendingEntry",
    "Store",
    "feed_health",
    "feed_statuses",
    "load_feeds_file",
    "open_distributed_store",
    "open_store",
    "sync_feeds",
]


def open_store(settings: Settings) -> Store:
    """The store the settings name (``store: sqlite|redis``).

    Raises ``InputError`` when the Redis store is asked for without the distributed
    extra installed."""
    if settings.store == "redis":
        return open_distributed_store(settings)
    return SqliteStore(settings.db)


def open_distributed_store(settings: Settings) -> DistributedStore:
    """The Redis store, which the Celery tasks need whatever ``store`` says."""
    try:
        # Imported here, not above: redis is an optional dependency (the distributed
        # extra), not a package loop; pipeline.store.redis imports only store.base.
        from pipeline.store.redis import RedisStore
    except ImportError as exc:
        raise InputError(
            "the redis store needs the distributed extra: pip install 'newswire[distributed]'"
        ) from exc
    return RedisStore.from_settings(settings)


def feed_statuses(store: Store) -> list[FeedStatus]:
    """One record per active feed: its state (ok, failing, retired), last answer,
    errors, schedule and entries by outcome; what `feeds status` and the API show."""
    counts = store.entry_counts()
    rows: list[FeedStatus] = []
    for f in store.feeds():
        s = f.state
        rows.append(
            FeedStatus(
                feed_id=s.feed_id,
                name=f.name,
                url=s.url,
                state="retired" if s.retired else ("failing" if s.error_count else "ok"),
                last_status=s.last_status,
                error_count=s.error_count,
                last_error=s.last_error,
                last_checked_at=s.last_checked_at.isoformat() if s.last_checked_at else None,
                next_check_at=s.next_check_at.isoformat(),
                interval=s.interval,
                entries=counts.get(s.feed_id, {}),
            )
        )
    return rows


def feed_health(store: Store) -> list[dict[str, Any]]:
    """``feed_statuses`` as plain JSON-ready dicts (the CLI prints these)."""
    return [asdict(row) for row in feed_statuses(store)]


# the feeds file ---------------------------------------------------------------------


class FeedConfig(BaseModel):
    url: HttpUrl
    name: str = ""
    interval: int | None = Field(None, ge=1, description="seconds; default from settings")

    @field_validator("url", mode="before")
    @classmethod
    def _feed_url(cls, value: object) -> object:
        # The same rule as `newswire feeds add` (http(s), a real host, a valid port).
        if isinstance(value, str):
            try:
                return check_feed_url(value)
            except InputError as exc:
                raise ValueError(exc.reason) from None
        return value


def load_feeds_file(path: Path) -> list[FeedConfig]:
    """Feeds from a YAML file: ``feeds:`` then a list of ``{url, name, interval}``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise InputError(f"feeds file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from exc
    items = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{path}: expected 'feeds:' followed by a list")
    feeds = []
    for n, item in enumerate(items, 1):
        try:
            feeds.append(
                FeedConfig.model_validate(item if isinstance(item, dict) else {"url": item})
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")
            raise InputError(f"{path}: feed {n}, {field}: {msg}") from exc
    return feeds


def sync_feeds(store: Store, path: Path, default_interval: int) -> int:
    """Add the file's feeds that the store does not know (a removed feed stays removed);
    returns how many were added."""
    before = {f.state.feed_id for f in store.feeds(include_removed=True)}
    for cfg in load_feeds_file(path):
        store.add_feed(
            str(cfg.url), cfg.name, interval=cfg.interval or default_interval, revive=False
        )
    return len({f.state.feed_id for f in store.feeds(include_removed=True)} - before)
