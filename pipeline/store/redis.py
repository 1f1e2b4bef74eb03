"""The distributed mode's state store (Redis): feed state and schedule, seen entries,
outcomes and dead letters, plus what the workers hand each other between queues
(extracted text, analysed articles waiting for a bulk write) and the per-host
politeness every worker shares.

Keys (all under one prefix, ``nw:`` by default):

- ``feeds`` hash feed id → ``{name, removed, state}``; ``due`` sorted set feed id →
  next check (active feeds only).
- ``e:{ref}`` hash per entry, created by an atomic set-if-absent that expires after
  ``seen_ttl_days``; ``ref`` is a short hash of (feed id, entry key) and is what
  crosses the queue. ``counts:{feed id}`` counts entries per status; ``pending``,
  ``failed`` and ``dead`` sorted sets list refs by last change.
- ``x:{ref}`` extracted text waiting for the nlp queue; ``ix`` + ``ixdoc:{ref}``
  analysed articles waiting for the index queue (kept until the engine took them).
- ``done:{article id}`` marks a story already indexed (another feed may list it).
- ``lock:*``, ``host:*`` (politeness), ``w:{worker}`` (heartbeats), ``replay``.

Every status change is one Lua script, so counts stay right when a task runs twice.
Redis being unreachable surfaces as ``StoreUnavailableError`` (transient).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from pipeline.errors import StoreUnavailableError
from pipeline.models import Article, Extracted, FeedEntry, FeedState
from pipeline.settings import Settings
from pipeline.store import EntryRecord, EntryStatus, Feed
from pipeline.urls import feed_id as make_feed_id

log = logging.getLogger(__name__)

T = TypeVar("T")

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'feed_id', ARGV[3], 'key', ARGV[4], 'url', ARGV[5],
  'entry', ARGV[6], 'status', 'pending', 'attempts', 0, 'updated_at', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'pending', 1)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[8])
return 1
"""

# KEYS: entry, counts, pending, failed, dead
# ARGV: ref, status, score, updated_at, last_error, article_id, attempts ('' = keep)
_SET_STATUS = """
local old = redis.call('HGET', KEYS[1], 'status')
if not old then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[4], 'last_error', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'article_id', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'attempts', ARGV[7]) end
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

_CLAIM_FEED = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: slots (sorted set of leases), next start; ARGV: limit, token, lease s, delay s.
# Returns the seconds to wait before starting (as a string: Lua numbers become
# integers on the way out), or '-1' when every slot is taken.
_HOST_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return '-1' end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000))
local start = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), now)
redis.call('SET', KEYS[2], tostring(start + tonumber(ARGV[4])),
  'PX', math.ceil((start - now + tonumber(ARGV[4]) + 1) * 1000))
return tostring(start - now)
"""

_FAILED_KEEP = 10_000  # the newest permanent failures kept for `feeds status` and review


def entry_ref(feed_id: str, key: str) -> str:
    """The short id of an entry that crosses the queue."""
    return hashlib.sha1(f"{feed_id}\n{key}".encode()).hexdigest()[:24]


def _now() -> datetime:
    return datetime.now(UTC)


