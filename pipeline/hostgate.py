"""Per-host politeness, shared by every request to a host: at most N requests at once
and a delay between their starts. One protocol, two gates: ``LocalHostGate`` within one
process (the embedded mode), ``RedisHostGate`` across every worker (the distributed
mode). ``Fetcher`` takes either.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pipeline.errors import StoreUnavailableError

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)


class HostGate(Protocol):
    """Per-host politeness: at most N requests at once and a delay between starts."""

    def slot(self, host: str) -> AbstractContextManager[None]:
        """Wait for a free slot and the host's delay; hold the slot for one request.

        Raises ``StoreUnavailableError`` when a shared gate cannot be reached."""
        ...


@dataclass
class _LocalHost:
    slots: threading.BoundedSemaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_start: float = 0.0


class LocalHostGate:
    """Politeness within one process (the embedded mode)."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._concurrency = concurrency
        self._delay = delay
        self._hosts: dict[str, _LocalHost] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        with self._lock:
            h = self._hosts.setdefault(
                host, _LocalHost(threading.BoundedSemaphore(self._concurrency))
            )
        with h.slots:
            with h.lock:
                wait = h.next_start - time.monotonic()
                h.next_start = max(h.next_start, time.monotonic()) + self._delay
            if wait > 0:
                time.sleep(wait)
            yield


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


class RedisHostGate:
    """Per-host politeness shared by every worker through Redis: at most ``concurrency``
    requests to a host at once and ``delay`` seconds between their starts, whichever
    process makes them. A slot is a lease that frees itself if its holder dies."""

    def __init__(
        self,
        client: redis.Redis,
        concurrency: int,
        delay: float,
        lease: float,
        prefix: str = "nw:",
    ) -> None:
        # Imported here, not at the top: redis is the distributed extra's, and the
        # embedded mode imports this module without it.
        import redis as redis_lib

        self._unreachable = (redis_lib.ConnectionError, redis_lib.TimeoutError)
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
        except self._unreachable as exc:
            raise StoreUnavailableError(f"Redis unavailable: {exc}") from exc
        if wait > 0:
            time.sleep(wait)
        try:
            yield
        finally:
            try:
                self._r.zrem(slots, token)
            except self._unreachable:
                log.warning("could not release host slot host=%s (it expires by itself)", host)
