"""The embedded mode's state store (SQLite): feeds and their schedule, seen entries,
and the work queue of entries with their attempts, failures and dead letters; the
stories' groups are in ``pipeline.store.sqlite_groups``.

Entry rows double as the dedup set (``INSERT OR IGNORE`` is the atomic
set-if-absent) and as the embedded runner's queue: ``pending`` → ``done``,
``failed`` (permanent, with reason) or ``dead`` (transient retries exhausted,
kept for replay).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.errors import InputError
from pipeline.models import FeedEntry, FeedState
from pipeline.store.base import EntryRecord, EntryStatus, Feed, FeedRegistry, PendingEntry
from pipeline.store.sqlite_groups import GROUPS_SCHEMA, SqliteGroups
from pipeline.store.sqlite_watches import WATCH_SCHEMA, SqliteWatches
from pipeline.urls import host_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    next_check_at TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    feed_id TEXT NOT NULL,
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before TEXT NOT NULL DEFAULT '',
    last_error TEXT,
    article_id TEXT,
    host TEXT NOT NULL DEFAULT '',
    entry TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, key)
);
CREATE INDEX IF NOT EXISTS entries_status ON entries (status, not_before);
CREATE INDEX IF NOT EXISTS entries_article ON entries (article_id);
"""


_HEADER = b"SQLite format 3\x00"


def connect(path: Path) -> sqlite3.Connection:
    """A connection tuned for one writer and many readers (WAL), usable across threads.

    Raises ``InputError`` naming ``path`` when a file is there that is not an SQLite
    database, empty ones included: SQLite would quietly start a new database in it,
    and the state or index the user meant would be lost from sight.
    """
    if str(path) != ":memory:" and path.resolve() not in _checked:
        path.parent.mkdir(parents=True, exist_ok=True)
        _refuse_foreign_file(path)
        # Once per process: closing any descriptor of the file drops every POSIX lock
        # this process holds on it, the WAL locks of its open connections included;
        # another process's last connection then deletes the WAL under their feet
        # (stale reads, "database disk image is malformed").
        _checked.add(path.resolve())
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


_checked: set[Path] = set()


