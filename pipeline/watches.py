"""Saved searches that alert: making a watch, and finding which watches each newly
indexed batch of stories matches.

Matching runs right after an index write (``steps.index`` calls ``match_batch``) and
records each (watch, story) pair once in the store; delivery to webhooks is
``pipeline.watch_delivery``'s, later, so a slow webhook never holds indexing up.

Two matchers, one contract (the same watches match the same stories):

- SQLite: each watch's query runs as a search restricted to the batch's stories (FTS5
  MATCH bounded to the batch's rowids, plus the search's own filters): one query per
  watch per batch.
- Elasticsearch/OpenSearch: each watch is a percolator query in ``{alias}-watches``
  (the articles' mapping plus a ``percolator`` field), and one ``percolate`` search
  over the batch's documents answers for every watch at once.
"""

from __future__ import annotations

import logging
import secrets
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from pipeline.errors import BlockedHostError, InputError, NewswireError
from pipeline.fetch import checked_url
from pipeline.index import Index, SearchQuery
from pipeline.index.dsl import mapping_hash, search_body, to_document
from pipeline.index.engine import EngineIndex, EngineRejected
from pipeline.index.sqlite import SqliteIndex
from pipeline.index.sqlite_filters import filters
from pipeline.models import Article
from pipeline.netguard import address_refusal, parse_address, parse_networks
from pipeline.query import parse, positive, to_fts5
from pipeline.store.base import WatchStore
from pipeline.urls import http_url
from pipeline.watch_model import Watch, WatchFilters, WatchMatch

log = logging.getLogger(__name__)

_PERCOLATE_PAGE = 1_000  # matching watches per percolate search (more: the next page)
# Bounds of a watch, the API's own (the CLI and any other caller get them here too).
MAX_QUERY_CHARS = 500
MAX_FILTER_CHARS = 200
MAX_WEBHOOK_CHARS = 2_000
# Each batch runs every watch (one SQLite search each, ~0.4 ms at 10k stories, see
# bench/watches.py): 1,000 watches add about half a second to a batch of 50.
MAX_WATCHES = 1_000


def new_watch(
    query: str,
    filters: WatchFilters | None = None,
    webhook: str | None = None,
    *,
    allow_private: object = False,
) -> Watch:
    """A new watch with a fresh id and signing secret. Raises ``InputError`` when it
    would match nothing by itself (no words and no filter), for words or a filter over
    their caps (``MAX_QUERY_CHARS``, ``MAX_FILTER_CHARS``), and ``InputError`` or
    ``BlockedHostError`` for a webhook the fetch rules refuse (see ``check_webhook``)."""
    filters = filters or WatchFilters()
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"a watch's words are at most {MAX_QUERY_CHARS} characters")
    for name, value in filters.model_dump().items():
        if isinstance(value, str) and len(value) > MAX_FILTER_CHARS:
            raise InputError(f"a watch's {name} is at most {MAX_FILTER_CHARS} characters")
    if parse(query) is None and not any(filters.model_dump().values()):
        raise InputError("a watch needs words to look for or a filter")
    if webhook:
        check_webhook(webhook, allow_private)
    return Watch(
        id=secrets.token_hex(6),
        query=query.strip(),
        filters=filters,
        webhook=webhook or None,
        secret=secrets.token_urlsafe(24),
        created_at=datetime.now(UTC),
    )


def check_webhook(url: str, allow_private: object = False) -> None:
    """Refuse a webhook URL the fetch rules would refuse, before any lookup: a scheme
    other than http(s), a host that does not parse, or a literal address outside the
    policy (``allow_private`` is the ``allow_private_hosts`` setting); and what a
    story's URL may not hold either: credentials (never sent, yet stored), control
    characters, more than ``MAX_WEBHOOK_CHARS``. A host name is checked again at each
    delivery, on the addresses it resolves to then.

    Raises ``BlockedHostError`` or ``InputError`` with the reason."""
    if len(url) > MAX_WEBHOOK_CHARS:
        raise InputError(f"a webhook URL is at most {MAX_WEBHOOK_CHARS} characters")
    host, _ = checked_url(url)
    try:
        http_url(url)
    except ValueError as exc:
        raise InputError(f"webhook: {exc}") from None
    addr = parse_address(host)
    if addr is not None:
        reason = address_refusal(addr, parse_networks(allow_private))
        if reason:
            raise BlockedHostError(f"webhook {host} is a {reason}", url=url)


