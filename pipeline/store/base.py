"""What a state store is: its typed records and the protocols its callers use.

Three roles, one protocol each, so no caller reaches for a concrete class:

- ``Store``: feeds and their schedule, seen entries and their outcomes (done, failed,
  retrying, dead), dead letters, and (``WatchStore``) saved searches with their matches
  and webhook deliveries. Both drivers, the CLI and the API use it; SQLite and Redis
  implement all of it (``tests/integration/test_store_contract.py``,
  ``tests/integration/test_watch_store_contract.py``).
- ``HandOffs``: what the Celery tasks leave each other between queues (an entry by
  its ref, its extracted text, its analysed article waiting for a bulk write). The
  embedded runner hands these over in memory.
- ``Coordination``: what many workers need to agree on (feed claims, locks, one
  index run at a time, heartbeats, queue depths, dead letters to re-enqueue).
- ``Groups``: stories, not copies (issue 18): each indexed story's fingerprint, the
  LSH band index that finds its look-alikes, and the same-event clusters' parents
  (``pipeline.clusters`` decides; the store keeps). Part of ``Store``: both drivers
  group in the index step.

``DistributedStore`` is all three: what ``workers/tasks.py`` is written against.

One attempt count: ``attempts`` is the number of attempts made so far that failed
transiently (0 for a fresh entry; a replayed dead letter starts again at 0). The
drivers pass ``attempts + 1`` to ``steps.failure_outcome`` for the attempt that just
failed and store what it decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pipeline.models import Article, Extracted, FeedEntry, FeedState
from pipeline.urls import feed_id as make_feed_id
from pipeline.watch_model import DeliveryState, Watch, WatchMatch

EntryStatus = Literal["pending", "done", "failed", "dead"]


@dataclass(frozen=True)
class Feed:
    name: str
    state: FeedState
    removed: bool = False


@dataclass(frozen=True)
class PendingEntry:
    """An entry waiting for work, with the attempts that failed so far."""

    entry: FeedEntry
    attempts: int
    status: EntryStatus = "pending"


@dataclass(frozen=True)
class EntryRecord:
    """An entry's outcome as ``feeds status``, ``deadletters`` and the API list it."""

    feed_id: str
    key: str
    url: str
    status: EntryStatus
    attempts: int
    last_error: str | None
    updated_at: str


@dataclass(frozen=True)
class FeedStatus:
    """One active feed's health: what `feeds status` and ``/api/feeds`` show."""

    feed_id: str
    name: str
    url: str
    state: Literal["ok", "failing", "retired"]
    last_status: int | None
    error_count: int
    last_error: str | None
    last_checked_at: str | None
    next_check_at: str
    interval: int
    entries: dict[str, int] = field(default_factory=dict)


class WatchStore(Protocol):
    """Saved searches and the stories that matched them, with their deliveries; both
    stores implement it (``tests/integration/test_watch_store_contract.py``)."""

    def add_watch(self, watch: Watch) -> None: ...
    def watch(self, watch_id: str) -> Watch | None: ...
    def watches(self) -> list[Watch]: ...

    def remove_watch(self, watch_id: str) -> bool:
        """Forget a watch and its matches; False if unknown."""
        ...

    def add_matches(self, matches: Iterable[WatchMatch]) -> list[WatchMatch]:
        """Record matches not recorded before (one per watch and article, atomically);
        returns the new ones. A match of a watch removed meanwhile is dropped."""
        ...

    def matches(self, watch_id: str, limit: int = 100) -> list[WatchMatch]:
        """A watch's matches, newest first."""
        ...

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[WatchMatch]:
        """Matches waiting for delivery (pending, or sending with an expired lease)
        whose next attempt is due, oldest first."""
        ...

    def claim_delivery(self, match: WatchMatch, now: datetime, lease: float) -> bool:
        """Take a due delivery for ``lease`` seconds; False when another deliverer has it
        or it is no longer due (so one match is never sent by two at once)."""
        ...

    def save_delivery(self, match: WatchMatch) -> None:
        """Store a delivery's new state, attempts, next attempt and error."""
        ...

    def replay_deliveries(self, watch_id: str | None = None) -> int:
        """Deliveries that are dead (of one watch, or all) become pending again with
        their attempts back at 0; returns how many."""
        ...

    def delivery_counts(self) -> dict[str, dict[DeliveryState, int]]:
        """Per watch id, how many matches are in each delivery state."""
        ...