def _refuse_foreign_file(path: Path) -> None:
    try:
        with path.open("rb") as f:
            header = f.read(len(_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"cannot open database {path}: {exc.strerror}") from exc
    if not header:
        raise InputError(f"{path} is an empty file, not a database: remove it or pick another --db")
    if header != _HEADER:
        raise InputError(f"{path} is not an SQLite database: remove it or pick another --db")


def _now() -> datetime:
    return datetime.now(UTC)


class SqliteDatabase:
    """One SQLite file with its schema, a lock and a transaction helper; shared by the
    store and the SQLite index, which may live in the same file."""

    def __init__(self, path: Path, schema: str) -> None:
        self._conn = connect(path)
        self._lock = threading.RLock()
        with self._lock:
            self._conn.executescript(schema)
            self._migrate()

    def _migrate(self) -> None:
        """Bring a database made by an older version up to the schema (no-op here)."""

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, rolled back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")


class SqliteStore(FeedRegistry, SqliteDatabase, SqliteWatches, SqliteGroups):
    """SQLite-backed state store. Thread-safe; one instance per process."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA + WATCH_SCHEMA + GROUPS_SCHEMA)

    def _migrate(self) -> None:
        columns = {r["name"] for r in self._conn.execute("PRAGMA table_info(entries)")}
        if "host" not in columns:  # databases from before fair scheduling
            self._conn.execute("ALTER TABLE entries ADD COLUMN host TEXT NOT NULL DEFAULT ''")
        self._conn.execute("CREATE INDEX IF NOT EXISTS entries_host ON entries (status, host)")

    # feeds --------------------------------------------------------------

    def _insert_feed(self, feed: Feed) -> bool:
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO feeds(feed_id, name, removed, next_check_at, state)"
                " VALUES (?,?,?,?,?)",
                (
                    feed.state.feed_id,
                    feed.name,
                    int(feed.removed),
                    feed.state.next_check_at.isoformat(),
                    feed.state.model_dump_json(),
                ),
            )
            return bool(cur.rowcount)

    def _put_feed(self, feed: Feed) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE feeds SET name=?, removed=? WHERE feed_id=?",
                (feed.name, int(feed.removed), feed.state.feed_id),
            )
            self._put_state(c, feed.state)

    def feed(self, fid: str) -> Feed | None:
        row = self._conn.execute("SELECT * FROM feeds WHERE feed_id=?", (fid,)).fetchone()
        return _feed(row) if row else None

    def feeds(self, *, include_removed: bool = False) -> list[Feed]:
        sql = "SELECT * FROM feeds" + ("" if include_removed else " WHERE removed=0")
        return [_feed(r) for r in self._conn.execute(sql + " ORDER BY name")]

    def due_feeds(self, now: datetime) -> list[FeedState]:
        rows = self._conn.execute(
            "SELECT * FROM feeds WHERE removed=0 AND next_check_at<=? ORDER BY next_check_at",
            (now.isoformat(),),
        )
        return [s for s in (_feed(r).state for r in rows) if not s.retired]

    def save_feed_state(self, state: FeedState) -> None:
        with self._tx() as c:
            self._put_state(c, state)

    def save_poll(self, state: FeedState, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        """The feed's new state and its new entries in one transaction; returns the new."""
        with self._tx() as c:
            self._put_state(c, state)
            return self._insert_entries(c, entries)

    @staticmethod
    def _put_state(c: sqlite3.Connection, state: FeedState) -> None:
        c.execute(
            "UPDATE feeds SET state=?, next_check_at=? WHERE feed_id=?",
            (state.model_dump_json(), state.next_check_at.isoformat(), state.feed_id),
        )

    # entries --------------------------------------------------------------

    def add_entries(self, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        """Queue entries not seen before; returns the ones that were new."""
        with self._tx() as c:
            return self._insert_entries(c, entries)

    @staticmethod
    def _insert_entries(c: sqlite3.Connection, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        new = []
        now = _now().isoformat()
        for e in entries:
            cur = c.execute(
                "INSERT OR IGNORE INTO entries(feed_id, key, url, host, entry, created_at,"
                " updated_at) VALUES (?,?,?,?,?,?,?)",
                (e.feed_id, e.key, e.url, host_of(e.url), e.model_dump_json(), now, now),
            )
            if cur.rowcount:
                new.append(e)
        return new

    def pending(self, now: datetime | None = None, limit: int = 10_000) -> list[PendingEntry]:
        """Due entries in turns across hosts: each host's oldest, then each one's second
        oldest, and so on (a feed of 100k items no longer holds every other site back)."""
        rows = self._conn.execute(
            "SELECT entry, attempts FROM ("
            "  SELECT entry, attempts, created_at, rowid AS rid, ROW_NUMBER() OVER"
            "    (PARTITION BY host ORDER BY created_at, rowid) AS turn"
            "  FROM entries WHERE status='pending' AND not_before<=?"
            ") ORDER BY turn, created_at, rid LIMIT ?",
            ((now or _now()).isoformat(), limit),
        )
        return [
            PendingEntry(FeedEntry.model_validate_json(r["entry"]), r["attempts"]) for r in rows
        ]

    def is_done(self, article_id: str) -> bool:
        """Whether some entry (of any feed) already produced this article."""
        row = self._conn.execute(
            "SELECT 1 FROM entries WHERE article_id=? AND status='done' LIMIT 1", (article_id,)
        ).fetchone()
        return row is not None

    def mark_done(self, entry: FeedEntry, article_id: str, note: str | None = None) -> None:
        self._set(entry, "done", article_id=article_id, error=note)

    def mark_failed(self, entry: FeedEntry, reason: str) -> None:
        """A permanent failure: recorded with its reason, never retried."""
        self._set(entry, "failed", error=reason)

    def retry_later(self, entry: FeedEntry, reason: str, *, attempts: int, delay: float) -> None:
        """A transient failure: ``attempts`` failed so far; due again after ``delay`` s."""
        not_before = (_now() + timedelta(seconds=delay)).isoformat()
        self._set(entry, "pending", error=reason, attempts=attempts, not_before=not_before)

    def mark_dead(self, entry: FeedEntry, reason: str, attempts: int) -> None:
        """Transient retries ran out: keep the entry for ``replay_dead``."""
        self._set(entry, "dead", error=reason, attempts=attempts)

    def replay_dead(self) -> int:
        """Put every dead letter back in the queue; returns how many."""
        with self._tx() as c:
            cur = c.execute(
                "UPDATE entries SET status='pending', attempts=0, not_before='' WHERE status='dead'"
            )
            return cur.rowcount

    def records(self, status: EntryStatus, limit: int = 100) -> list[EntryRecord]:
        rows = self._conn.execute(
            "SELECT feed_id, key, url, status, attempts, last_error, updated_at FROM entries"
            " WHERE status=? ORDER BY updated_at DESC LIMIT ?",
            (status, limit),
        )
        return [EntryRecord(**dict(r)) for r in rows]

    def entry_counts(self) -> dict[str, dict[str, int]]:
        """Per feed id, how many entries are in each status."""
        out: dict[str, dict[str, int]] = {}
        for r in self._conn.execute(
            "SELECT feed_id, status, COUNT(*) n FROM entries GROUP BY 1, 2"
        ):
            out.setdefault(r["feed_id"], {})[r["status"]] = r["n"]
        return out

    def _set(
        self,
        entry: FeedEntry,
        status: EntryStatus,
        *,
        article_id: str | None = None,
        error: str | None = None,
        attempts: int | None = None,
        not_before: str | None = None,
    ) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE entries SET status=?, article_id=COALESCE(?, article_id), last_error=?,"
                " attempts=COALESCE(?, attempts), not_before=COALESCE(?, not_before),"
                " updated_at=? WHERE feed_id=? AND key=?",
                (
                    status,
                    article_id,
                    error,
                    attempts,
                    not_before,
                    _now().isoformat(),
                    entry.feed_id,
                    entry.key,
                ),
            )


def _feed(row: sqlite3.Row) -> Feed:
    return Feed(row["name"], FeedState.model_validate_json(row["state"]), bool(row["removed"]))
