"""The index protocol every search backend implements, the query and result types,
and the facts every backend shares (full-text fields and their weights)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from pipeline.models import Article, Entity, Quote, Stance, utc

Sort = Literal["relevance", "date"]
FacetCount = Literal["clusters", "stories"]


@dataclass(frozen=True)
class SearchQuery:
    """One search, the same for every backend.

    ``cursor`` (from a previous result's ``next_cursor``) pages deeply without
    ``offset``'s cost; with no words, ``relevance`` sorts by date.

    ``speaker`` alone names a quoted speaker; with ``stance`` or ``target`` it names
    the holder, and the three are one condition on one stance ("Smith against the
    ceasefire proposal"), the story need not quote Smith. ``target`` matches a stance's target
    as a whole-word phrase inside it, any case (``target_matches``), and without
    ``stance`` only favor and against stances count.
    """

    text: str = ""
    entity: str | None = None
    type: str | None = None
    speaker: str | None = None
    stance: str | None = None
    target: str | None = None
    source: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: Sort = "relevance"
    limit: int = 10
    offset: int = 0
    cursor: str | None = None
    facets: bool = True
    collapse: bool = True
    facet_count: FacetCount | None = None

    @property
    def count_clusters(self) -> bool:
        """Whether facets count clusters (else stories)."""
        return self.facet_count == "clusters" or (self.facet_count is None and self.collapse)


class ClusterInfo(BaseModel):
    """A collapsed hit's cluster: ``size`` stories of it match the search, the hit and
    ``more`` others, whose sources are ``sources`` (most stories first, at most
    FACET_SIZE): "and 12 more from Outlet A, Outlet B"."""

    id: str
    size: int
    more: int
    sources: list[str] = Field(default_factory=list)


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
    # for the page's quote cards; not part of the search JSON (the contract's hit fields)
    quotes: list[Quote] = Field(default_factory=list, exclude=True)
    cluster: ClusterInfo | None = None  # set on collapsed searches


class FacetValue(BaseModel):
    value: str
    count: int


class TargetValue(FacetValue):
    """Stories holding ``stance`` on ``value`` (a stance target), with the target's
    most common type (an entity type, or ``ISSUE``)."""

    stance: str
    type: str


class Facets(BaseModel):
    entities: dict[str, list[FacetValue]] = Field(default_factory=dict)
    sources: list[FacetValue] = Field(default_factory=list)
    stances: list[FacetValue] = Field(default_factory=list)
    # the FACET_SIZE targets with the most favor/against stories, each split by label
    targets: list[TargetValue] = Field(default_factory=list)
    dates: list[FacetValue] = Field(default_factory=list)  # stories per day, oldest first
    # True when entities, stances and targets were counted over the first matches
    # only, not all of them (FACET_SAMPLE; sources and dates count every match)
    sampled: bool = False


class EntityName(BaseModel):
    """An entity name in the index, with how many stories name it."""

    name: str
    type: str
    count: int


class SearchResult(BaseModel):
    total: int  # matching clusters when collapsed, else matching stories
    hits: list[Hit]
    stories: int = 0  # matching stories (the total of an expanded search)
    facets: Facets = Field(default_factory=Facets)
    next_cursor: str | None = None


FACET_SIZE = 10

# Above this many matches, entities, stances and targets are counted over the first
# FACET_SAMPLE matches in the result's order (relevance, or newest first) and the facets
# say ``sampled``: their cost grows with the stories counted. Well above the contract
# corpus (tens of stories), where every backend must agree exactly.
FACET_SAMPLE = 2000

# The labels a target filter (without ``stance``) and the targets facet count: a
# neutral stance is no position on its target.
TARGET_LABELS = ("favor", "against")


def fold(text: str) -> str:
    """``text`` lower-cased, without accents, its spaces collapsed: how every backend
    compares targets (the engines' ``folded`` normalizer does the same at index time)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.lower().split())


def target_matches(target: str, wanted: str) -> bool:
    """Whether a stance on ``target`` matches the filter ``wanted``: the folded filter is
    the folded target or a run of its whole words ("ceasefire" matches "ceasefire
    proposal", "fire" does not). The backends implement this rule; this is its
    reference."""
    return f" {fold(wanted)} " in f" {fold(target)} " if fold(wanted) else False


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


def cluster_of(article: Article) -> str:
    """The id of ``article``'s same-event cluster: a story without one (indexed before
    clustering existed) is a cluster of its own."""
    return article.cluster_id or article.id


def own_cluster(article: Article) -> Article:
    """``article`` as every backend stores it: in its cluster, its own when it names none
    (the engines collapse on the stored ``cluster_id``, where a missing one would lump
    every such story together)."""
    return article if article.cluster_id else article.model_copy(update={"cluster_id": article.id})


def cluster_info(cluster_id: str, hit_source: str, per_source: dict[str, int]) -> ClusterInfo:
    """A collapsed hit's ``ClusterInfo`` from its cluster's matching stories per source
    (the hit's own story included; it is left out of ``more`` and ``sources``)."""
    per_source = per_source or {hit_source: 1}
    others = dict(per_source)
    others[hit_source] = others.get(hit_source, 1) - 1
    size = sum(per_source.values())
    ranked = sorted((kv for kv in others.items() if kv[1] > 0), key=lambda kv: (-kv[1], kv[0]))
    return ClusterInfo(
        id=cluster_id,
        size=size,
        more=max(size - 1, 0),
        sources=[s for s, _ in ranked[:FACET_SIZE]],
    )


def search_texts(article: Article) -> tuple[str, str]:
    """The quote and entity-name texts every backend searches besides title and body."""
    quotes = "\n".join(f"{q.speaker}: {q.text}" for q in article.quotes)
    names = "\n".join(" ".join([e.name, *e.aliases]) for e in article.entities)
    return quotes, names


@dataclass(frozen=True)
class Outdated:
    """Stories that analysis ``version`` did not analyse (``Article.analyzed_with``
    another version, or none), published (else fetched) since ``since`` if given, on the
    site ``source`` or a subdomain of it if given: what ``newswire reanalyze`` selects.
    ``matches`` is the reference every backend's query implements."""

    version: str
    since: datetime | None = None
    source: str | None = None

    def matches(self, article: Article) -> bool:
        if article.analyzed_with == self.version:
            return False
        when = article.published_at or article.fetched_at
        if self.since is not None and (when is None or utc(when) < utc(self.since)):
            return False
        if self.source:
            site = self.source.strip().lower().removeprefix("www.")
            return article.source == site or article.source.endswith("." + site)
        return True


# ``Index.revise``'s function: the articles given, re-analysed (same ids, same order).
Revise = Callable[[list[Article]], list[Article]]


@dataclass
class Health:
    ok: bool
    backend: str
    detail: dict[str, Any] = field(default_factory=dict)


class Index(Protocol):
    """A search backend. Writes are idempotent upserts keyed by article id; a story
    written without ``cluster_id`` is stored as its own cluster (``own_cluster``)."""

    def upsert_many(self, articles: Sequence[Article]) -> int: ...
    def get(self, article_id: str) -> Article | None: ...
    def delete(self, article_id: str) -> bool: ...
    def search(self, query: SearchQuery) -> SearchResult: ...

    def cluster(self, cluster_id: str, limit: int = 200) -> list[Article]:
        """The stories of a same-event cluster (a story without a cluster id is its own
        cluster), earliest first (undated last, then by id), at most ``limit``."""
        ...

    def entity_names(self, prefix: str, limit: int = 10) -> list[EntityName]:
        """Names (or aliases) of entities starting with ``prefix`` (case-insensitive),
        the most-mentioned first: autocomplete."""
        ...

    def relabel_cluster(self, old: str, new: str) -> int:
        """Give every story of cluster ``old`` the cluster id ``new`` (two clusters merged,
        ``new`` survives); returns how many stories changed."""
        ...

    def count(self) -> int: ...
    def health(self) -> Health: ...
    def reindex(self) -> tuple[str, str, int]: ...

    def count_outdated(self, outdated: Outdated) -> int:
        """How many stories ``outdated`` selects."""
        ...

    def revise(self, outdated: Outdated, revise: Revise, batch_size: int) -> int:
        """Replace each story ``outdated`` selects by ``revise`` of it, ``batch_size`` at
        a time, with no search failing or missing a story meanwhile; resumable after a
        kill (what was written stays written). Returns how many were revised."""
        ...

    def refresh(self) -> None: ...
    def close(self) -> None: ...
