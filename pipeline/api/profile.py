"""What the index knows about one entity: mentions over time, who appears with it,
the stances it holds and receives, and its quotes. Built from ordinary searches, so
every backend answers it the same way."""

from __future__ import annotations

from collections import Counter, defaultdict

from pydantic import BaseModel, Field

from pipeline.index import FacetValue, Index, SearchQuery

# Stances and quotes are read from the latest stories that name the entity.
PROFILE_STORIES = 100
PROFILE_QUOTE_STORIES = 10


class CoEntity(BaseModel):
    name: str
    type: str
    count: int


class StanceSummary(BaseModel):
    """Stances between this entity and one other, over the stories read."""

    other: str
    stance: str
    count: int
    evidence: str = Field(description="One sentence that carries the stance.")
    article_id: str


class ProfileQuote(BaseModel):
    text: str
    cue: str
    direct: bool
    article_id: str
    title: str
    published_at: str | None


class EntityProfile(BaseModel):
    name: str
    type: str | None
    stories: int
    mentions_over_time: list[FacetValue]
    co_occurring: list[CoEntity]
    stances_held: list[StanceSummary]
    stances_received: list[StanceSummary]
    quotes: list[ProfileQuote]
    stories_read: int = Field(description="How many of the latest stories stances come from.")


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def entity_profile(index: Index, name: str) -> EntityProfile | None:
    """The profile of ``name`` (an entity name or alias), or None when no story names it."""
    found = index.search(SearchQuery(entity=name, sort="date", limit=PROFILE_STORIES))
    if not found.total:
        return None
    types = Counter(e.type for h in found.hits for e in h.entities if _same(e.name, name))
    co: list[CoEntity] = [
        CoEntity(name=v.value, type=etype, count=v.count)
        for etype, values in found.facets.entities.items()
        for v in values
        if not _same(v.value, name)
    ]
    co.sort(key=lambda c: (-c.count, c.name))

    held: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    received: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for hit in found.hits:
        for s in hit.stances:
            if _same(s.holder, name):
                held[(s.target, s.stance)].append((s.evidence, hit.id))
            if _same(s.target, name):
                received[(s.holder, s.stance)].append((s.evidence, hit.id))

    quoted = index.search(
        SearchQuery(speaker=name, sort="date", limit=PROFILE_QUOTE_STORIES, facets=False)
    )
    quotes = []
    for hit in quoted.hits:
        article = index.get(hit.id)
        if article is None:
            continue
        for q in article.quotes:
            if _same(q.speaker, name):
                quotes.append(
                    ProfileQuote(
                        text=q.text,
                        cue=q.cue,
                        direct=q.direct,
                        article_id=article.id,
                        title=article.title,
                        published_at=article.published_at.isoformat()
                        if article.published_at
                        else None,
                    )
                )
    return EntityProfile(
        name=name,
        type=types.most_common(1)[0][0] if types else None,
        stories=found.total,
        mentions_over_time=found.facets.dates,
        co_occurring=co[:15],
        stances_held=_summaries(held),
        stances_received=_summaries(received),
        quotes=quotes[:20],
        stories_read=len(found.hits),
    )


def _summaries(groups: dict[tuple[str, str], list[tuple[str, str]]]) -> list[StanceSummary]:
    out = [
        StanceSummary(
            other=other,
            stance=stance,
            count=len(items),
            evidence=items[0][0],
            article_id=items[0][1],
        )
        for (other, stance), items in groups.items()
    ]
    return sorted(out, key=lambda s: (-s.count, s.other, s.stance))
