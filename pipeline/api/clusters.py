"""A same-event cluster as the API and its page show it: its stories with their sources
and times, its headline variants, and which stories are copies of another
(``duplicate_of``) and which tell it differently."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from pipeline.index import FacetValue, Index
from pipeline.models import Article

CLUSTER_STORIES = 200  # a cluster page lists at most this many stories
SUMMARY_CHARS = 300


class ClusterStory(BaseModel):
    """One story of a cluster. ``kind``: ``first`` (the cluster's own story, or its
    earliest when that is gone), ``copy`` (the same text as ``duplicate_of``) or
    ``different`` (the same event, told otherwise)."""

    id: str
    title: str
    url: str
    source: str
    published_at: datetime | None
    summary: str
    kind: Literal["first", "copy", "different"]
    duplicate_of: str | None = None
    # the story's headline differs from the first story's
    own_headline: bool = False


class Cluster(BaseModel):
    id: str
    size: int = Field(description="Stories in the cluster (at most 200 are listed).")
    first_published: datetime | None
    last_published: datetime | None
    sources: list[FacetValue] = Field(description="Outlets, most stories first.")
    headlines: list[FacetValue] = Field(description="Headline variants, most used first.")
    copies: int = Field(description="Stories that are copies of another (duplicate_of).")
    stories: list[ClusterStory]


def cluster_view(index: Index, cluster_id: str) -> Cluster | None:
    """The cluster ``cluster_id`` from ``index``, or None when no story is in it."""
    articles = index.cluster(cluster_id, CLUSTER_STORIES)
    if not articles:
        return None
    first = next((a for a in articles if a.id == cluster_id), articles[0])
    dates = [a.published_at for a in articles if a.published_at is not None]
    return Cluster(
        id=cluster_id,
        size=len(articles),
        first_published=min(dates) if dates else None,
        last_published=max(dates) if dates else None,
        sources=_ranked(Counter(a.source for a in articles)),
        headlines=_ranked(Counter(a.title for a in articles)),
        copies=sum(1 for a in articles if a.duplicate_of),
        stories=[_story(a, first) for a in articles],
    )


def _ranked(counts: Counter[str]) -> list[FacetValue]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [FacetValue(value=v, count=n) for v, n in ranked]


def _story(a: Article, first: Article) -> ClusterStory:
    kind: Literal["first", "copy", "different"] = (
        "first" if a.id == first.id else "copy" if a.duplicate_of else "different"
    )
    summary = a.summary or a.body
    return ClusterStory(
        id=a.id,
        title=a.title,
        url=str(a.canonical_url or a.url),
        source=a.source,
        published_at=a.published_at,
        summary=summary[:SUMMARY_CHARS],
        kind=kind,
        duplicate_of=a.duplicate_of,
        own_headline=a.title != first.title,
    )
