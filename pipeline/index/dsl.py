"""Mapping, documents and query bodies for Elasticsearch and OpenSearch (one DSL).

Pure functions: no client, no I/O besides reading the mapping file. The engine
adapters send what these build and hand the answers back to ``to_result``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.index.base import (
    TARGET_LABELS,
    TEXT_WEIGHTS,
    EntityName,
    Hit,
    SearchQuery,
    SearchResult,
    cluster_info,
    fold,
    own_cluster,
    search_texts,
)
from pipeline.index.cursor import MAX_WINDOW, decode_cursor, decode_offset_cursor, encode_cursor
from pipeline.index.dsl_facets import TOTAL_PRECISION, aggregations, cluster_count, facets
from pipeline.models import Article, utc
from pipeline.query import And, Node, Not, Or, Term, parse

# Full-text fields with their boosts, e.g. "title^6" (the weights are ``TEXT_WEIGHTS``).
TEXT_FIELDS = [name if w == 1 else f"{name}^{w:g}" for name, w in TEXT_WEIGHTS.items()]
_DERIVED = ("indexed_at", "quotes_text", "entities_text")
MAPPING_FILE = "articles.mapping.json"  # the one mapping, beside this module
# engines sort dates as epoch milliseconds (longs), undated last (None)
_DATE_SORT: tuple[type[Any], ...] = (int, type(None))
_UNDATED = -(2**63)  # the sort value of an undated story (missing last, newest first)


def load_mapping(path: Path | None = None) -> dict[str, Any]:
    """The index settings and mappings: the file ``path`` (``NEWSWIRE_MAPPING_FILE``, a
    deployer's own mapping), else ``articles.mapping.json`` shipped in this package.

    Raises ``InputError`` when ``path`` cannot be read or is not JSON.
    """
    if path is None:
        text = resources.files("pipeline.index").joinpath(MAPPING_FILE).read_text("utf-8")
        packaged: dict[str, Any] = json.loads(text)
        return packaged
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"mapping file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise InputError(f"mapping file {path}: not valid JSON: {exc}") from exc
    return data


def mapping_hash(mapping: dict[str, Any]) -> str:
    """A short fingerprint of a mapping, stored in the index to tell when it is outdated."""
    return hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()[:12]


def to_document(article: Article, indexed_at: datetime | None = None) -> dict[str, Any]:
    """The engine document of an article: the contract fields (in its own cluster when it
    names none, as ``own_cluster`` says) plus search helpers."""
    doc = own_cluster(article).model_dump(mode="json")
    if article.published_at is not None:
        doc["published_at"] = utc(article.published_at).isoformat()
    for entity in doc["entities"]:
        entity["terms"] = [entity["name"], *entity["aliases"]]
    doc["quotes_text"], doc["entities_text"] = search_texts(article)
    doc["indexed_at"] = (indexed_at or datetime.now(UTC)).isoformat()
    return doc


def from_document(source: dict[str, Any]) -> Article:
    doc = {k: v for k, v in source.items() if k not in _DERIVED}
    for entity in doc.get("entities", []):
        entity.pop("terms", None)
    return Article.model_validate(doc)


# queries ----------------------------------------------------------------------------


def _text_query(node: Node) -> dict[str, Any]:
    if isinstance(node, Term):
        kind = (
            "phrase_prefix" if node.prefix else ("phrase" if len(node.words) > 1 else "best_fields")
        )
        return {"multi_match": {"query": " ".join(node.words), "fields": TEXT_FIELDS, "type": kind}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [_text_query(node.node)]}}
    if isinstance(node, Or):
        return {"bool": {"should": [_text_query(n) for n in node.nodes], "minimum_should_match": 1}}
    assert isinstance(node, And)
    return {"bool": {"must": [_text_query(n) for n in node.nodes]}}


def _filters(q: SearchQuery) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    inner: list[dict[str, Any]]
    if q.entity or q.type:
        inner = []
        if q.entity:
            inner.append({"term": {"entities.terms": q.entity.strip()}})
        if q.type:
            inner.append({"term": {"entities.type": q.type.strip().upper()}})
        out.append({"nested": {"path": "entities", "query": {"bool": {"filter": inner}}}})
    target = fold(q.target or "")  # no words: no target filter
    if q.speaker and not (q.stance or target):  # with those, the speaker holds a stance
        out.append({"term": {"quotes.speaker": q.speaker.strip()}})
    if q.stance or target:
        # "holder X, stance S, target T" is one condition on one stance
        inner = [
            {"term": {"stances.stance": q.stance.strip().lower()}}
            if q.stance
            else {"terms": {"stances.stance": list(TARGET_LABELS)}}
        ]
        if q.speaker:
            inner.append({"term": {"stances.holder": q.speaker.strip()}})
        if target:
            inner.append(_target_query(target))
        out.append({"nested": {"path": "stances", "query": {"bool": {"filter": inner}}}})
    if q.source:
        src = q.source.strip().lower().removeprefix("www.")
        out.append(
            {
                "bool": {
                    "should": [
                        {"term": {"source": src}},
                        # a subdomain; the name's own * and ? are literal
                        {"wildcard": {"source": {"value": "*." + _wildcard_literal(src)}}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    if q.language:
        out.append({"term": {"language": q.language.strip().lower()}})
    if q.since or q.until:
        bounds: dict[str, str] = {}
        if q.since:
            bounds["gte"] = utc(q.since).isoformat()
        if q.until:
            bounds["lte"] = utc(q.until).isoformat()
        out.append({"range": {"published_at": bounds}})
    return out


def _target_query(folded: str) -> dict[str, Any]:
    """Stances whose target holds the words ``folded`` (``base.fold``) as a run of whole
    words (``base.target_matches``): the whole target, its start, its end or its middle.
    The target keyword is folded at index time by the mapping's normalizer."""
    words = _wildcard_literal(folded)
    field = "stances.target"
    return {
        "bool": {
            "should": [
                {"term": {field: folded}},
                {"wildcard": {field: {"value": f"{words} *"}}},
                {"wildcard": {field: {"value": f"* {words}"}}},
                {"wildcard": {field: {"value": f"* {words} *"}}},
            ],
            "minimum_should_match": 1,
        }
    }


def _wildcard_literal(text: str) -> str:
    """``text`` matched literally inside a wildcard query."""
    return "".join("\\" + ch if ch in "*?\\" else ch for ch in text)


def _sort(q: SearchQuery, has_text: bool) -> list[Any]:
    if q.sort == "date" or not has_text:
        return [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    return [{"_score": "desc"}, {"id": "asc"}]


def search_body(q: SearchQuery) -> dict[str, Any]:
    """The request body of one search."""
    node = parse(q.text)
    must = [_text_query(node)] if node is not None else []
    body: dict[str, Any] = {
        "query": {"bool": {"must": must, "filter": _filters(q)}},
        "size": max(0, q.limit),
        "sort": _sort(q, node is not None),
        "track_total_hits": True,
        "highlight": {
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "encoder": "default",
            "fields": {
                "body": {"fragment_size": 160, "number_of_fragments": 1},
                "title": {"number_of_fragments": 0},
            },
        },
        "_source": {"excludes": ["body", "quotes_text", "entities_text", "claims"]},
    }
    if q.collapse:
        # One hit per cluster, its best by the sort. The engines refuse ``search_after``
        # with ``collapse`` (but on the collapse field itself). By date, the cursor's
        # position filters the hits (``post_filter``: the counts still see every match)
        # and the engine drops the clusters shown before it (``shown_body``); by
        # relevance (a score is no filter) the cursor carries an offset.
        body["collapse"] = {"field": "cluster_id"}
        body["aggs"] = {"clusters": cluster_count(TOTAL_PRECISION)}
        if q.cursor and by_date(q):
            body["post_filter"] = after_position(decode_cursor(q.cursor, _DATE_SORT))
            # hits.total counts what the post_filter leaves, aggregations every match
            body["aggs"]["stories"] = {"filter": {"match_all": {}}}
        elif start := decode_offset_cursor(q.cursor) if q.cursor else q.offset:
            body["from"] = start
    elif q.cursor:
        # engines sort dates as epoch milliseconds (longs), relevance by score
        kinds = _DATE_SORT if by_date(q) else (float, int)
        body["search_after"] = decode_cursor(q.cursor, kinds)
    elif q.offset:
        body["from"] = q.offset
    if q.facets:
        body["aggs"] = {**body.get("aggs", {}), **aggregations(q.count_clusters)}
        if by_date(q):
            # The facets' sample is the best-scored matches: here the newest (undated
            # last), as the hits. Stored dates are from 1990 on: no negative score.
            body["query"]["bool"]["must"] = [
                {
                    "function_score": {
                        "query": must[0] if must else {"match_all": {}},
                        "field_value_factor": {"field": "published_at", "missing": 0},
                        "boost_mode": "replace",
                    }
                }
            ]
    return body


def by_date(q: SearchQuery) -> bool:
    """Whether ``q`` sorts by date (asked, or no words to rank by)."""
    return q.sort == "date" or parse(q.text) is None


def after_position(position: list[Any]) -> dict[str, Any]:
    """The documents after ``position`` (``[epoch ms or None, id]``, a hit's sort values)
    in the date order: newest first, undated last, ties by id."""
    when, last_id = position
    undated = {"bool": {"must_not": [{"exists": {"field": "published_at"}}]}}
    later_id = {"range": {"id": {"gt": last_id}}}
    if when is None or when == _UNDATED:
        return {"bool": {"filter": [undated, later_id]}}
    same = {"range": {"published_at": {"gte": when, "lte": when, "format": "epoch_millis"}}}
    return {
        "bool": {
            "should": [
                {"range": {"published_at": {"lt": when, "format": "epoch_millis"}}},
                {"bool": {"filter": [same, later_id]}},
                undated,
            ],
            "minimum_should_match": 1,
        }
    }


def shown_body(q: SearchQuery, clusters: list[str], position: list[Any]) -> dict[str, Any]:
    """The request body finding which of ``clusters`` have a story matching ``q`` at or
    before ``position`` in the date order: shown by an earlier page."""
    body = _matching(q, clusters)
    body["query"]["bool"]["must_not"] = [after_position(position)]
    body["aggs"] = {"shown": _page_clusters(len(clusters))}
    return body


def to_shown(resp: dict[str, Any]) -> set[str]:
    return {b["key"] for b in resp["aggregations"]["shown"]["buckets"]}


def _page_clusters(size: int) -> dict[str, Any]:
    """Buckets per cluster over the stories of a page's few clusters: by their values
    (``map``), not the global ordinals of every cluster id, which the engine would
    rebuild after each refresh."""
    return {"terms": {"field": "cluster_id", "size": size, "execution_hint": "map"}}


def _matching(q: SearchQuery, clusters: list[str]) -> dict[str, Any]:
    """A count-only body over the stories of ``clusters`` matching ``q``."""
    body = search_body(
        SearchQuery(**{**q.__dict__, "collapse": False, "facets": False, "cursor": None})
    )
    body["query"]["bool"]["filter"].append({"terms": {"cluster_id": clusters}})
    return {"size": 0, "query": body["query"]}


def cluster_sources_body(q: SearchQuery, clusters: list[str]) -> dict[str, Any]:
    """The request body counting, for each of ``clusters`` (a collapsed page's), its
    stories matching ``q`` per source."""
    return {
        **_matching(q, clusters),
        "aggs": {
            "clusters": {
                **_page_clusters(len(clusters)),
                "aggs": {"sources": {"terms": {"field": "source", "size": 1000}}},
            }
        },
    }


def to_cluster_sources(resp: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Matching stories per cluster and source from the answer to ``cluster_sources_body``."""
    return {
        b["key"]: {s["key"]: s["doc_count"] for s in b["sources"]["buckets"]}
        for b in resp["aggregations"]["clusters"]["buckets"]
    }


def to_result(resp: dict[str, Any], q: SearchQuery) -> SearchResult:
    """A ``SearchResult`` from an engine's answer to ``search_body(q)``."""
    hits = []
    raw_hits = resp["hits"]["hits"]
    for h in raw_hits:
        src = h["_source"]
        marks = h.get("highlight", {})
        snippet = (marks.get("body") or marks.get("title") or [src.get("summary") or ""])[0]
        hits.append(
            Hit(
                id=src["id"],
                title=src.get("title", ""),
                url=src.get("canonical_url") or src["url"],
                source=src["source"],
                published_at=src.get("published_at"),
                snippet=snippet,
                score=round(float(h.get("_score") or 0.0), 4),
                entities=[
                    {k: v for k, v in e.items() if k != "terms"} for e in src.get("entities", [])
                ][:10],
                stances=src.get("stances", []),
                quotes=src.get("quotes", []),
                # the engine counts the cluster's other matches after the search
                cluster=cluster_info(src.get("cluster_id") or src["id"], src["source"], {})
                if q.collapse
                else None,
            )
        )
    total = resp["hits"]["total"]
    stories = total["value"] if isinstance(total, dict) else int(total)
    aggs = resp.get("aggregations") or {}
    next_cursor = None
    if q.collapse:
        if "stories" in aggs:  # a post_filter: hits.total counts the page's side only
            stories = int(aggs["stories"]["doc_count"])
        # an estimate above TOTAL_PRECISION, which could pass the stories it counts
        total = min(int(aggs["clusters"]["value"]), stories)
        start = 0 if by_date(q) else decode_offset_cursor(q.cursor) if q.cursor else q.offset
        if not raw_hits or len(raw_hits) < q.limit:
            pass
        elif by_date(q):
            next_cursor = encode_cursor(raw_hits[-1]["sort"])
        elif start + q.limit < MAX_WINDOW:
            next_cursor = encode_cursor([start + q.limit, hits[-1].id])
    else:
        total = stories
        if raw_hits and len(raw_hits) == q.limit and raw_hits[-1].get("sort"):
            next_cursor = encode_cursor(raw_hits[-1]["sort"])
    return SearchResult(
        total=total,
        stories=stories,
        hits=hits,
        facets=facets(aggs, q.count_clusters, stories),
        next_cursor=next_cursor,
    )


def entity_names_body(prefix: str, limit: int) -> dict[str, Any]:
    """Entities whose name, or a word of it, starts with ``prefix`` (any case), by
    stories naming them, each with its most common type."""
    p = prefix.strip()
    wildcard = "".join("\\" + ch if ch in "*?\\" else ch for ch in p)
    matching = {
        "bool": {
            "should": [
                {"prefix": {"entities.name": {"value": p, "case_insensitive": True}}},
                {
                    "wildcard": {
                        "entities.name": {"value": f"* {wildcard}*", "case_insensitive": True}
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }
    return {
        "size": 0,
        "aggs": {
            "entities": {
                "nested": {"path": "entities"},
                "aggs": {
                    "matching": {
                        "filter": matching,
                        "aggs": {
                            "names": {
                                "terms": {
                                    "field": "entities.name",
                                    "size": limit,
                                    "order": [{"articles": "desc"}, {"_key": "asc"}],
                                },
                                "aggs": {
                                    "articles": {"reverse_nested": {}},
                                    "type": {"terms": {"field": "entities.type", "size": 1}},
                                },
                            }
                        },
                    }
                },
            }
        },
    }


def to_entity_names(resp: dict[str, Any]) -> list[EntityName]:
    buckets = resp["aggregations"]["entities"]["matching"]["names"]["buckets"]
    return [
        EntityName(
            name=b["key"],
            type=b["type"]["buckets"][0]["key"] if b["type"]["buckets"] else "MISC",
            count=b["articles"]["doc_count"],
        )
        for b in buckets
    ]
