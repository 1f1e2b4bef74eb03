"""Facet aggregations for Elasticsearch and OpenSearch, and the facets read from their
answers: stories per value, or same-event clusters per value (a ``cardinality`` of
``cluster_id`` in each bucket), so that wire copies count once.

Entities, stances and targets are counted over a ``sampler``: the first FACET_SAMPLE
matches by score (a search by date scores its matches by date, ``search_body``), as
SQLite counts them; sources and days over every match.

Pure functions, as ``dsl``: no client, no I/O.
"""

from __future__ import annotations

from typing import Any

from pipeline.index.base import (
    FACET_SAMPLE,
    FACET_SIZE,
    TARGET_LABELS,
    Facets,
    FacetValue,
    TargetValue,
)

# A facet bucket's count of clusters: exact below this many (but for a rare hash
# collision), an estimate within ~1% above: the engines' HyperLogLog++ threshold. Each
# count gets a counter of 2**p bytes (p from the threshold): 256 KB at 40,000, 16 KB at
# 3,000. A search fills hundreds of buckets (days, names, targets, labels), so 40,000 put
# ~200 MB through the heap per search (282 ms p95 at 100k stories). The sampled facets
# count at most FACET_SAMPLE stories: below the threshold.
CLUSTER_PRECISION = 3_000
# The search's total, one count: exact as far as the engines go. The page and the CLI
# say "N with copies" when the stories outnumber it, so an estimate a little below the
# stories would announce copies that are not there. At 3,000 it saved ~5 ms over 80k
# matches (docs/performance.md), not worth a wrong line on every big search.
TOTAL_PRECISION = 40_000


def cluster_count(precision: int = CLUSTER_PRECISION) -> dict[str, Any]:
    """Distinct clusters among the documents of a bucket (or, at ``TOTAL_PRECISION``,
    of the whole search)."""
    return {"cardinality": {"field": "cluster_id", "precision_threshold": precision}}


def _stories(by_clusters: bool) -> dict[str, Any]:
    """The parent stories of a nested bucket, with their clusters when counted."""
    agg: dict[str, Any] = {"reverse_nested": {}}
    if by_clusters:
        agg["aggs"] = {"clusters": cluster_count()}
    return agg


def _by_count(path: str, by_clusters: bool) -> list[dict[str, str]]:
    """Order of terms buckets: most stories (``path``, a reverse_nested or ``_count``)
    or clusters first, then by name."""
    if by_clusters:
        key = "clusters" if path == "_count" else f"{path}>clusters"
        return [{key: "desc"}, {"_key": "asc"}]
    return [{path: "desc"}, {"_key": "asc"}]


def aggregations(by_clusters: bool) -> dict[str, Any]:
    """The facet aggregations, counting clusters (``by_clusters``) or stories:
    entities, stances and targets in ``sample`` (FACET_SAMPLE matches by score per
    shard), sources and days over every match."""
    per_bucket = {"aggs": {"clusters": cluster_count()}} if by_clusters else {}
    sampled = {
        "entities": {
            "nested": {"path": "entities"},
            "aggs": {
                "types": {
                    "terms": {"field": "entities.type", "size": 20},
                    "aggs": {
                        "names": {
                            "terms": {
                                "field": "entities.name",
                                "size": FACET_SIZE,
                                "order": _by_count("articles", by_clusters),
                            },
                            "aggs": {"articles": _stories(by_clusters)},
                        }
                    },
                }
            },
        },
        "stances": {
            "nested": {"path": "stances"},
            "aggs": {
                "labels": {
                    "terms": {"field": "stances.stance", "size": 3},
                    "aggs": {"articles": _stories(by_clusters)},
                },
                "positions": {
                    "filter": {"terms": {"stances.stance": list(TARGET_LABELS)}},
                    "aggs": {
                        "targets": {
                            "terms": {
                                "field": "stances.target.raw",
                                "size": FACET_SIZE,
                                "order": _by_count("articles", by_clusters),
                            },
                            "aggs": {
                                "articles": _stories(by_clusters),
                                "labels": {
                                    "terms": {"field": "stances.stance", "size": 3},
                                    "aggs": {"articles": _stories(by_clusters)},
                                },
                                "type": {
                                    "terms": {
                                        "field": "stances.target_type",
                                        "size": 1,
                                        "order": [{"_count": "desc"}, {"_key": "asc"}],
                                    }
                                },
                            },
                        }
                    },
                },
            },
        },
    }
    return {
        "sample": {"sampler": {"shard_size": FACET_SAMPLE}, "aggs": sampled},
        "sources": {
            "terms": {
                "field": "source",
                "size": FACET_SIZE,
                "order": _by_count("_count", by_clusters),
            },
            **per_bucket,
        },
        "dates": {
            "date_histogram": {
                "field": "published_at",
                "calendar_interval": "day",
                "format": "yyyy-MM-dd",
                "min_doc_count": 1,
            },
            **per_bucket,
        },
    }


def _count(bucket: dict[str, Any], by_clusters: bool) -> int:
    """A bucket's stories (``doc_count``) or clusters."""
    return int(bucket["clusters"]["value"] if by_clusters else bucket["doc_count"])


def facets(aggs: dict[str, Any] | None, by_clusters: bool, matches: int) -> Facets:
    """The facets in an engine's ``aggregations`` for ``aggregations(by_clusters)`` of a
    search matching ``matches`` stories: ``sampled`` when the sample holds fewer."""
    if not aggs or "sample" not in aggs:
        return Facets()
    sample = aggs["sample"]
    entities: dict[str, list[FacetValue]] = {}
    for t in sample["entities"]["types"]["buckets"]:
        entities[t["key"]] = [
            FacetValue(value=b["key"], count=_count(b["articles"], by_clusters))
            for b in t["names"]["buckets"]
        ]
    stances = sorted(
        (
            FacetValue(value=b["key"], count=_count(b["articles"], by_clusters))
            for b in sample["stances"]["labels"]["buckets"]
        ),
        key=lambda v: (-v.count, v.value),
    )
    targets: list[TargetValue] = []
    for t in sample["stances"]["positions"]["targets"]["buckets"]:
        kind = t["type"]["buckets"][0]["key"] if t["type"]["buckets"] else "ISSUE"
        labels = sorted(
            ((b["key"], _count(b["articles"], by_clusters)) for b in t["labels"]["buckets"]),
            key=lambda kv: (-kv[1], kv[0]),
        )
        targets += [
            TargetValue(value=t["key"], stance=label, type=kind, count=n) for label, n in labels
        ]
    return Facets(
        entities=dict(sorted(entities.items(), key=lambda kv: -sum(v.count for v in kv[1]))),
        sources=[
            FacetValue(value=b["key"], count=_count(b, by_clusters))
            for b in aggs["sources"]["buckets"]
        ],
        stances=stances,
        targets=targets,
        dates=[
            FacetValue(value=b["key_as_string"], count=_count(b, by_clusters))
            for b in aggs["dates"]["buckets"]
        ],
        sampled=int(sample["doc_count"]) < matches,
    )
