"""Saved searches in Redis: ``watches`` hash watch id → record; per watch ``wm:{id}``
hash article id → match and ``wmt:{id}`` sorted set article id → matched time (newest
first for pages and feeds); ``wdue`` sorted set ``{watch id} {article id}`` → next
delivery attempt, for the matches waiting for delivery. Recording a match and taking a
delivery are Lua scripts: a story is recorded, and sent, once per watch even when two
workers try at once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from pipeline.store.redis.client import RedisPart, guarded
from pipeline.watch_model import DeliveryState, Watch, WatchMatch

# KEYS: watches, wdue, then per match its wm and wmt keys. ARGV per match: watch id,
# article id, JSON, matched timestamp, due score ('' = nothing to deliver). Returns the
# positions (1-based) of the new matches.
_ADD_MATCHES = """
local new = {}
for i = 1, (#KEYS - 2) / 2 do
  local a = (i - 1) * 5
  if redis.call('HEXISTS', KEYS[1], ARGV[a + 1]) == 1
     and redis.call('HSETNX', KEYS[1 + 2 * i], ARGV[a + 2], ARGV[a + 3]) == 1 then
    redis.call('ZADD', KEYS[2 + 2 * i], ARGV[a + 4], ARGV[a + 2])
    if ARGV[a + 5] ~= '' then
      redis.call('ZADD', KEYS[2], ARGV[a + 5], ARGV[a + 1] .. ' ' .. ARGV[a + 2])
    end
    new[#new + 1] = i
  end
end
return new
"""

# KEYS: wdue, wm. ARGV: member, article id, now, lease end, JSON of the taken match.
_CLAIM = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[3]) then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[5])
return 1
"""

_WAITING = ("pending", "sending")


@guarded
class RedisWatches(RedisPart):
    """``WatchStore`` in Redis."""

    def _member(self, m: WatchMatch) -> str:
        return f"{m.watch_id} {m.article_id}"

    def add_watch(self, watch: Watch) -> None:
        self.r.hset(f"{self.p}watches", watch.id, watch.model_dump_json())

    def watch(self, watch_id: str) -> Watch | None:
        raw = self.r.hget(f"{self.p}watches", watch_id)
        return Watch.model_validate_json(cast(str, raw)) if raw else None

    def watches(self) -> list[Watch]:
        raws = cast(dict[str, str], self.r.hgetall(f"{self.p}watches")).values()
        return sorted(map(Watch.model_validate_json, raws), key=lambda w: (w.created_at, w.id))

    def remove_watch(self, watch_id: str) -> bool:
        articles = cast(list[str], self.r.hkeys(f"{self.p}wm:{watch_id}"))
        pipe = self.r.pipeline()
        pipe.hdel(f"{self.p}watches", watch_id)
        pipe.delete(f"{self.p}wm:{watch_id}", f"{self.p}wmt:{watch_id}")
        if articles:
            pipe.zrem(f"{self.p}wdue", *(f"{watch_id} {a}" for a in articles))
        return bool(pipe.execute()[0])

    def add_matches(self, matches: Iterable[WatchMatch]) -> list[WatchMatch]:
        batch = list(matches)
        if not batch:
            return []
        keys = [f"{self.p}watches", f"{self.p}wdue"]
        args: list[str | float] = []
        for m in batch:
            keys += [f"{self.p}wm:{m.watch_id}", f"{self.p}wmt:{m.watch_id}"]
            due = "" if m.state not in _WAITING else _score(m.next_attempt_at)
            args += [m.watch_id, m.article_id, m.model_dump_json(), m.matched_at.timestamp(), due]
        new = cast(list[int], self._script(_ADD_MATCHES)(keys=keys, args=args))
        return [batch[i - 1] for i in new]

    def matches(self, watch_id: str, limit: int = 100) -> list[WatchMatch]:
        ids = cast(list[str], self.r.zrevrange(f"{self.p}wmt:{watch_id}", 0, limit - 1))
        if not ids:
            return []
        raws = cast(list[str | None], self.r.hmget(f"{self.p}wm:{watch_id}", ids))
        return [WatchMatch.model_validate_json(raw) for raw in raws if raw]

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[WatchMatch]:
        members = cast(
            list[str],
            self.r.zrangebyscore(f"{self.p}wdue", "-inf", now.timestamp(), start=0, num=limit),
        )
        out = []
        for member in members:
            watch_id, _, article_id = member.partition(" ")
            raw = self.r.hget(f"{self.p}wm:{watch_id}", article_id)
            if raw:
                out.append(WatchMatch.model_validate_json(cast(str, raw)))
        return out

    def claim_delivery(self, match: WatchMatch, now: datetime, lease: float) -> bool:
        until = now + timedelta(seconds=lease)
        taken = match.model_copy(update={"state": "sending", "next_attempt_at": until})
        claim = self._script(_CLAIM)
        return bool(
            claim(
                keys=[f"{self.p}wdue", f"{self.p}wm:{match.watch_id}"],
                args=[
                    self._member(match),
                    match.article_id,
                    now.timestamp(),
                    until.timestamp(),
                    taken.model_dump_json(),
                ],
            )
        )

    def save_delivery(self, match: WatchMatch) -> None:
        key = f"{self.p}wm:{match.watch_id}"
        if not self.r.hexists(key, match.article_id):  # the watch was removed meanwhile
            return
        pipe = self.r.pipeline()
        pipe.hset(key, match.article_id, match.model_dump_json())
        if match.state in _WAITING:
            pipe.zadd(f"{self.p}wdue", {self._member(match): _score(match.next_attempt_at)})
        else:
            pipe.zrem(f"{self.p}wdue", self._member(match))
        pipe.execute()

    def replay_deliveries(self, watch_id: str | None = None) -> int:
        ids = [watch_id] if watch_id is not None else [w.id for w in self.watches()]
        replayed = 0
        for wid in ids:
            for raw in cast(list[str], self.r.hvals(f"{self.p}wm:{wid}")):
                m = WatchMatch.model_validate_json(raw)
                if m.state == "dead":
                    again = m.model_copy(
                        update={"state": "pending", "attempts": 0, "next_attempt_at": None}
                    )
                    self.save_delivery(again)
                    replayed += 1
        return replayed

    def delivery_counts(self) -> dict[str, dict[DeliveryState, int]]:
        out: dict[str, dict[DeliveryState, int]] = {}
        for w in self.watches():
            for raw in cast(list[str], self.r.hvals(f"{self.p}wm:{w.id}")):
                state = WatchMatch.model_validate_json(raw).state
                counts = out.setdefault(w.id, {})
                counts[state] = counts.get(state, 0) + 1
        return out


def _score(when: datetime | None) -> float:
    """A due time as a ``wdue`` score; no time means due at once."""
    return when.timestamp() if when else 0.0
