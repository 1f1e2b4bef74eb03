"""The Elasticsearch/OpenSearch index: versioned indices behind an alias, bounded
bulk writes with back-pressure, searches built by ``dsl``. The two engines differ
only in their client calls, which ``EngineClient`` adapters translate."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pipeline.errors import PermanentError, TransientError
from pipeline.index.base import (
    EntityName,
    Health,
    Hit,
    Outdated,
    Revise,
    SearchQuery,
    SearchResult,
    cluster_info,
)
from pipeline.index.cursor import decode_cursor, encode_cursor
from pipeline.index.dsl import (
    _filters,
    by_date,
    cluster_sources_body,
    entity_names_body,
    from_document,
    load_mapping,
    mapping_hash,
    search_body,
    shown_body,
    to_cluster_sources,
    to_document,
    to_entity_names,
    to_result,
    to_shown,
)
from pipeline.models import Article, utc

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

    def reindex(
        self, *, delete_old: bool = True, transform: Revise | None = None, batch_size: int = 0
    ) -> tuple[str, str, int]:
        """Copy every document into a new version built from the current mapping, swap
        the alias in one atomic step, then copy what was written meanwhile.

        ``transform``, if given, gets each batch of copied articles (``batch_size``, or
        the bulk size) and returns what to write in their place (same ids, same order).
        A run killed midway leaves its new version; the next run continues into it,
        copying only what it lacks: a document there stamped (``indexed_at``) no
        earlier than in the old index is not copied again.

        Returns (old index, new index, documents in the new index). Searches never see an
        empty or missing index: the alias points at a complete index throughout.
        """
        old = self.ensure()
        new, started = self._next_version(old)
        size = batch_size or self.batch_size
        self._copy(old, new, since=None, transform=transform, size=size)
        self.client.refresh(new)
        self.client.update_aliases(
            [
                {"remove": {"index": old, "alias": self.alias}},
                {"add": {"index": new, "alias": self.alias}},
            ]
        )
        # Writes that reached the old index while we copied or just before the swap:
        # let requests already in flight land, then copy everything stamped since a
        # margin before we started (a write is stamped before it is sent). Writes to
        # the new index since the swap are newer: they are looked up one by one (a get
        # sees a write at once, a search only after a refresh) and kept.
        time.sleep(_SWAP_GRACE_S)
        self.client.refresh(old)
        since = started - _STAMP_MARGIN
        self._copy(old, new, since=since, transform=transform, size=size, realtime=True)
        self.client.refresh(new)
        copied = self.client.count(new)
        if delete_old:
            self.client.delete_index(old)
        log.info("reindexed %s -> %s (%d documents)", old, new, copied)
        return old, new, copied

    def _next_version(self, old: str) -> tuple[str, datetime]:
        """The index after ``old`` and when its filling started: an unfinished one of
        the current mapping left by a killed run, else a new one (one of another
        mapping is dropped)."""
        version = int(old.rsplit("-v", 1)[1]) + 1 if "-v" in old else 2
        new = f"{self.alias}-v{version}"
        try:
            meta: dict[str, Any] | None = self.client.index_meta(new)
        except EngineRejected:  # 404: none yet
            meta = None
        current = meta is not None and meta.get("mapping_hash") == mapping_hash(self.mapping)
        if current and meta is not None and "reindex_started" in meta:
            log.info("continuing the unfinished %s", new)
            self.client.refresh(new)
            return new, datetime.fromisoformat(meta["reindex_started"])
        if meta is not None:
            log.warning("dropping %s, left unfinished with another mapping", new)
            self.client.delete_index(new)
        started = datetime.now(UTC)
        body = self._body()
        body["mappings"]["_meta"]["reindex_started"] = started.isoformat()
        self.client.create_index(new, body)
        return new, started

    def _copy(
        self,
        source: str,
        target: str,
        since: datetime | None,
        *,
        transform: Revise | None = None,
        size: int = 0,
        realtime: bool = False,
    ) -> None:
        for batch in self._scan(source, since, size or self.batch_size):
            docs = self._lacking(target, batch, realtime)
            if transform is not None and docs:
                revised = transform([from_document(d) for d in docs])
                docs = [
                    to_document(a, datetime.fromisoformat(d["indexed_at"]))
                    for d, a in zip(docs, revised, strict=True)
                ]
            ops: list[dict[str, Any]] = []
            for doc in docs:
                # a story from before clusters is its own cluster (as ``to_document``)
                doc["cluster_id"] = doc.get("cluster_id") or doc["id"]
                ops += [{"index": {"_index": target, "_id": doc["id"]}}, doc]
            if ops:
                self._bulk(ops)

    def _lacking(
        self, target: str, docs: list[dict[str, Any]], realtime: bool
    ) -> list[dict[str, Any]]:
        """The documents of ``docs`` that ``target`` has not, or has stamped earlier."""
        ids = [d["id"] for d in docs]
        if realtime:
            there = {i: (self.client.get(target, i) or {}).get("indexed_at") for i in ids}
        else:
            body = {"query": {"ids": {"values": ids}}, "size": len(ids), "_source": ["indexed_at"]}
            hits = self.client.search(target, body)["hits"]["hits"]
            there = {h["_id"]: h["_source"].get("indexed_at") for h in hits}
        return [d for d in docs if not _stamped_since(there.get(d["id"]), d.get("indexed_at"))]

    def _scan(
        self, index: str, since: datetime | None, size: int
    ) -> Iterator[list[dict[str, Any]]]:
        query: dict[str, Any] = {"match_all": {}}
        if since is not None:
            query = {"range": {"indexed_at": {"gte": since.isoformat()}}}
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": query,
                "size": size,
                "sort": [{"id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(index, body)["hits"]["hits"]
            if not hits:
                return
            yield [h["_source"] for h in hits]
            after = hits[-1]["sort"]

    # re-analysis -----------------------------------------------------------------------

    def count_outdated(self, outdated: Outdated) -> int:
        body = {"size": 0, "track_total_hits": True, "query": _outdated_query(outdated)}
        return int(self.client.search(self._live(), body)["hits"]["total"]["value"])

    def revise(self, outdated: Outdated, revise: Revise, batch_size: int) -> int:
        """Into a new version behind the alias (``reindex`` with a transform that
        revises the selected articles and copies the others as they are)."""
        if not self.count_outdated(outdated):
            return 0
        revised = 0

        def transform(articles: list[Article]) -> list[Article]:
            nonlocal revised
            out = list(articles)
            picked = [i for i, a in enumerate(articles) if outdated.matches(a)]
            for start in range(0, len(picked), batch_size):
                chunk = picked[start : start + batch_size]
                for i, a in zip(chunk, revise([articles[i] for i in chunk]), strict=True):
                    out[i] = a
            revised += len(picked)
            return out

        # a few analysis batches per bulk write: a kill loses little work
        self.reindex(transform=transform, batch_size=min(self.batch_size, 4 * batch_size))
        return revised

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
        """One search; collapsed, a second request counts the page's clusters' matching
        stories per source (``Hit.cluster``)."""
        live = self._live()
        resp = self.client.search(live, search_body(query))
        result = to_result(resp, query)
        if query.collapse and query.cursor and by_date(query):
            result = self._unshown(live, query, resp, result)
        shown = {h.cluster.id: h for h in result.hits if h.cluster is not None}
        if shown:
            sources = to_cluster_sources(
                self.client.search(live, cluster_sources_body(query, list(shown)))
            )
            for cid, hit in shown.items():
                hit.cluster = cluster_info(cid, hit.source, sources.get(cid, {hit.source: 1}))
        return result

    def _unshown(
        self, live: str, query: SearchQuery, resp: dict[str, Any], result: SearchResult
    ) -> SearchResult:
        """A collapsed page by date after a cursor, without the clusters an earlier page
        showed (those with a match at or before the cursor), read further while the
        page is short: each cluster shows once, where its newest match falls."""
        kept: list[Hit] = []
        sorts: dict[str, list[Any]] = {}
        page_query, page = query, result
        while True:
            position = decode_cursor(page_query.cursor or "", (int, type(None)))
            ids = [h.cluster.id for h in page.hits if h.cluster is not None]
            shown = (
                to_shown(self.client.search(live, shown_body(query, ids, position)))
                if ids
                else set()
            )
            raw = {h["_source"]["id"]: h["sort"] for h in resp["hits"]["hits"]}
            for hit in page.hits:
                if hit.cluster is not None and hit.cluster.id not in shown:
                    kept.append(hit)
                    sorts[hit.id] = raw[hit.id]
            if len(kept) >= query.limit or page.next_cursor is None:
                break
            page_query = replace(query, cursor=page.next_cursor, facets=False)
            resp = self.client.search(live, search_body(page_query))
            page = to_result(resp, page_query)
        kept = kept[: query.limit]
        full = len(kept) == query.limit and kept
        return result.model_copy(
            update={
                "hits": kept,
                "next_cursor": encode_cursor(sorts[kept[-1].id]) if full else None,
            }
        )

    def cluster(self, cluster_id: str, limit: int = 200) -> list[Article]:
        body = {
            "query": {"term": {"cluster_id": cluster_id}},
            "size": max(0, limit),
            "sort": [{"published_at": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
        }
        hits = self.client.search(self._live(), body)["hits"]["hits"]
        return [from_document(h["_source"]) for h in hits]

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


def _stamped_since(there: str | None, here: str | None) -> bool:
    """Whether a copy stamped ``there`` is no older than one stamped ``here``."""
    if there is None:
        return False
    return here is None or datetime.fromisoformat(there) >= datetime.fromisoformat(here)


def _outdated_query(outdated: Outdated) -> dict[str, Any]:
    """``Outdated.matches`` as an engine query."""
    filters: list[dict[str, Any]] = _filters(SearchQuery(source=outdated.source))
    if outdated.since is not None:
        since = {"gte": utc(outdated.since).isoformat()}
        undated = {"bool": {"must_not": [{"exists": {"field": "published_at"}}]}}
        fetched = {"bool": {"filter": [undated, {"range": {"fetched_at": since}}]}}
        filters.append(
            {
                "bool": {
                    "should": [{"range": {"published_at": since}}, fetched],
                    "minimum_should_match": 1,
                }
            }
        )
    return {
        "bool": {"filter": filters, "must_not": [{"term": {"analyzed_with": outdated.version}}]}
    }
