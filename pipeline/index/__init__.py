"""Search backends: one protocol (``base.Index``), three implementations, and
``open_index``, the factory that picks one from the settings.

The SQLite backend is always there. The Elasticsearch and OpenSearch backends are
imported only when asked for, because their clients are optional dependencies
(``pip install 'newswire[opensearch]'``): those two imports inside ``open_index`` are
the only ones in this package, and no module here imports this one.
"""

from __future__ import annotations

from pipeline.errors import InputError
from pipeline.index.base import (
    FACET_SIZE,
    TARGET_LABELS,
    TEXT_WEIGHTS,
    ClusterInfo,
    EntityName,
    FacetCount,
    Facets,
    FacetValue,
    Health,
    Hit,
    Index,
    Outdated,
    Revise,
    SearchQuery,
    SearchResult,
    Sort,
    TargetValue,
    fold,
    search_texts,
    target_matches,
)
from pipeline.index.cursor import decode_cursor, encode_cursor
from pipeline.index.sqlite import SqliteIndex
from pipeline.settings import Settings

__all__ = [
    "FACET_SIZE",
    "TARGET_LABELS",
    "TEXT_WEIGHTS",
    "ClusterInfo",
    "EntityName",
    "FacetCount",
    "FacetValue",
    "Facets",
    "Health",
    "Hit",
    "Index",
    "Outdated",
    "Revise",
    "SearchQuery",
    "SearchResult",
    "Sort",
    "TargetValue",
    "decode_cursor",
    "encode_cursor",
    "fold",
    "open_index",
    "search_texts",
    "target_matches",
]


def open_index(settings: Settings) -> Index:
    """The backend the settings name. Raises ``InputError`` when its client is missing."""
    if settings.backend == "sqlite":
        return SqliteIndex(settings.db)
    try:
        if settings.backend == "opensearch":
            from pipeline.index.opensearch import open_opensearch

            return open_opensearch(settings)
        from pipeline.index.elasticsearch import open_elasticsearch

        es: Index = open_elasticsearch(settings)
        return es
    except ImportError as exc:
        raise InputError(
            f"the {settings.backend} backend needs its client: pip install 'newswire[{settings.backend}]'"
        ) from exc
