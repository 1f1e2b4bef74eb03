"""The distributed mode's state store (Redis), one module per concept:

- ``feeds``: feed state and schedule (``feeds``, ``due``);
- ``entries``: seen entries, outcomes, dead letters (``e:{ref}``, ``counts:*``,
  ``pending``/``failed``/``dead``, ``done:*``, ``replay``), and a poll's state and new
  entries saved in one step;
- ``handoffs``: extracted texts and analysed articles between the steps (``x:*``,
  ``ix``, ``ixdoc:*``);
- ``coordination``: locks, the index run flag, heartbeats, queue depths;
- ``watches``: saved searches, their matches and deliveries (``watches``, ``wm:*``,
  ``wmt:*``, ``wdue``).
- ``groups``: the stories' fingerprints, band index and cluster parents (``fp:*``,
  ``band:*``, ``cparent``, ``lock:grouping``).

All keys live under one prefix (``nw:`` by default). Redis being unreachable surfaces
as ``StoreUnavailableError`` (transient).
"""

from __future__ import annotations

from pipeline.settings import Settings
from pipeline.store.redis.client import connect, entry_ref, guarded
from pipeline.store.redis.coordination import RedisCoordination
from pipeline.store.redis.entries import RedisEntries
from pipeline.store.redis.groups import RedisGroups
from pipeline.store.redis.handoffs import RedisHandOffs
from pipeline.store.redis.watches import RedisWatches

__all__ = ["RedisStore", "connect", "entry_ref"]


@guarded
class RedisStore(RedisEntries, RedisHandOffs, RedisCoordination, RedisWatches, RedisGroups):
    """Redis-backed state store, shared by every worker: ``Store``, ``HandOffs`` and
    ``Coordination`` at once. Thread- and fork-safe as long as each process builds its
    own (``from_settings`` after the fork)."""

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
