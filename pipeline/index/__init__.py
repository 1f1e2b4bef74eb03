"""The index protocol every search backend implements, and the query/result types."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from pipeline.errors import InputError
from pipeline.models import Article, Entity, Stance
from pipeline.settings import Settings

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


def search_texts(article: Article) -> tuple[str, str]:
    """The quote and entity-name texts every backend searches besides title and body."""
    quotes = "\n".join(f"{q.speaker}: {q.text}" for q in article.quotes)
    names = "\n".join(" ".join([e.name, *e.aliases]) for e in article.entities)
    return quotes, names


_CURSOR_CHARS = 1000  # ours are under 200; a longer one was not made by us
_CURSOR_TEXT = 200  # the longest sort value or id text a cursor may hold
_INT64 = 2**63  # engines sort on 64-bit longs (dates in ms)
ANY_SORT_VALUE: tuple[type[Any], ...] = (str, int, float, type(None))


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor from the sort values of the last hit: ``[sort value, id]``."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, after: tuple[type[Any], ...] = ANY_SORT_VALUE) -> list[Any]:
    """The ``[sort value, id]`` in a cursor made by ``encode_cursor``.

    A cursor comes back from the client, so it is checked like any input: short,
    base64 of a JSON list of exactly a sort value and an id (text), the sort value
    one of the ``after`` types the backend sorts this query by (e.g. ``(float, int)``
    for a score), finite, within 64 bits, texts of bounded length. Raises
    ``InputError("invalid cursor")`` for anything else, so no forged value reaches a
    query.
    """
    if len(cursor) > _CURSOR_CHARS:
        raise InputError("invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InputError("invalid cursor") from exc
    if not isinstance(values, list) or len(values) != 2:
        raise InputError("invalid cursor")
    value, last_id = values
    if not isinstance(last_id, str) or len(last_id) > _CURSOR_TEXT:
        raise InputError("invalid cursor")
    # bool is an int to isinstance, and never a sort value of ours
    if isinstance(value, bool) or not isinstance(value, after):
        raise InputError("invalid cursor")
    if (
        (isinstance(value, float) and not math.isfinite(value))
        or (isinstance(value, int) and not -_INT64 <= value < _INT64)
        or (isinstance(value, str) and len(value) > _CURSOR_TEXT)
    ):
        raise InputError("invalid cursor")
    return [value, last_id]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a sort value")


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


def open_index(settings: Settings) -> Index:
    """The backend the settings name. Raises ``InputError`` when its client is missing."""
    if settings.backend == "sqlite":
        from pipeline.index.sqlite import SqliteIndex

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
