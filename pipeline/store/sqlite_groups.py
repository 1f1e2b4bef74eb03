"""The SQLite store's part of the grouping (``Groups``): ``fingerprints`` (one row per
indexed story), ``bands`` (the LSH band index: key, time, story; read by key and time
range), ``cluster_parents`` (the union-find forest) and ``leases`` (the grouping's
lock, which other processes on the same file respect too)."""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from pipeline.errors import StoreUnavailableError
from pipeline.store.base import Fingerprint

GROUPS_SCHEMA = """
CREATE TABLE IF NOT EXISTS fingerprints (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    text BLOB NOT NULL,
    event BLOB NOT NULL,
    entities TEXT NOT NULL,
    shingles INTEGER NOT NULL,
    duplicate_of TEXT
);
CREATE TABLE IF NOT EXISTS bands (
    key TEXT NOT NULL, at REAL NOT NULL, id TEXT NOT NULL, PRIMARY KEY (key, at, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cluster_parents (id TEXT PRIMARY KEY, parent TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, token TEXT NOT NULL, until REAL NOT NULL);
"""

_CHUNK = 400  # host parameters per statement, well under SQLite's limit
_LEASE_S = 300.0  # a batch's grouping and write; a crashed holder's lease runs out


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class SqliteGroups:
    """``Groups`` over the store's connection: a mixin after ``SqliteDatabase``, which
    provides ``_conn``, ``_lock`` and ``_tx``."""

    _conn: sqlite3.Connection
    _lock: threading.RLock

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def fingerprints(self, ids: Iterable[str]) -> dict[str, Fingerprint]:
        out = {}
        with self._lock:
            for chunk in _chunks(sorted(set(ids))):
                rows = self._conn.execute(
                    f"SELECT * FROM fingerprints WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                for r in rows:
                    out[r["id"]] = Fingerprint(
                        r["id"],
                        r["at"],
                        bytes(r["text"]),
                        bytes(r["event"]),
                        tuple(r["entities"].split("\n")) if r["entities"] else (),
                        r["shingles"],
                        r["duplicate_of"],
                    )
        return out

    def band_members(
        self, keys: Iterable[str], since: float | None = None, until: float | None = None
    ) -> set[str]:
        lo = float("-inf") if since is None else since
        hi = float("inf") if until is None else until
        out: set[str] = set()
        with self._lock:
            for chunk in _chunks(sorted(set(keys))):
                rows = self._conn.execute(
                    "SELECT DISTINCT id FROM bands"
                    f" WHERE key IN ({','.join('?' * len(chunk))}) AND at BETWEEN ? AND ?",
                    [*chunk, lo, hi],
                )
                out.update(r[0] for r in rows)
        return out

    def add_fingerprint(self, fp: Fingerprint, keys: Iterable[str]) -> bool:
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO fingerprints VALUES (?,?,?,?,?,?,?)",
                (
                    fp.id,
                    fp.at,
                    fp.text,
                    fp.event,
                    "\n".join(fp.entities),
                    fp.shingles,
                    fp.duplicate_of,
                ),
            )
            if not cur.rowcount:
                return False
            c.executemany(
                "INSERT OR IGNORE INTO bands VALUES (?,?,?)", [(k, fp.at, fp.id) for k in keys]
            )
            return True

    def parents(self, ids: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        with self._lock:
            for chunk in _chunks(sorted(set(ids))):
                rows = self._conn.execute(
                    f"SELECT id, parent FROM cluster_parents WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                out.update((r[0], r[1]) for r in rows)
        return out

    def set_parents(self, parents: dict[str, str]) -> None:
        with self._tx() as c:
            c.executemany(
                "INSERT INTO cluster_parents VALUES (?,?)"
                " ON CONFLICT(id) DO UPDATE SET parent=excluded.parent",
                list(parents.items()),
            )

    @contextmanager
    def grouping(self, timeout: float = 60.0) -> Iterator[None]:
        """A lease in the file (processes sharing it wait for each other), held for one
        batch; a holder that died releases it after ``_LEASE_S``."""
        token = secrets.token_hex(8)
        deadline = time.monotonic() + timeout
        while not self._take_lease(token):
            if time.monotonic() > deadline:
                raise StoreUnavailableError("the grouping is held by another process")
            time.sleep(0.05)
        try:
            yield
        finally:
            with self._tx() as c:
                c.execute("DELETE FROM leases WHERE name='grouping' AND token=?", (token,))

    def _take_lease(self, token: str) -> bool:
        now = time.time()
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO leases VALUES ('grouping', ?, ?) ON CONFLICT(name) DO UPDATE"
                " SET token=excluded.token, until=excluded.until WHERE leases.until < ?",
                (token, now + _LEASE_S, now),
            )
            return bool(cur.rowcount)