def save_watch(store: WatchStore, watch: Watch) -> None:
    """Store a new ``watch``. Raises ``InputError`` when ``MAX_WATCHES`` are stored
    already: every batch runs every watch, so their number bounds indexing's cost."""
    if len(store.watches()) >= MAX_WATCHES:
        raise InputError(f"at most {MAX_WATCHES} watches: remove one first")
    store.add_watch(watch)


def search_query(watch: Watch, limit: int = 10) -> SearchQuery:
    """The search a watch saves (its words and filters), as ``newswire search`` runs it."""
    # WatchFilters' fields are SearchQuery's filters by name (a test pins it)
    return SearchQuery(
        text=watch.query,
        **watch.filters.model_dump(),
        sort="date",
        limit=limit,
        facets=False,
    )


class WatchMatcher(Protocol):
    """Which of ``watches`` each of ``articles`` (just written to the index) matches.

    One bad watch (a query the engine refuses, a record that does not make a search)
    is its own failure, kept in ``failed`` and logged once, and never stops the others:
    matching follows each index write."""

    failed: dict[str, str]  # watch id -> why it could not be matched, until it can

    def match(self, watches: Sequence[Watch], articles: Sequence[Article]) -> dict[str, list[str]]:
        """Watch id -> ids of the matching articles (watches without any left out).
        Raises what the index raises for the whole batch (``TransientError`` when it is
        unavailable); a watch's own failure goes to ``failed`` instead."""
        ...

    def forget(self, watch_id: str) -> None:
        """Drop what the matcher keeps of a removed watch."""
        ...


def _failing(failed: dict[str, str], watch_id: str, exc: Exception) -> None:
    """Record that ``watch_id`` could not be matched, logging it when the reason is new."""
    reason = f"{type(exc).__name__}: {exc}"[:300]
    if failed.get(watch_id) != reason:
        log.error("watch %s cannot be matched, the others go on: %s", watch_id, reason)
    failed[watch_id] = reason


class SqliteMatcher:
    """One search per watch, restricted to the batch (``SqliteIndex``'s own filters)."""

    def __init__(self, index: SqliteIndex) -> None:
        self.index = index
        self.failed: dict[str, str] = {}

    def match(self, watches: Sequence[Watch], articles: Sequence[Article]) -> dict[str, list[str]]:
        ids = [a.id for a in articles]
        if not ids or not watches:
            return {}
        marks = ",".join("?" * len(ids))
        conn = self.index._conn
        with self.index._lock:
            first = conn.execute(
                f"SELECT MIN(rowid) FROM article_keys WHERE id IN ({marks})", ids
            ).fetchone()[0]
            if first is None:
                return {}
            found: dict[str, list[str]] = {}
            for watch in watches:
                try:
                    hits = self._hits(watch, first, ids)
                except Exception as exc:  # this watch's own failure: the others go on
                    _failing(self.failed, watch.id, exc)
                    continue
                self.failed.pop(watch.id, None)
                if hits:
                    found[watch.id] = hits
        return found

    def _hits(self, watch: Watch, first: int, ids: list[str]) -> list[str]:
        """The batch's stories (``ids``, the first at rowid ``first``) ``watch`` finds."""
        q = search_query(watch)
        node = parse(q.text)
        match = to_fts5(node) if node is not None and positive(node) else None
        # the search's filters, as `newswire search` applies them
        where, params = filters(q, node)
        where.append(f"a.id IN ({','.join('?' * len(ids))})")
        params += ids
        if match:
            # the FTS scan starts at the batch's first row: fresh rows come last
            sql = (
                "SELECT a.id FROM articles_fts JOIN article_keys a"
                " ON a.rowid = articles_fts.rowid"
                " WHERE articles_fts MATCH ? AND articles_fts.rowid >= ?"
            )
            params = [match, first, *params]
        else:
            sql = "SELECT a.id FROM article_keys a WHERE 1"
        rows = self.index._conn.execute(sql + "".join(f" AND {w}" for w in where), params)
        return sorted(r[0] for r in rows)

    def forget(self, watch_id: str) -> None:
        """Nothing is kept but a failure: each batch reads the watches afresh."""
        self.failed.pop(watch_id, None)


