"""What the distributed steps hand each other in Redis, so that messages carry only
refs: ``x:{ref}`` an entry's extracted text waiting for the nlp queue; ``ix`` (refs by
arrival) and ``ixdoc:{ref}`` analysed articles waiting for a bulk write, kept until
the engine took them; ``ix:scheduled`` while an index run is queued."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import cast

from pipeline.models import Article, Extracted
from pipeline.store.redis.client import RedisPart, guarded


@guarded
class RedisHandOffs(RedisPart):
    """Extracted texts and analysed articles between the steps."""

    def put_extracted(self, ref: str, extracted: Extracted, url: str) -> None:
        """Hand an entry's text to the nlp queue; the entry, still pending, is news
        again (its stale clock restarts, see ``stale_pending``)."""
        payload = json.dumps({"url": url, "extracted": extracted.model_dump(mode="json")})
        pipe = self.r.pipeline()
        pipe.set(f"{self.p}x:{ref}", payload, ex=self.seen_ttl)
        pipe.zadd(f"{self.p}pending", {ref: time.time()}, xx=True)
        pipe.execute()

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
