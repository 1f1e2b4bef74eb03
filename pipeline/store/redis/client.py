"""The Redis store's connection: a client that rides out short restarts, the one key
prefix, entry refs, and the guard that turns an unreachable Redis into a transient
error."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.commands.core import Script
from redis.retry import Retry

from pipeline.errors import StoreUnavailableError

T = TypeVar("T")


def entry_ref(feed_id: str, key: str) -> str:
    """The short id of an entry that crosses the queue."""
    return hashlib.sha1(f"{feed_id}\n{key}".encode()).hexdigest()[:24]


def now() -> datetime:
    return datetime.now(UTC)


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


def _unavailable(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError(f"Redis unavailable: {exc}") from exc

    return wrapper


def guarded(cls: type[T]) -> type[T]:
    """Turn Redis connection trouble in every method into a transient error (the
    private ones too: methods written once in ``store.base`` call them)."""
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("__") and name != "from_settings":
            setattr(cls, name, _unavailable(value))
    return cls


class RedisPart:
    """What each part of the Redis store shares: the client, the broker's client (for
    queue depths) and the key prefix."""

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
        self._scripts: dict[str, Script] = {}

    def _script(self, text: str) -> Script:
        """A Lua script, registered once per client (loaded on first use)."""
        script = self._scripts.get(text)
        if script is None:
            script = self._scripts[text] = self.r.register_script(text)
        return script