def _unavailable(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError(f"Redis unavailable: {exc}") from exc

    return wrapper


def _guarded(cls: type[T]) -> type[T]:
    """Turn Redis connection trouble in every public method into a transient error."""
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_") and name != "from_settings":
            setattr(cls, name, _unavailable(value))
    return cls


def connect(url: str) -> redis.Redis:
    """A client that rides out a Redis restart of a few seconds before giving up."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), 6),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


@_guarded
class RedisStore:
    """Redis-backed state store, shared by every worker. Thread- and fork-safe as long
    as each process builds its own (``from_settings`` after the fork)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        seen_ttl: int = 90 * 86_400,
        broker: redis.Redis | None = None,
        prefix: str = "nw:",
    ) -> None:
        self.r = client
        self.broker = broker or client
        self.seen_ttl = seen_ttl
        self.p = prefix
        self._create = self.r.register_script(_CREATE)
        self._set_status = self.r.register_script(_SET_STATUS)
        self._claim = self.r.register_script(_CLAIM_FEED)
        self._unlock = self.r.register_script(_UNLOCK)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisStore:
        broker = (
            None
            if settings.broker_url == settings.state_redis_url
            else connect(settings.broker_url)
        )
        return cls(
            connect(settings.state_redis_url),
            seen_ttl=settings.seen_ttl_days * 86_400,
            broker=broker,
        )

    def close(self) -> None:
        self.r.close()
        if self.broker is not self.r:
            self.broker.close()

    def ping(self) -> bool:
        return bool(self.r.ping())

    # feeds ------------------------------------------------------------------------

    def add_feed(
        self,
        url: str,
        name: str = "",
        *,
        interval: int,
        feed_id: str | None = None,
        revive: bool = True,
    ) -> Feed:
        fid = feed_id or make_feed_id(url)
        state = FeedState(feed_id=fid, url=url, interval=interval, next_check_at=_now())
        record = {"name": name or url, "removed": False, "state": state.model_dump(mode="json")}
        if self.r.hsetnx(f"{self.p}feeds", fid, json.dumps(record)):
            self.r.zadd(f"{self.p}due", {fid: state.next_check_at.timestamp()})
        else:
            feed = self.feed(fid)
            if feed is not None and feed.removed and revive:
                self._put_feed(Feed(name or url, feed.state, removed=False))
        feed = self.feed(fid)
        assert feed is not None
        return feed

    def remove_feed(self, ref: str) -> bool:
        feed = self.find_feed(ref)
        if feed is None:
            return False
        self._put_feed(Feed(feed.name, feed.state, removed=True))
        return True

    def find_feed(self, ref: str) -> Feed | None:
        for feed in self.feeds(include_removed=True):
            if ref in (feed.state.feed_id, feed.state.url, feed.name):
                return feed
        return self.feed(make_feed_id(ref))

    def feed(self, fid: str) -> Feed | None:
        raw = self.r.hget(f"{self.p}feeds", fid)
        return _feed(cast(str, raw)) if raw else None

    def feeds(self, *, include_removed: bool = False) -> list[Feed]:
        raws = cast(dict[str, str], self.r.hgetall(f"{self.p}feeds")).values()
        feeds = [f for f in map(_feed, raws) if include_removed or not f.removed]
        return sorted(feeds, key=lambda f: f.name)

    def due_feeds(self, now: datetime) -> list[FeedState]:
        fids = cast(list[str], self.r.zrangebyscore(f"{self.p}due", "-inf", now.timestamp()))
        if not fids:
            return []
        raws = cast(list[str | None], self.r.hmget(f"{self.p}feeds", fids))
        feeds = [_feed(raw) for raw in raws if raw]
        return [f.state for f in feeds if not f.removed and not f.state.retired]

    def claim_feed(self, fid: str, now: datetime, lease: float) -> bool:
        """Take a due feed for one poll: its next check moves ``lease`` seconds ahead,
        so the next scheduler tick does not enqueue it again while it waits in the
        queue (if the poll is lost, the feed is simply due again after the lease)."""
        ts = now.timestamp()
        return bool(self._claim(keys=[f"{self.p}due"], args=[fid, ts, ts + lease]))

    def save_feed_state(self, state: FeedState) -> None:
        feed = self.feed(state.feed_id)
        if feed is None:
            return
        self._put_feed(Feed(feed.name, state, feed.removed))

    def set_feed_url(self, fid: str, url: str) -> None:
        feed = self.feed(fid)
        if feed is not None and feed.state.url != url:
            self.save_feed_state(feed.state.model_copy(update={"url": url}))

    def _put_feed(self, feed: Feed) -> None:
        record = {
            "name": feed.name,
            "removed": feed.removed,
            "state": feed.state.model_dump(mode="json"),
        }
        pipe = self.r.pipeline()
        pipe.hset(f"{self.p}feeds", feed.state.feed_id, json.dumps(record))
        if feed.removed or feed.state.retired:
            pipe.zrem(f"{self.p}due", feed.state.feed_id)
        else:
            pipe.zadd(f"{self.p}due", {feed.state.feed_id: feed.state.next_check_at.timestamp()})
        pipe.execute()

    def feeds_file_changed(self, stamp: str) -> bool:
        """Whether the feeds file's ``stamp`` (size and mtime) differs from the last one seen."""
        return self.r.getset(f"{self.p}feeds_file", stamp) != stamp

    # entries ----------------------------------------------------------------------

    def add_entries(self, entries: Iterable[FeedEntry]) -> list[FeedEntry]:
        new = []
        now = _now()
        for e in entries:
            ref = entry_ref(e.feed_id, e.key)
            created = self._create(
                keys=[f"{self.p}e:{ref}", f"{self.p}counts:{e.feed_id}", f"{self.p}pending"],
                args=[
                    self.seen_ttl,
                    now.timestamp(),
                    e.feed_id,
                    e.key,
                    e.url,
                    e.model_dump_json(),
                    now.isoformat(),
                    ref,
                ],
            )
            if created:
                new.append(e)
        return new

    def entry(self, ref: str) -> FeedEntry | None:
        raw = self.r.hget(f"{self.p}e:{ref}", "entry")
        return FeedEntry.model_validate_json(cast(str, raw)) if raw else None

    def entry_status(self, ref: str) -> tuple[FeedEntry, EntryStatus] | None:
        """An entry and its status in one read (what every task checks first)."""
        raw, status = cast(list[str | None], self.r.hmget(f"{self.p}e:{ref}", ["entry", "status"]))
        if not raw or not status:
            return None
        return FeedEntry.model_validate_json(raw), cast(EntryStatus, status)

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

    def touch(self, entry: FeedEntry, attempts: int, reason: str = "") -> None:
        """Still pending (being retried): record the attempt and restart its stale clock."""
        self._status(entry, "pending", error=reason, attempts=attempts)

    def _status(
        self,
        entry: FeedEntry,
        status: EntryStatus,
        *,
        error: str = "",
        article_id: str = "",
        attempts: int | None = None,
    ) -> None:
        ref = entry_ref(entry.feed_id, entry.key)
        now = _now()
        self._set_status(
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
                now.timestamp(),
                now.isoformat(),
                error,
                article_id,
                "" if attempts is None else attempts,
            ],
        )

    def stale_pending(self, older_than: float, limit: int = 1000) -> list[str]:
        """Refs of entries pending for more than ``older_than`` seconds with no news:
        claimed by a poll that died before it could enqueue them. Safe to enqueue
        again: every stage is idempotent."""
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
            entry = self.entry(ref)
            if entry is None:
                self.r.zrem(f"{self.p}dead", ref)
                continue
            self._status(entry, "pending", error="replayed", attempts=0)
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

    # hand-offs between queues ------------------------------------------------------------

    def put_extracted(self, ref: str, extracted: Extracted, url: str) -> None:
        payload = json.dumps({"url": url, "extracted": extracted.model_dump(mode="json")})
        self.r.set(f"{self.p}x:{ref}", payload, ex=self.seen_ttl)

    def get_extracted(self, ref: str) -> tuple[Extracted, str] | None:
        raw = self.r.get(f"{self.p}x:{ref}")
        if not raw:
            return None
        data = json.loads(cast(str, raw))
        return Extracted.model_validate(data["extracted"]), data["url"]

    def put_for_index(self, ref: str, article: Article) -> None:
        """Hand an analysed article to the index queue (and drop its extracted text)."""
        pipe = self.r.pipeline()  # MULTI/EXEC: the document and its place in line together
        pipe.set(f"{self.p}ixdoc:{ref}", article.model_dump_json())
        pipe.zadd(f"{self.p}ix", {ref: time.time()}, nx=True)
        pipe.delete(f"{self.p}x:{ref}")
        pipe.execute()

    def for_index(self, limit: int) -> list[tuple[str, Article]]:
        """The oldest articles waiting for the index (they stay until ``indexed``)."""
        refs = cast(list[str], self.r.zrange(f"{self.p}ix", 0, limit - 1))
        if not refs:
            return []
        docs = cast(list[str | None], self.r.mget([f"{self.p}ixdoc:{ref}" for ref in refs]))
        out, orphans = [], []
        for ref, doc in zip(refs, docs, strict=True):
            if doc:
                out.append((ref, Article.model_validate_json(doc)))
            else:
                orphans.append(ref)
        if orphans:
            self.r.zrem(f"{self.p}ix", *orphans)
        return out

    def indexed(self, refs: Iterable[str]) -> None:
        refs = list(refs)
        if refs:
            pipe = self.r.pipeline()
            pipe.zrem(f"{self.p}ix", *refs)
            pipe.delete(*[f"{self.p}ixdoc:{ref}" for ref in refs])
            pipe.execute()

    def index_backlog(self) -> int:
        return cast(int, self.r.zcard(f"{self.p}ix"))

    def request_index_run(self) -> bool:
        """True when no index run is already scheduled: the caller should enqueue one."""
        return bool(self.r.set(f"{self.p}ix:scheduled", "1", nx=True, ex=60))

    def index_run_started(self) -> None:
        self.r.delete(f"{self.p}ix:scheduled")

    # coordination -------------------------------------------------------------------------

    @contextmanager
    def lock(self, name: str, ttl: float) -> Iterator[bool]:
        """Hold ``name`` for at most ``ttl`` seconds; yields False if someone else holds it."""
        token = secrets.token_hex(8)
        key = f"{self.p}lock:{name}"
        got = bool(self.r.set(key, token, nx=True, px=int(ttl * 1000)))
        try:
            yield got
        finally:
            if got:
                self._unlock(keys=[key], args=[token])

    def heartbeat(self, worker: str, info: dict[str, Any], ttl: float) -> None:
        self.r.set(f"{self.p}w:{worker}", json.dumps(info), px=int(ttl * 1000))

    def live_workers(self) -> dict[str, dict[str, Any]]:
        out = {}
        for key in self.r.scan_iter(f"{self.p}w:*", count=500):
            raw = self.r.get(key)
            if raw:
                out[cast(str, key)[len(self.p) + 2 :]] = json.loads(cast(str, raw))
        return out

    def queue_depths(self, queues: Iterable[str]) -> dict[str, int]:
        """Messages waiting in each Celery queue of the broker (a Redis list per queue)."""
        return {q: cast(int, self.broker.llen(q)) for q in queues}


