"""The index protocol every search backend implements, the query and result types,
and the facts every backend shares (full-text fields and their weights)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from pipeline.models import Article, Entity, Stance

Sort = Literal["relevance", "date"]


@dataclass(frozen=True)
class SearchQuery:
    """One search, the same for every backend.

    ``cursor`` (from a previous result's ``next_cursor``) pages deeply without
    ``offset``'s cost; with no words, ``relevance`` sorts by date.
    """

    text: str = ""
    entity: str | None = None
    type: str | None = None
    speaker: str | None = None
    stance: str | None = None
    source: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: Sort = "relevance"
    limit: int = 10
    offset: int = 0
    cursor: str | None = None
    facets: bool = True


class Hit(BaseModel):
    id: str
    title: str
    url: str
    source: str
    published_at: datetime | None
    snippet: str
    score: float
    entities: list[Entity] = Field(default_factory=list)
    stances: list[Stance] = Field(default_factory=list)


class FacetValue(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    entities: dict[str, list[FacetValue]] = Field(default_factory=dict)
    sources: list[FacetValue] = Field(default_factory=list)
    stances: list[FacetValue] = Field(default_factory=list)
    dates: list[FacetValue] = Field(default_factory=list)  # stories per day, oldest first


class EntityName(BaseModel):
    """An entity name in the index, with how many stories name it."""

    name: str
    type: str
    count: int


class SearchResult(BaseModel):
    total: int
    hits: list[Hit]
    facets: Facets = Field(default_factory=Facets)
    next_cursor: str | None = None


FACET_SIZE = 10

# The full-text fields and their relevance weights, one table for every backend:
# Elasticsearch and OpenSearch boost these fields (``dsl.py``); SQLite passes the weights
# to bm25() for its FTS columns, which are these fields in this order (``sqlite.py``).
TEXT_WEIGHTS: dict[str, float] = {
    "title": 6.0,
    "summary": 2.0,
    "body": 1.0,
    "quotes_text": 1.5,
    "entities_text": 3.0,
}


def search_texts(article: Article) -> tuple[str, str]:
    """The quote and entity-name texts every backend searches besides title and body."""
    quotes = "\n".join(f"{q.speaker}: {q.text}" for q in article.quotes)
    names = "\n".join(" ".join([e.name, *e.aliases]) for e in article.entities)
    return quotes, names


@dataclass
class Health:
    ok: bool
    backend: str
    detail: dict[str, Any] = field(default_factory=dict)


class Index(Protocol):
    """A search backend. Writes are idempotent upserts keyed by article id."""

    def upsert_many(self, articles: Sequence[Article]) -> int: ...
    def get(self, article_id: str) -> Article | None: ...
    def delete(self, article_id: str) -> bool: ...
    def search(self, query: SearchQuery) -> SearchResult: ...

    def entity_names(self, prefix: str, limit: int = 10) -> list[EntityName]:
        """Names (or aliases) of entities starting with ``prefix`` (case-insensitive),
        the most-mentioned first: autocomplete."""
        ...

    def count(self) -> int: ...
    def health(self) -> Health: ...
    def reindex(self) -> tuple[str, str, int]: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...
