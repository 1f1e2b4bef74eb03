"""The Elasticsearch/OpenSearch index: versioned indices behind an alias, bounded
bulk writes with back-pressure, searches built by ``dsl``. The two engines differ
only in their client calls, which ``EngineClient`` adapters translate."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pipeline.errors import PermanentError, TransientError
from pipeline.index.base import EntityName, Health, SearchQuery, SearchResult
from pipeline.index.dsl import (
    entity_names_body,
    from_document,
    load_mapping,
    mapping_hash,
    search_body,
    to_document,
    to_entity_names,
    to_result,
)
from pipeline.models import Article

log = logging.getLogger(__name__)

_RETRYABLE_ITEM = {429, 502, 503, 504}
_SWAP_GRACE_S = 1.0
_STAMP_MARGIN = timedelta(minutes=10)  # longer than a bulk write with all its retries


class EngineUnavailable(TransientError):
    """The search engine cannot be reached or is overloaded."""


class EngineRejected(PermanentError):
    """The engine refused documents or a request for a reason retrying will not fix."""


class EngineClient(Protocol):
    """The calls Newswire makes, in engine-neutral form. Adapters raise
    ``EngineUnavailable`` for transport trouble and ``EngineRejected`` otherwise."""

    name: str

    def ping(self) -> dict[str, Any]: ...
    def create_index(self, index: str, body: dict[str, Any]) -> None: ...
    def delete_index(self, index: str) -> None: ...
    def indices_for(self, alias: str) -> list[str]: ...
    def index_meta(self, index: str) -> dict[str, Any]: ...
    def update_aliases(self, actions: list[dict[str, Any]]) -> None: ...
    def bulk(self, operations: list[dict[str, Any]]) -> dict[str, Any]: ...
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def get(self, index: str, doc_id: str) -> dict[str, Any] | None: ...
    def delete(self, index: str, doc_id: str) -> bool: ...
    def count(self, index: str) -> int: ...
    def refresh(self, index: str) -> None: ...
    def close(self) -> None: ...


class EngineIndex:
    """``Index`` over an engine. Reads and writes go through ``alias``, which points
    at ``{alias}-v{N}``; ``reindex`` builds N+1 and swaps the alias atomically."""

    def __init__(
        self,
        client: EngineClient,
        *,
        alias: str,
        mapping: dict[str, Any] | None = None,
        batch_size: int = 500,
        max_retries: int = 5,
        refresh: bool = False,
    ) -> None:
        self.client = client
        self.name = client.name
        self.alias = alias
        self.mapping = mapping or load_mapping()
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.refresh_writes = refresh  # make writes searchable at once (tests, CLI ingest)
        self._ready = False
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    # versions and aliases -----------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        body = {"settings": self.mapping["settings"], "mappings": dict(self.mapping["mappings"])}
        body["mappings"]["_meta"] = {
            **body["mappings"].get("_meta", {}),
            "mapping_hash": mapping_hash(self.mapping),
        }
        return body

    def ensure(self) -> str:
        """Create ``{alias}-v1`` and the alias if there is none; returns the live index.

        Safe to call from many threads and processes at once: the first creator wins,
        the others wait for its alias.
        """
        with self._lock:
            for attempt in range(20):
                live = self.client.indices_for(self.alias)
                if live:
                    self._ready = True
                    return sorted(live)[-1]
                first = f"{self.alias}-v1"
                try:
                    self.client.create_index(first, self._body())
                except EngineRejected as exc:
                    if "already_exists" not in exc.reason:
                        raise
                    time.sleep(0.1 * (attempt + 1))  # another process is creating it
                    continue
                self.client.update_aliases([{"add": {"index": first, "alias": self.alias}}])
                log.info("created index %s behind alias %s", first, self.alias)
            raise EngineUnavailable(f"index {self.alias}-v1 exists but its alias never appeared")

    def _live(self) -> str:
        return self.ensure() if not self._ready else self.alias

    def reindex(self, *, delete_old: bool = True) -> tuple[str, str, int]:
        """Copy every document into a new version built from the current mapping, swap
        the alias in one atomic step, then copy what was written meanwhile.

        Returns (old index, new index, documents in the new index). Searches never see an
        empty or missing index: the alias points at a complete index throughout.
        """
        old = self.ensure()
        version = int(old.rsplit("-v", 1)[1]) + 1 if "-v" in old else 2
        new = f"{self.alias}-v{version}"
        self.client.create_index(new, self._body())
        started = datetime.now(UTC)
        self._copy(old, new, since=None)
        self.client.refresh(new)
        self.client.update_aliases(
            [
                {"remove": {"index": old, "alias": self.alias}},
                {"add": {"index": new, "alias": self.alias}},
            ]
        )
        # Writes that reached the old index while we copied or just before the swap:
        # let requests already in flight land, then copy everything stamped since a
        # margin before we started (a write is stamped before it is sent; copying a
        # document twice is harmless).
        time.sleep(_SWAP_GRACE_S)
        self.client.refresh(old)
        self._copy(old, new, since=started - _STAMP_MARGIN)
        self.client.refresh(new)
        copied = self.client.count(new)
        if delete_old:
            self.client.delete_index(old)
        log.info("reindexed %s -> %s (%d documents)", old, new, copied)
        return old, new, copied

    def _copy(self, source: str, target: str, since: datetime | None) -> None:
        for batch in self._scan(source, since):
            ops: list[dict[str, Any]] = []
            for doc in batch:
                ops += [{"index": {"_index": target, "_id": doc["id"]}}, doc]
            self._bulk(ops)

    def _scan(self, index: str, since: datetime | None) -> Iterator[list[dict[str, Any]]]:
        query: dict[str, Any] = {"match_all": {}}
        if since is not None:
            query = {"range": {"indexed_at": {"gte": since.isoformat()}}}
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": query,
                "size": self.batch_size,
                "sort": [{"id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(index, body)["hits"]["hits"]
            if not hits:
                return
            yield [h["_source"] for h in hits]
            after = hits[-1]["sort"]

    # writes ----------------------------------------------------------------------------

    def upsert_many(self, articles: Sequence[Article]) -> int:
        """Index (replace) each article under its id, in bounded bulk batches.

        Items the engine rejects as overloaded are retried with capped, jittered
        backoff; anything else it rejects raises ``EngineRejected`` naming the ids
        and reasons. Nothing is dropped silently.
        """
        target = self._live()
        now = datetime.now(UTC)
        for start in range(0, len(articles), self.batch_size):
            ops: list[dict[str, Any]] = []
            for a in articles[start : start + self.batch_size]:
                ops += [{"index": {"_index": target, "_id": a.id}}, to_document(a, now)]
            self._bulk(ops)
        if self.refresh_writes:
            self.client.refresh(target)
        return len(articles)

    def _bulk(self, ops: list[dict[str, Any]]) -> None:
        for attempt in range(self.max_retries + 1):
            resp = self.client.bulk(ops)
            if not resp.get("errors"):
                return
            retry: list[dict[str, Any]] = []
            failed: list[str] = []
            for i, item in enumerate(resp["items"]):
                result = next(iter(item.values()))
                status = result.get("status", 500)
                if status < 300:
                    continue
                if status in _RETRYABLE_ITEM:
                    retry += ops[2 * i : 2 * i + 2]
                else:
                    reason = result.get("error", {}).get("reason", f"status {status}")
                    failed.append(f"{result.get('_id')}: {reason}")
            if failed:
                raise EngineRejected(f"{len(failed)} documents rejected: " + "; ".join(failed[:5]))
            if not retry:
                return
            delay = min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)
            log.warning("engine overloaded, retrying %d documents in %.1fs", len(retry) // 2, delay)
            time.sleep(delay)
            ops = retry
        raise EngineUnavailable(f"engine still overloaded after {self.max_retries} retries")

    def refresh(self) -> None:
        """Make every write so far searchable (engines otherwise do so within a second)."""
        self.client.refresh(self._live())

    def relabel_cluster(self, old: str, new: str) -> int:
        """Clusters merged: ``old``'s stories carry ``new``. Their ids come from a term
        query, the change goes in bulk partial updates (no scripting module needed, unlike
        update_by_query, which the test node lacks). Refreshes first: a story written a
        moment ago must be found."""
        live = self._live()
        self.client.refresh(live)
        ids: list[str] = []
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {"term": {"cluster_id": old}},
                "size": self.batch_size,
                "sort": [{"id": "asc"}],
                "_source": False,
            }
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(live, body)["hits"]["hits"]
            if not hits:
                break
            ids += [h["_id"] for h in hits]
            after = hits[-1]["sort"]
        # stamped, so that a reindex running meanwhile copies the change too
        change = {"cluster_id": new, "indexed_at": datetime.now(UTC).isoformat()}
        for start in range(0, len(ids), self.batch_size):
            ops: list[dict[str, Any]] = []
            for doc_id in ids[start : start + self.batch_size]:
                ops += [{"update": {"_index": live, "_id": doc_id}}, {"doc": change}]
            self._bulk(ops)
        if ids and self.refresh_writes:
            self.client.refresh(live)
        return len(ids)

    def delete(self, article_id: str) -> bool:
        deleted = self.client.delete(self._live(), article_id)
        if self.refresh_writes:
            self.client.refresh(self.alias)
        return deleted

    # reads ------------------------------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        source = self.client.get(self._live(), article_id)
        return from_document(source) if source is not None else None

    def count(self) -> int:
        return self.client.count(self._live())

    def search(self, query: SearchQuery) -> SearchResult:
        return to_result(self.client.search(self._live(), search_body(query)), query)

    def entity_names(self, prefix: str, limit: int = 10) -> list[EntityName]:
        if not prefix.strip():
            return []
        return to_entity_names(self.client.search(self._live(), entity_names_body(prefix, limit)))

    def health(self) -> Health:
        try:
            info = self.client.ping()
            live = self.client.indices_for(self.alias)
            detail: dict[str, Any] = {"engine": info, "alias": self.alias, "indices": live}
            if live:
                detail["articles"] = self.client.count(self.alias)
                stored = self.client.index_meta(sorted(live)[-1]).get("mapping_hash")
                detail["mapping_current"] = stored == mapping_hash(self.mapping)
        except TransientError as exc:
            return Health(False, self.name, {"error": exc.reason})
        return Health(True, self.name, detail)
