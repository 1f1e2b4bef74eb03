"""What the workers and the scheduler agree on through Redis: ``lock:*`` leases,
``ix:scheduled`` (one index run queued at a time), ``w:{worker}`` heartbeats, and the
broker's queue lengths. Per-host politeness is ``pipeline.hostgate.RedisHostGate``."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from pipeline.store.redis.client import RedisPart, guarded

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@guarded
class RedisCoordination(RedisPart):
    """Locks, the index run flag, heartbeats and queue depths."""

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
                self._script(_UNLOCK)(keys=[key], args=[token])

    def request_index_run(self) -> bool:
        """True when no index run is already scheduled: the caller should enqueue one."""
        return bool(self.r.set(f"{self.p}ix:scheduled", "1", nx=True, ex=60))

    def index_run_started(self) -> None:
        self.r.delete(f"{self.p}ix:scheduled")

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