def _feed(raw: str) -> Feed:
    data = json.loads(raw)
    return Feed(data["name"], FeedState.model_validate(data["state"]), bool(data["removed"]))


class RedisHostGate:
    """Per-host politeness shared by every worker through Redis: at most ``concurrency``
    requests to a host at once and ``delay`` seconds between their starts, whichever
    process makes them. A slot is a lease that frees itself if its holder dies."""

    def __init__(
        self, client: redis.Redis, concurrency: int, delay: float, lease: float, prefix: str = "nw:"
    ) -> None:
        self._r = client
        self._concurrency = concurrency
        self._delay = delay
        self._lease = lease
        self._p = prefix
        self._acquire = client.register_script(_HOST_SLOT)

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        token = secrets.token_hex(8)
        slots = f"{self._p}host:{host}:slots"
        try:
            while True:
                wait = float(
                    self._acquire(
                        keys=[slots, f"{self._p}host:{host}:next"],
                        args=[self._concurrency, token, self._lease, self._delay],
                    )
                )
                if wait >= 0:
                    break
                time.sleep(0.05)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError(f"Redis unavailable: {exc}") from exc
        if wait > 0:
            time.sleep(wait)
        try:
            yield
        finally:
            try:
                self._r.zrem(slots, token)
            except (redis.ConnectionError, redis.TimeoutError):
                log.warning("could not release host slot host=%s (it expires by itself)", host)
