"""The index protocol every search backend implements, and the query/result types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from pipeline.errors import InputError
from pipeline.models import Article, Entity, Stance
from pipeline.settings import Settings


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    entity: str | None = None
    type: str | None = None
    speaker: str | None = None
    stance: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 10
    offset: int = 0
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


class SearchResult(BaseModel):
    total: int
    hits: list[Hit]
    facets: Facets = Field(default_factory=Facets)


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
    def count(self) -> int: ...
    def health(self) -> Health: ...
    def close(self) -> None: ...


def open_index(settings: Settings) -> Index:
    """The backend the settings name. Raises ``InputError`` for one not built yet."""
    if settings.backend == "sqlite":
        from pipeline.index.sqlite import SqliteIndex

        return SqliteIndex(settings.db)
    raise InputError(
        f"the {settings.backend} backend is not available in this version; use --backend sqlite"
    )