@dataclass(frozen=True)
class Fingerprint:
    """What the grouping keeps of an indexed story: its time (published, else fetched;
    seconds since the epoch), its text signature and its lead's event shingles
    (``pipeline.dedup``, as bytes; empty when it has no words), its salient entity
    names, how many distinct shingles its text has, and the story it copies (None for
    an original)."""

    id: str
    at: float
    text: bytes
    event: bytes
    entities: tuple[str, ...]
    shingles: int
    duplicate_of: str | None = None


class Groups(Protocol):
    """Fingerprints, their band index and cluster parents (a union-find forest: a story
    without a parent is its cluster's root, the cluster id)."""

    def fingerprints(self, ids: Iterable[str]) -> dict[str, Fingerprint]:
        """The known fingerprints among ``ids``."""
        ...

    def band_members(
        self, keys: Iterable[str], since: float | None = None, until: float | None = None
    ) -> set[str]:
        """Ids of stories filed under any of ``keys`` whose time is within
        [``since``, ``until``] (unbounded when None)."""
        ...

    def add_fingerprint(self, fp: Fingerprint, keys: Iterable[str]) -> bool:
        """Keep ``fp`` and file it under ``keys``, unless its id is known (then nothing
        changes); True when it was new."""
        ...

    def parents(self, ids: Iterable[str]) -> dict[str, str]:
        """The cluster parent of each of ``ids`` that has one."""
        ...

    def set_parents(self, parents: dict[str, str]) -> None:
        """Point each story (or cluster root) at its new parent."""
        ...

    def grouping(self, timeout: float = 60.0) -> AbstractContextManager[None]:
        """Hold the grouping for one index batch (placements are sequential: a story
        must see the one placed before it); waits up to ``timeout`` seconds for another
        process's batch, then raises ``StoreUnavailableError`` (transient)."""
        ...


