"""Feed state in Redis: ``feeds`` hash feed id → ``{name, removed, state}``, and the
``due`` sorted set feed id → next check (active feeds only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import cast

from pipeline.models import FeedState
from pipeline.store.base import Feed, FeedRegistry
from pipeline.store.redis.client import RedisPart, guarded

_CLAIM_FEED = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""


def feed_record(feed: Feed) -> str:
    """A feed as it is kept in the ``feeds`` hash."""
    return json.dumps(
        {"name": feed.name, "removed": feed.removed, "state": feed.state.model_dump(mode="json")}
    )


def due_score(feed: Feed) -> float | None:
    """The feed's place in ``due``; None when it is not polled at all."""
    return None if feed.removed or feed.state.retired else feed.state.next_check_at.timestamp()


def _feed(raw: str) -> Feed:
    data = json.loads(raw)
    return Feed(data["name"], FeedState.model_validate(data["state"]), bool(data["removed"]))


@guarded
class RedisFeeds(FeedRegistry, RedisPart):
    """Feeds and their schedule."""

    def _insert_feed(self, feed: Feed) -> bool:
        fid = feed.state.feed_id
        if not self.r.hsetnx(f"{self.p}feeds", fid, feed_record(feed)):
            return False
        score = due_score(feed)
        if score is not None:
            self.r.zadd(f"{self.p}due", {fid: score})
        return True

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
        claim = self._script(_CLAIM_FEED)
        return bool(claim(keys=[f"{self.p}due"], args=[fid, ts, ts + lease]))

    def save_feed_state(self, state: FeedState) -> None:
        feed = self.feed(state.feed_id)
        if feed is None:
            return
        self._put_feed(Feed(feed.name, state, feed.removed))

    def _put_feed(self, feed: Feed) -> None:
        pipe = self.r.pipeline()  # MULTI/EXEC: the record and its schedule together
        pipe.hset(f"{self.p}feeds", feed.state.feed_id, feed_record(feed))
        score = due_score(feed)
        if score is None:
            pipe.zrem(f"{self.p}due", feed.state.feed_id)
        else:
            pipe.zadd(f"{self.p}due", {feed.state.feed_id: score})
        pipe.execute()

    def feeds_file_changed(self, stamp: str) -> bool:
        """Whether the feeds file's ``stamp`` (size and mtime) differs from the last one seen."""
        return self.r.getset(f"{self.p}feeds_file", stamp) != stamp
