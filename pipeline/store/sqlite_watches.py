"""Saved searches in the embedded store (SQLite): ``watches`` (one row per watch, the
record as JSON) and ``watch_matches`` (one row per watch and story, its delivery
state). The primary key of a match is the set-if-absent that keeps a story from being
recorded, or delivered, twice for one watch."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pipeline.watch_model import DeliveryState, Watch, WatchMatch

WATCH_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    watch TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_matches (
    watch_id TEXT NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    matched_at TEXT NOT NULL,
    state TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL DEFAULT '',
    match TEXT NOT NULL,
    PRIMARY KEY (watch_id, article_id)
);
CREATE INDEX IF NOT EXISTS watch_matches_recent ON watch_matches (watch_id, matched_at);
CREATE INDEX IF NOT EXISTS watch_matches_due ON watch_matches (state, next_attempt_at);
"""

_WAITING = ("pending", "sending")


def _iso(when: datetime | None) -> str:
    return when.astimezone(UTC).isoformat() if when else ""


class SqliteWatches:
    """``WatchStore`` over the store's connection (``SqliteDatabase`` gives ``_conn``,
    ``_lock`` and ``_tx``)."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:  # given by SqliteDatabase, which comes first in the store's bases

        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def add_watch(self, watch: Watch) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO watches(id, created_at, watch) VALUES (?,?,?)",
                (watch.id, _iso(watch.created_at), watch.model_dump_json()),
            )

    def watch(self, watch_id: str) -> Watch | None:
        row = self._conn.execute("SELECT watch FROM watches WHERE id=?", (watch_id,)).fetchone()
        return Watch.model_validate_json(row["watch"]) if row else None

    def watches(self) -> list[Watch]:
        rows = self._conn.execute("SELECT watch FROM watches ORDER BY created_at, id")
        return [Watch.model_validate_json(r["watch"]) for r in rows]

    def remove_watch(self, watch_id: str) -> bool:
        with self._tx() as c:
            c.execute("DELETE FROM watch_matches WHERE watch_id=?", (watch_id,))
            return bool(c.execute("DELETE FROM watches WHERE id=?", (watch_id,)).rowcount)

    def add_matches(self, matches: Iterable[WatchMatch]) -> list[WatchMatch]:
        new = []
        with self._tx() as c:
            known = {r["id"] for r in c.execute("SELECT id FROM watches")}
            for m in matches:
                if m.watch_id not in known:
                    continue
                cur = c.execute(
                    "INSERT OR IGNORE INTO watch_matches(watch_id, article_id, matched_at, state,"
                    " next_attempt_at, match) VALUES (?,?,?,?,?,?)",
                    (
                        m.watch_id,
                        m.article_id,
                        _iso(m.matched_at),
                        m.state,
                        _iso(m.next_attempt_at),
                        m.model_dump_json(),
                    ),
                )
                if cur.rowcount:
                    new.append(m)
        return new

    def matches(self, watch_id: str, limit: int = 100) -> list[WatchMatch]:
        rows = self._conn.execute(
            "SELECT match FROM watch_matches WHERE watch_id=?"
            " ORDER BY matched_at DESC, article_id LIMIT ?",
            (watch_id, limit),
        )
        return [WatchMatch.model_validate_json(r["match"]) for r in rows]

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[WatchMatch]:
        rows = self._conn.execute(
            "SELECT match FROM watch_matches WHERE state IN (?,?) AND next_attempt_at<=?"
            " ORDER BY next_attempt_at, matched_at LIMIT ?",
            (*_WAITING, _iso(now), limit),
        )
        return [WatchMatch.model_validate_json(r["match"]) for r in rows]

    def claim_delivery(self, match: WatchMatch, now: datetime, lease: float) -> bool:
        taken = match.model_copy(
            update={"state": "sending", "next_attempt_at": now + timedelta(seconds=lease)}
        )
        with self._tx() as c:
            cur = c.execute(
                "UPDATE watch_matches SET state=?, next_attempt_at=?, match=?"
                " WHERE watch_id=? AND article_id=? AND state IN (?,?) AND next_attempt_at<=?",
                (
                    taken.state,
                    _iso(taken.next_attempt_at),
                    taken.model_dump_json(),
                    match.watch_id,
                    match.article_id,
                    *_WAITING,
                    _iso(now),
                ),
            )
            return bool(cur.rowcount)

    def save_delivery(self, match: WatchMatch) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE watch_matches SET state=?, next_attempt_at=?, match=?"
                " WHERE watch_id=? AND article_id=?",
                (
                    match.state,
                    _iso(match.next_attempt_at),
                    match.model_dump_json(),
                    match.watch_id,
                    match.article_id,
                ),
            )

    def replay_deliveries(self, watch_id: str | None = None) -> int:
        sql = "SELECT match FROM watch_matches WHERE state='dead'"
        params: tuple[str, ...] = ()
        if watch_id is not None:
            sql, params = sql + " AND watch_id=?", (watch_id,)
        with self._tx() as c:
            dead = [WatchMatch.model_validate_json(r["match"]) for r in c.execute(sql, params)]
            for m in dead:
                again = m.model_copy(update={"state": "pending", "attempts": 0})
                c.execute(
                    "UPDATE watch_matches SET state='pending', next_attempt_at='', match=?"
                    " WHERE watch_id=? AND article_id=?",
                    (again.model_dump_json(), m.watch_id, m.article_id),
                )
        return len(dead)

    def delivery_counts(self) -> dict[str, dict[DeliveryState, int]]:
        out: dict[str, dict[DeliveryState, int]] = {}
        for r in self._conn.execute(
            "SELECT watch_id, state, COUNT(*) n FROM watch_matches GROUP BY 1, 2"
        ):
            out.setdefault(r["watch_id"], {})[r["state"]] = r["n"]
        return out