class Store(WatchStore, Groups, Protocol):
    """Feeds, seen entries and their outcomes, saved searches, and the stories' groups;
    what both drivers, the CLI and the API use."""

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

    def save_poll(self, state: FeedState, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        """A poll's outcome in one transaction: the feed's new state (validators, next
        check) and its entries not seen before, which are returned. A crash never
        keeps the state without the entries (the next poll would get a 304)."""
        ...

    def add_entries(self, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        """Atomically claim entries not seen before; returns the ones that were new."""
        ...

    def pending(self, now: datetime | None = None, limit: int = 10_000) -> list[PendingEntry]:
        """Entries due for work, taken in turns across hosts (the oldest of each host
        first, then the second oldest of each, ...), so one huge feed cannot make every
        other site wait behind it."""
        ...

    def is_done(self, article_id: str) -> bool: ...
    def mark_done(self, entry: FeedEntry, article_id: str, note: str | None = None) -> None: ...

    def mark_failed(self, entry: FeedEntry, reason: str) -> None:
        """A permanent failure: recorded with its reason, never retried."""
        ...

    def retry_later(self, entry: FeedEntry, reason: str, *, attempts: int, delay: float) -> None:
        """A transient failure: ``attempts`` failed so far; due again after ``delay`` s."""
        ...

    def mark_dead(self, entry: FeedEntry, reason: str, attempts: int) -> None:
        """Transient retries ran out: keep the entry for ``replay_dead``."""
        ...

    def records(self, status: EntryStatus, limit: int = 100) -> list[EntryRecord]: ...

    def replay_dead(self) -> int:
        """Queue every dead letter again (its attempts back at 0); returns how many."""
        ...

    def entry_counts(self) -> dict[str, dict[str, int]]:
        """Per feed id, how many entries are in each status."""
        ...

    def close(self) -> None: ...


class HandOffs(Protocol):
    """Work waiting between the distributed steps, addressed by an entry's ``ref``."""

    def entry(self, ref: str) -> PendingEntry | None:
        """The entry behind ``ref`` with its status and attempts; None once forgotten."""
        ...

    def next_to_fetch(self, limit: int) -> list[str]:
        """Refs of up to ``limit`` new entries to fetch now, in turns across hosts."""
        ...

    def put_extracted(self, ref: str, extracted: Extracted, url: str) -> None: ...
    def get_extracted(self, ref: str) -> tuple[Extracted, str] | None: ...

    def put_for_index(self, ref: str, article: Article) -> None:
        """Hand an analysed article to the index step (and drop its extracted text)."""
        ...

    def for_index(self, limit: int) -> list[tuple[str, Article]]:
        """The oldest articles waiting for the index (they stay until ``indexed``)."""
        ...

    def indexed(self, refs: Iterable[str]) -> None: ...
    def index_backlog(self) -> int: ...


class Coordination(Protocol):
    """What the workers and the scheduler agree on through the store."""

    def claim_feed(self, fid: str, now: datetime, lease: float) -> bool:
        """Take a due feed for one poll; False when another tick already took it."""
        ...

    def lock(self, name: str, ttl: float) -> AbstractContextManager[bool]:
        """Hold ``name`` for at most ``ttl`` seconds; yields False if someone else holds it."""
        ...

    def feeds_file_changed(self, stamp: str) -> bool: ...
    def take_replayed(self, limit: int = 1000) -> list[str]: ...
    def stale_pending(self, older_than: float, limit: int = 1000) -> list[str]: ...

    def request_index_run(self) -> bool:
        """True when no index run is already scheduled: the caller should enqueue one."""
        ...

    def index_run_started(self) -> None: ...
    def heartbeat(self, worker: str, info: dict[str, Any], ttl: float) -> None: ...
    def live_workers(self) -> dict[str, dict[str, Any]]: ...
    def queue_depths(self, queues: Iterable[str]) -> dict[str, int]: ...


class DistributedStore(Store, HandOffs, Coordination, Protocol):
    """Everything the Celery tasks use."""


class FeedRegistry:
    """Adding, removing and finding feeds, written once over the few methods each
    store implements for itself."""

    def feed(self, fid: str) -> Feed | None:
        raise NotImplementedError

    def feeds(self, *, include_removed: bool = False) -> list[Feed]:
        raise NotImplementedError

    def save_feed_state(self, state: FeedState) -> None:
        raise NotImplementedError

    def _insert_feed(self, feed: Feed) -> bool:
        """Store ``feed`` unless its id is known; True when it was new."""
        raise NotImplementedError

    def _put_feed(self, feed: Feed) -> None:
        """Overwrite a known feed's name, removal and state."""
        raise NotImplementedError

    def add_feed(
        self,
        url: str,
        name: str = "",
        *,
        interval: int,
        feed_id: str | None = None,
        revive: bool = True,
    ) -> Feed:
        """Register a feed (id from its URL unless given), due now. An existing feed
        keeps its state; a removed one comes back only when ``revive`` is set."""
        fid = feed_id or make_feed_id(url)
        state = FeedState(feed_id=fid, url=url, interval=interval, next_check_at=datetime.now(UTC))
        if not self._insert_feed(Feed(name or url, state)):
            known = self.feed(fid)
            if known is not None and known.removed and revive:
                self._put_feed(Feed(name or url, known.state, removed=False))
        feed = self.feed(fid)
        assert feed is not None
        return feed

    def remove_feed(self, ref: str) -> bool:
        """Mark a feed removed (by id, URL or name); its history stays. False if unknown."""
        feed = self.find_feed(ref)
        if feed is None:
            return False
        self._put_feed(Feed(feed.name, feed.state, removed=True))
        return True

    def find_feed(self, ref: str) -> Feed | None:
        """A feed by id, URL or name (removed ones too); None if unknown."""
        for feed in self.feeds(include_removed=True):
            if ref in (feed.state.feed_id, feed.state.url, feed.name):
                return feed
        return self.feed(make_feed_id(ref))

    def set_feed_url(self, fid: str, url: str) -> None:
        """Point a feed at a new URL, keeping the rest of its state."""
        feed = self.feed(fid)
        if feed is not None and feed.state.url != url:
            self.save_feed_state(feed.state.model_copy(update={"url": url}))
