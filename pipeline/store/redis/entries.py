"""Seen entries and their outcomes in Redis.

``e:{ref}`` is a hash per entry, created by an atomic set-if-absent that expires after
``seen_ttl``; ``ref`` is a short hash of (feed id, entry key) and is what crosses the
queue. ``counts:{feed id}`` counts entries per status; the ``pending``, ``failed`` and
``dead`` sorted sets list refs by last change; ``q:{host}`` lists the new entries of
a host waiting for their turn (``hosts`` names the hosts with any); ``done:{article
id}`` marks a story already indexed (another feed may list it); ``replay`` lists dead
letters to enqueue again. Every status change is one Lua script, so counts stay right when a task runs
twice.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import chain, zip_longest
from typing import cast

from pipeline.models import FeedEntry, FeedState
from pipeline.store.base import EntryRecord, EntryStatus, Feed, PendingEntry
from pipeline.store.redis.client import entry_ref, guarded, now
from pipeline.store.redis.feeds import RedisFeeds, due_score, feed_record
from pipeline.urls import host_of

# A poll's outcome at once: the feed's record and schedule (when ARGV[2] is not empty),
# then each entry not seen before, which also joins its host's line (``q:{host}``, the
# host in the ``hosts`` set) to wait for ``next_to_fetch``. KEYS: feeds, due, pending,
# hosts, then per entry its hash, its feed's counts and its host's line. ARGV: feed id,
# record, due score ('' = not due), ttl, now, now ISO, then per entry: ref, feed id,
# key, url, entry JSON, host. Returns the positions (1-based) of the new entries.
# A waiting entry's score in ``pending`` is _WAITING seconds ahead of its creation
# (plus its place in the feed), so that ``stale_pending``, which looks for dispatched
# entries gone quiet, never takes one still waiting for its turn.
_SAVE_POLL = """
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[1])
  else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end
