"""The Redis store's part of the grouping (``Groups``): ``fp:{id}`` a story's
fingerprint (a hash; signatures base64, the client speaks text), ``band:{key}`` a band
key's stories (a sorted set scored by the story's time, read by time range),
``cparent`` the clusters' union-find parents (a hash), ``lock:grouping`` the lease that
makes one worker's index batch at a time place its stories."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import cast

from pipeline.errors import StoreUnavailableError
from pipeline.store.base import Fingerprint
from pipeline.store.redis.client import RedisPart, guarded

_LEASE_S = 300.0  # a batch's grouping and write; a crashed holder's lease runs out

# the fingerprint and its band entries in one step, unless the story is known; like
# seen entries, they expire after ``seen_ttl`` (a band key lives on while stories join it,
# and a member whose fingerprint expired is skipped: ``fingerprints`` no longer has it)
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[3])
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return 1
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@guarded
class RedisGroups(RedisPart):
    """Fingerprints, the band index and cluster parents."""

    def fingerprints(self, ids: Iterable[str]) -> dict[str, Fingerprint]:
        ids = sorted(set(ids))
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(f"{self.p}fp:{i}")
        out = {}
        for i, h in zip(ids, cast(list[dict[str, str]], pipe.execute()), strict=True):
            if h:
                out[i] = Fingerprint(
                    i,
                    float(h["at"]),
                    base64.b64decode(h["text"]),
                    base64.b64decode(h["event"]),
                    tuple(h["entities"].split("\n")) if h["entities"] else (),
                    int(h["shingles"]),
                    h.get("duplicate_of") or None,
                )
        return out

    def band_members(
        self, keys: Iterable[str], since: float | None = None, until: float | None = None
    ) -> set[str]:
        lo = "-inf" if since is None else since
        hi = "+inf" if until is None else until
        pipe = self.r.pipeline(transaction=False)
        for key in sorted(set(keys)):
            pipe.zrangebyscore(f"{self.p}band:{key}", lo, hi)
        return {i for members in cast(list[list[str]], pipe.execute()) for i in members}

    def add_fingerprint(self, fp: Fingerprint, keys: Iterable[str]) -> bool:
        fields = {
            "at": repr(fp.at),
            "text": _b64(fp.text),
            "event": _b64(fp.event),
            "entities": "\n".join(fp.entities),
            "shingles": str(fp.shingles),
            "duplicate_of": fp.duplicate_of or "",
        }
        bands = [f"{self.p}band:{key}" for key in sorted(set(keys))]
        args: list[str | int] = [repr(fp.at), fp.id, self.seen_ttl]
        args += [x for kv in fields.items() for x in kv]
        return bool(self._script(_ADD)(keys=[f"{self.p}fp:{fp.id}", *bands], args=args))

    def parents(self, ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        values = cast(list[str | None], self.r.hmget(f"{self.p}cparent", ids))
        return {i: v for i, v in zip(ids, values, strict=True) if v}

    def set_parents(self, parents: dict[str, str]) -> None:
        if parents:
            self.r.hset(f"{self.p}cparent", mapping=parents)

    @contextmanager
    def grouping(self, timeout: float = 60.0) -> Iterator[None]:
        """A lease every worker respects, held for one batch; a holder that died
        releases it after ``_LEASE_S``."""
        token = secrets.token_hex(8)
        key = f"{self.p}lock:grouping"
        deadline = time.monotonic() + timeout
        while not self.r.set(key, token, nx=True, px=int(_LEASE_S * 1000)):
            if time.monotonic() > deadline:
                raise StoreUnavailableError("the grouping is held by another worker")
            time.sleep(0.05)
        try:
            yield
        finally:
            self._script(_UNLOCK)(keys=[key], args=[token])
