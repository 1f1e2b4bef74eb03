"""State that survives restarts: feeds and their schedule, seen entries, outcomes and
dead letters. One protocol, two implementations: SQLite for the embedded mode
(``pipeline.store.sqlite``), Redis for the distributed one (``pipeline.store.redis``),
picked by the ``store`` setting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, Field, HttpUrl, ValidationError

from pipeline.errors import InputError
from pipeline.models import FeedEntry, FeedState
from pipeline.settings import Settings

EntryStatus = Literal["pending", "done", "failed", "dead"]


@dataclass(frozen=True)
class Feed:
    name: str
    state: FeedState
    removed: bool = False


@dataclass(frozen=True)
class PendingEntry:
    entry: FeedEntry
    attempts: int


@dataclass(frozen=True)
class EntryRecord:
    feed_id: str
    key: str
    url: str
    status: EntryStatus
    attempts: int
    last_error: str | None
    updated_at: str


class Store(Protocol):
    """What the CLI and both runners need from a state store."""

    def add_feed(
        self,
        url: str,
        name: str = "",
        *,
        interval: int,
        feed_id: str | None = None,
        revive: bool = True,
    ) -> Feed:
        """Register a feed (id from its URL unless given). An existing feed keeps its
        state; a removed one comes back only when ``revive`` is set."""
        ...

    def remove_feed(self, ref: str) -> bool:
        """Mark a feed removed (by id, URL or name); False if unknown."""
        ...

    def find_feed(self, ref: str) -> Feed | None: ...
    def feed(self, fid: str) -> Feed | None: ...
    def feeds(self, *, include_removed: bool = False) -> list[Feed]: ...
    def due_feeds(self, now: datetime) -> list[FeedState]: ...
    def save_feed_state(self, state: FeedState) -> None: ...
    def set_feed_url(self, fid: str, url: str) -> None: ...

    def add_entries(self, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        """Atomically claim entries not seen before; returns the ones that were new."""
        ...

    def is_done(self, article_id: str) -> bool: ...
    def mark_done(self, entry: FeedEntry, article_id: str, note: str | None = None) -> None: ...
    def mark_failed(self, entry: FeedEntry, reason: str) -> None: ...
    def records(self, status: EntryStatus, limit: int = 100) -> list[EntryRecord]: ...

    def replay_dead(self) -> int:
        """Queue every dead letter again; returns how many."""
        ...

    def entry_counts(self) -> dict[str, dict[str, int]]:
        """Per feed id, how many entries are in each status."""
        ...

    def close(self) -> None: ...


def open_store(settings: Settings) -> Store:
    """The store the settings name (``store: sqlite|redis``)."""
    if settings.store == "redis":
        try:
            from pipeline.store.redis import RedisStore
        except ImportError as exc:
            raise InputError(
                "the redis store needs the distributed extra: pip install 'newswire[distributed]'"
            ) from exc
        return RedisStore.from_settings(settings)
    from pipeline.store.sqlite import SqliteStore

    return SqliteStore(settings.db)


def feed_health(store: Store) -> list[dict[str, Any]]:
    """One row per active feed: its state (ok, failing, retired), last answer, errors,
    schedule and entries by outcome; what `feeds status` and the API show."""
    counts = store.entry_counts()
    rows: list[dict[str, Any]] = []
    for f in store.feeds():
        s = f.state
        rows.append(
            {
                "feed_id": s.feed_id,
                "name": f.name,
                "url": s.url,
                "state": "retired" if s.retired else ("failing" if s.error_count else "ok"),
                "last_status": s.last_status,
                "error_count": s.error_count,
                "last_error": s.last_error,
                "last_checked_at": s.last_checked_at.isoformat() if s.last_checked_at else None,
                "next_check_at": s.next_check_at.isoformat(),
                "interval": s.interval,
                "entries": counts.get(s.feed_id, {}),
            }
        )
    return rows


# the feeds file ---------------------------------------------------------------------


class FeedConfig(BaseModel):
    url: HttpUrl
    name: str = ""
    interval: int | None = Field(None, ge=1, description="seconds; default from settings")


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
            raise InputError(f"{path}: feed {n}, {field}: {first['msg']}") from exc
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