class PercolatorMatcher:
    """Watches as percolator queries in ``{alias}-watches``, registered as they are
    first seen (by id: a watch never changes), matched by one percolate search."""

    def __init__(self, index: EngineIndex) -> None:
        self.index = index
        self.name = f"{index.alias}-watches"
        self._registered: set[str] = set()
        self._ready = False
        self.failed: dict[str, str] = {}

    def _body(self) -> dict[str, Any]:
        mapping = self.index.mapping
        properties = dict(mapping["mappings"]["properties"])
        properties["query"] = {"type": "percolator"}
        properties["watch_id"] = {"type": "keyword"}
        return {
            "settings": mapping["settings"],
            "mappings": {
                **mapping["mappings"],
                "properties": properties,
                "_meta": {"mapping_hash": mapping_hash(mapping)},
            },
        }

    def _ensure(self) -> None:
        """Create the watches index, or build it again when the articles' mapping changed
        since it was made (its queries are parsed against that mapping)."""
        if self._ready:
            return
        client = self.index.client
        try:
            stored = client.index_meta(self.name).get("mapping_hash")
        except EngineRejected:  # no such index yet
            stored = None
        else:
            if stored != mapping_hash(self.index.mapping):
                client.delete_index(self.name)
                stored = None
        if stored is None:
            try:
                client.create_index(self.name, self._body())
            except EngineRejected as exc:
                if "already_exists" not in exc.reason:  # another process made it first
                    raise
        self._ready = True

    def _register(self, watches: Sequence[Watch]) -> None:
        """Index the percolator queries of the watches not registered yet. A watch whose
        query cannot be built or that the engine refuses is in ``failed`` and not sent
        again (a watch never changes); the others are registered."""
        new = [w for w in watches if w.id not in self._registered and w.id not in self.failed]
        ops: list[dict[str, Any]] = []
        sent: list[str] = []
        for w in new:
            try:
                query = _percolatable(search_body(search_query(w))["query"])
            except Exception as exc:  # a record that does not make a search
                _failing(self.failed, w.id, exc)
                continue
            ops += [
                {"index": {"_index": self.name, "_id": w.id}},
                {"query": query, "watch_id": w.id},
            ]
            sent.append(w.id)
        if not sent:
            return
        resp = self.index.client.bulk(ops)
        for watch_id, item in zip(sent, resp.get("items", []), strict=False):
            result = next(iter(item.values()))
            status = result.get("status", 500)
            if status < 300:
                self._registered.add(watch_id)
            elif status == 429 or status >= 500:  # the engine's trouble: sent again next batch
                log.warning("percolator query of watch %s not indexed (HTTP %s)", watch_id, status)
            else:
                reason = str(result.get("error", {}).get("reason"))
                _failing(self.failed, watch_id, EngineRejected(f"query refused: {reason}"))
        self.index.client.refresh(self.name)  # a percolate search sees refreshed queries only

    def match(self, watches: Sequence[Watch], articles: Sequence[Article]) -> dict[str, list[str]]:
        if not watches or not articles:
            return {}
        self._ensure()
        self._register(watches)
        wanted = {w.id for w in watches}
        documents = [to_document(a) for a in articles]
        found: dict[str, list[str]] = {}
        after: list[Any] | None = None
        while True:  # a page of matching watches at a time, in id order
            body: dict[str, Any] = {
                "query": {"percolate": {"field": "query", "documents": documents}},
                "size": _PERCOLATE_PAGE,
                "sort": [{"watch_id": "asc"}],
                "_source": ["watch_id"],
            }
            if after is not None:
                body["search_after"] = after
            hits = self.index.client.search(self.name, body)["hits"]["hits"]
            for hit in hits:
                watch_id = hit["_source"]["watch_id"]
                if watch_id not in wanted:  # removed since: its query is dropped below
                    continue
                slots = hit.get("fields", {}).get("_percolator_document_slot", [])
                found[watch_id] = sorted(articles[s].id for s in slots)
            if len(hits) < _PERCOLATE_PAGE:
                return found
            after = hits[-1]["sort"]

    def forget(self, watch_id: str) -> None:
        self._registered.discard(watch_id)
        self.failed.pop(watch_id, None)
        try:
            self.index.client.delete(self.name, watch_id)
        except NewswireError:
            log.warning("could not drop the percolator query of watch %s", watch_id)


