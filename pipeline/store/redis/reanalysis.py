"""Re-analysis in the distributed mode, through Redis: batches of stored articles
waiting for an nlp worker (``ra:in:{key}``), the keys the scheduler's tick turns into
``reanalyze_batch`` tasks (``ra:todo``), the revised batches coming back
(``ra:out:{key}``), and the run's small record (``ra:run``: the version, batches sent
and done). Articles wait here, never in a message; every key expires, so a run that
dies leaves nothing behind for long."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from pipeline.models import Article
from pipeline.store.redis.client import RedisPart, guarded

_TTL_S = 86_400
_WAIT_STEP_S = 5  # under the client's socket timeout


@guarded
class RedisReanalysis(RedisPart):
    """The hand-offs of a distributed ``newswire reanalyze``."""

    def start_run(self, version: str) -> None:
        """A new run's record: batches counted from zero."""
        key = f"{self.p}ra:run"
        started = datetime.now(UTC).isoformat()
        pipe = self.r.pipeline()
        pipe.delete(key)
        pipe.hset(key, mapping={"version": version, "started": started, "sent": 0, "done": 0})
        pipe.expire(key, _TTL_S)
        pipe.execute()

    def run(self) -> dict[str, Any]:
        """The current run's record (empty when there is none)."""
        return cast(dict[str, Any], self.r.hgetall(f"{self.p}ra:run"))

    def submit(self, articles: Sequence[Article]) -> str:
        """Leave ``articles`` for an nlp worker; returns the batch's key."""
        key = secrets.token_hex(8)
        docs = json.dumps([a.model_dump(mode="json") for a in articles])
        pipe = self.r.pipeline()
        pipe.set(f"{self.p}ra:in:{key}", docs, ex=_TTL_S)
        pipe.rpush(f"{self.p}ra:todo", key)
        pipe.hincrby(f"{self.p}ra:run", "sent", 1)
        pipe.execute()
        return key

    def take_submitted(self, limit: int = 100) -> list[str]:
        """Keys of batches submitted since the last call (the tick enqueues a task each)."""
        keys = self.r.lpop(f"{self.p}ra:todo", limit)
        return list(cast(list[str], keys or []))

    def batch(self, key: str) -> list[Article] | None:
        """The articles of batch ``key``; None once it is done (or expired)."""
        raw = self.r.get(f"{self.p}ra:in:{key}")
        if raw is None:
            return None
        return [Article.model_validate(d) for d in json.loads(cast(str, raw))]

    def finish(self, key: str, articles: Sequence[Article]) -> None:
        """Hand the revised ``articles`` of batch ``key`` back, and drop its input."""
        out = f"{self.p}ra:out:{key}"
        pipe = self.r.pipeline()
        pipe.rpush(out, json.dumps([a.model_dump(mode="json") for a in articles]))
        pipe.expire(out, _TTL_S)
        pipe.delete(f"{self.p}ra:in:{key}")
        pipe.hincrby(f"{self.p}ra:run", "done", 1)
        pipe.execute()

    def collect(self, key: str, timeout: float) -> list[Article] | None:
        """The revised articles of batch ``key``, waiting up to ``timeout`` seconds;
        None if they did not come."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            got = self.r.blpop([f"{self.p}ra:out:{key}"], timeout=max(1, min(_WAIT_STEP_S, left)))
            if got is not None:
                _, raw = cast(tuple[str, str], got)
                return [Article.model_validate(d) for d in json.loads(raw)]
        return None