end
local new = {}
local n = (#KEYS - 4) / 3
for i = 1, n do
  local e, counts, line, a = KEYS[2 + 3 * i], KEYS[3 + 3 * i], KEYS[4 + 3 * i], 6 + (i - 1) * 6
  if redis.call('EXISTS', e) == 0 then
    redis.call('HSET', e, 'feed_id', ARGV[a + 2], 'key', ARGV[a + 3], 'url', ARGV[a + 4],
      'entry', ARGV[a + 5], 'status', 'pending', 'attempts', 0, 'updated_at', ARGV[6])
    redis.call('EXPIRE', e, ARGV[4])
    redis.call('HINCRBY', counts, 'pending', 1)
    redis.call('ZADD', KEYS[3], tonumber(ARGV[5]) + i / 1e5, ARGV[a + 1])
    redis.call('RPUSH', line, ARGV[a + 1])
    redis.call('SADD', KEYS[4], ARGV[a + 6])
    new[#new + 1] = i
  end
end
return new
"""
_WAITING = 1e10

# Up to ARGV[1] refs, one per host in turn (starting at host ARGV[2] modulo their
# number, so no host is always last), each now dispatched: its ``pending`` score
# becomes now (ARGV[3]). KEYS: hosts, pending; ARGV[4] is the key prefix of the lines.
_NEXT_TO_FETCH = """
local hosts = redis.call('SMEMBERS', KEYS[1])
local out, limit = {}, tonumber(ARGV[1])
local start = #hosts > 0 and tonumber(ARGV[2]) % #hosts or 0
local turn = {}
for i = 1, #hosts do turn[i] = hosts[(start + i - 1) % #hosts + 1] end
while #out < limit and #turn > 0 do
  local still = {}
  for _, host in ipairs(turn) do
    if #out < limit then
      local ref = redis.call('LPOP', ARGV[4] .. host)
      if ref then
        out[#out + 1] = ref
        redis.call('ZADD', KEYS[2], 'XX', ARGV[3], ref)
        still[#still + 1] = host
      else
        redis.call('SREM', KEYS[1], host)
      end
    end
  end
  turn = still
end
return out
"""

# KEYS: entry, counts, pending, failed, dead
# ARGV: ref, status, score, updated_at, last_error, article_id, attempts, not_before
# ('' = keep)
_SET_STATUS = """
local old = redis.call('HGET', KEYS[1], 'status')
if not old then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[4], 'last_error', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'article_id', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'attempts', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'not_before', ARGV[8]) end
if old ~= ARGV[2] then
  redis.call('HINCRBY', KEYS[2], old, -1)
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
local target = {pending = KEYS[3], failed = KEYS[4], dead = KEYS[5]}
if target[ARGV[2]] then redis.call('ZADD', target[ARGV[2]], ARGV[3], ARGV[1]) end
return 1
"""

_FAILED_KEEP = 10_000  # the newest permanent failures kept for `feeds status` and review


def in_turns(items: list[PendingEntry]) -> list[PendingEntry]:
    """``items`` (oldest first) reordered in turns across hosts: each host's first,
    then each host's second, and so on."""
    by_host: dict[str, list[PendingEntry]] = defaultdict(list)
    for item in items:
        by_host[host_of(item.entry.url)].append(item)
    turns = zip_longest(*by_host.values())
    return [item for item in chain.from_iterable(turns) if item is not None]


@guarded
class RedisEntries(RedisFeeds):
    """Seen entries, their outcomes, dead letters and their replay (on top of the
    feeds: a poll saves both at once)."""

    def save_poll(self, state: FeedState, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        """The feed's new state and its new entries in one Lua script (one atomic step
        in Redis); returns the new entries. An unknown feed's state is not saved."""
        feed = self.feed(state.feed_id)
        if feed is None:
            return self._save(state.feed_id, "", None, entries)
        saved = Feed(feed.name, state, feed.removed)
        return self._save(state.feed_id, feed_record(saved), due_score(saved), entries)

    def add_entries(self, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        return self._save("", "", None, entries)

    def _save(
        self, fid: str, record: str, due: float | None, entries: Iterable[FeedEntry]
    ) -> list[FeedEntry]:
        entries = list(entries)
        keys = [f"{self.p}feeds", f"{self.p}due", f"{self.p}pending", f"{self.p}hosts"]
        at = now()
        args: list[str | float | int] = [
            fid,
            record,
            "" if due is None else due,
            self.seen_ttl,
            _WAITING + at.timestamp(),
            at.isoformat(),
        ]
        for e in entries:
            ref, host = entry_ref(e.feed_id, e.key), host_of(e.url)
            keys += [f"{self.p}e:{ref}", f"{self.p}counts:{e.feed_id}", f"{self.p}q:{host}"]
            args += [ref, e.feed_id, e.key, e.url, e.model_dump_json(), host]
        new = cast(list[int], self._script(_SAVE_POLL)(keys=keys, args=args))
        return [entries[i - 1] for i in new]

    def next_to_fetch(self, limit: int) -> list[str]:
        """Refs of up to ``limit`` new entries to fetch, in turns across hosts (one of
        each host's oldest, then the next of each, ...), so a feed of 100k items does
        not hold every other site back. Each is dispatched: from now on it counts as
        stale if it gets no news (``stale_pending``)."""
        if limit <= 0:
            return []
        script = self._script(_NEXT_TO_FETCH)
        refs = script(
            keys=[f"{self.p}hosts", f"{self.p}pending"],
            args=[limit, random.randrange(1 << 30), time.time(), f"{self.p}q:"],
        )
        return cast(list[str], refs)

    def entry(self, ref: str) -> PendingEntry | None:
        """The entry behind ``ref`` with its status and attempts (one read)."""
        raw, status, attempts = cast(
            list[str | None], self.r.hmget(f"{self.p}e:{ref}", ["entry", "status", "attempts"])
        )
        if not raw or not status:
            return None
        return PendingEntry(
            FeedEntry.model_validate_json(raw), int(attempts or 0), cast(EntryStatus, status)
        )

    def pending(self, now: datetime | None = None, limit: int = 10_000) -> list[PendingEntry]:
        """Pending entries past their retry time, in turns across hosts."""
        cutoff = now.timestamp() if now else time.time()
        refs = cast(list[str], self.r.zrange(f"{self.p}pending", 0, -1))
        pipe = self.r.pipeline(transaction=False)
        for ref in refs:
            pipe.hmget(f"{self.p}e:{ref}", ["entry", "status", "attempts", "not_before"])
        due = [
            PendingEntry(FeedEntry.model_validate_json(raw), int(attempts or 0))
            for raw, status, attempts, not_before in cast(list[list[str | None]], pipe.execute())
            if raw and status == "pending" and float(not_before or 0) <= cutoff
        ]
        return in_turns(due)[:limit]

    def record(self, ref: str) -> EntryRecord | None:
        h = cast(dict[str, str], self.r.hgetall(f"{self.p}e:{ref}"))
        if not h:
            return None
        return EntryRecord(
            feed_id=h["feed_id"],
            key=h["key"],
            url=h["url"],
            status=cast(EntryStatus, h["status"]),
            attempts=int(h.get("attempts") or 0),
            last_error=h.get("last_error") or None,
            updated_at=h["updated_at"],
        )

    def is_done(self, article_id: str) -> bool:
        return bool(self.r.exists(f"{self.p}done:{article_id}"))

    def mark_done(self, entry: FeedEntry, article_id: str, note: str | None = None) -> None:
        self._status(entry, "done", error=note or "", article_id=article_id)
        self.r.set(
            f"{self.p}done:{article_id}", entry_ref(entry.feed_id, entry.key), ex=self.seen_ttl
        )

    def mark_failed(self, entry: FeedEntry, reason: str) -> None:
        self._status(entry, "failed", error=reason)
        self.r.zremrangebyrank(f"{self.p}failed", 0, -_FAILED_KEEP - 1)

    def mark_dead(self, entry: FeedEntry, reason: str, attempts: int) -> None:
        """Transient retries ran out: keep the entry for ``replay_dead``."""
        self._status(entry, "dead", error=reason, attempts=attempts)

    def retry_later(self, entry: FeedEntry, reason: str, *, attempts: int, delay: float) -> None:
        """Still pending, to be retried after ``delay``: record the attempts and restart
        its stale clock (the retry itself is the queue's, a delayed message)."""
        self._status(entry, "pending", error=reason, attempts=attempts, delay=delay)

    def _status(
        self,
        entry: FeedEntry,
        status: EntryStatus,
        *,
        error: str = "",
        article_id: str = "",
        attempts: int | None = None,
        delay: float | None = None,
    ) -> None:
        ref = entry_ref(entry.feed_id, entry.key)
        at = now()
        self._script(_SET_STATUS)(
            keys=[
                f"{self.p}e:{ref}",
                f"{self.p}counts:{entry.feed_id}",
                f"{self.p}pending",
                f"{self.p}failed",
                f"{self.p}dead",
            ],
            args=[
                ref,
                status,
                at.timestamp(),
                at.isoformat(),
                error,
                article_id,
                "" if attempts is None else attempts,
                "" if delay is None else at.timestamp() + delay,
            ],
        )

    def stale_pending(self, older_than: float, limit: int = 1000) -> list[str]:
        """Refs of dispatched entries pending for more than ``older_than`` seconds with
        no news: taken by a worker that died before it could enqueue them, or lost
        with a message. Safe to enqueue again: every stage is idempotent."""
        cutoff = time.time() - older_than
        return cast(
            list[str], self.r.zrangebyscore(f"{self.p}pending", "-inf", cutoff, start=0, num=limit)
        )

    def records(self, status: EntryStatus, limit: int = 100) -> list[EntryRecord]:
        if status == "done":
            return []  # not listed in this mode: the index holds them
        refs = cast(list[str], self.r.zrevrange(f"{self.p}{status}", 0, limit - 1))
        return [r for r in map(self.record, refs) if r is not None]

    def replay_dead(self) -> int:
        refs = cast(list[str], self.r.zrange(f"{self.p}dead", 0, -1))
        for ref in refs:
            found = self.entry(ref)
            if found is None:
                self.r.zrem(f"{self.p}dead", ref)
                continue
            self._status(found.entry, "pending", error="replayed", attempts=0, delay=0)
            self.r.rpush(f"{self.p}replay", ref)
        return len(refs)

    def take_replayed(self, limit: int = 1000) -> list[str]:
        return cast(list[str], self.r.lpop(f"{self.p}replay", limit) or [])

    def entry_counts(self) -> dict[str, dict[str, int]]:
        out = {}
        for fid in cast(list[str], self.r.hkeys(f"{self.p}feeds")):
            counts = cast(dict[str, str], self.r.hgetall(f"{self.p}counts:{fid}"))
            kept = {k: int(v) for k, v in counts.items() if int(v) > 0}
            if kept:
                out[fid] = kept
        return out