def _percolatable(query: Any) -> Any:
    """``query`` with its phrase-prefix parts ("reserv*") as bool-prefix ones: a
    phrase prefix never matches under the percolator (OpenSearch 2.19's in-memory
    index of the percolated documents does not expand it), and for the one word our
    parser ever gives it, a bool prefix is the same query."""
    if isinstance(query, list):
        return [_percolatable(q) for q in query]
    if not isinstance(query, dict):
        return query
    out = {k: _percolatable(v) for k, v in query.items()}
    multi = out.get("multi_match")
    if isinstance(multi, dict) and multi.get("type") == "phrase_prefix":
        out["multi_match"] = {**multi, "type": "bool_prefix"}
    return out


_MATCHERS: weakref.WeakKeyDictionary[object, WatchMatcher] = weakref.WeakKeyDictionary()


def matcher_for(index: Index) -> WatchMatcher:
    """The matcher of ``index``'s backend (one per index object, as it remembers which
    watches it registered). Raises ``InputError`` for a backend it does not know."""
    known = _MATCHERS.get(index)
    if known is not None:
        return known
    matcher: WatchMatcher
    if isinstance(index, SqliteIndex):
        matcher = SqliteMatcher(index)
    elif isinstance(index, EngineIndex):
        matcher = PercolatorMatcher(index)
    else:
        raise InputError(f"watches cannot match on a {type(index).__name__}")
    _MATCHERS[index] = matcher
    return matcher


def match_batch(index: Index, store: WatchStore, articles: Sequence[Article]) -> list[WatchMatch]:
    """Record which watches the freshly written ``articles`` match; returns the matches
    new to the store (a story written again is not matched again). Matches of a watch
    with a webhook wait for delivery, the others are only listed.

    Raises what the matcher or the store raise; the index step logs it and goes on,
    since a missed alert must not fail the write it follows."""
    watches = store.watches()
    if not watches or not articles:
        return []
    by_id = {a.id: a for a in articles}
    hooks = {w.id: bool(w.webhook) for w in watches}
    now = datetime.now(UTC)
    found = matcher_for(index).match(watches, articles)
    matches = [
        WatchMatch(
            watch_id=watch_id,
            article_id=aid,
            title=by_id[aid].title,
            url=by_id[aid].canonical_url or by_id[aid].url,
            source=by_id[aid].source,
            summary=by_id[aid].summary or by_id[aid].body[:300],
            published_at=by_id[aid].published_at,
            matched_at=now,
            state="pending" if hooks[watch_id] else "none",
        )
        for watch_id, ids in found.items()
        for aid in ids
    ]
    new = store.add_matches(matches)
    if new:
        log.info("%d new watch matches in a batch of %d", len(new), len(articles))
    return new


def remove_watch(store: WatchStore, index: Index | None, watch_id: str) -> bool:
    """Forget a watch, its matches and (on the engines) its percolator query; False if
    unknown."""
    removed = store.remove_watch(watch_id)
    if removed and index is not None:
        matcher_for(index).forget(watch_id)
    return removed
