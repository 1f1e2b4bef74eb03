"""What the index knows about one entity: mentions over time, who appears with it,
the stances it holds and receives, and its quotes. Built from ordinary searches, so
every backend answers it the same way."""

from __future__ import annotations

from collections import Counter, defaultdict

from pydantic import BaseModel, Field

from pipeline.index import TARGET_LABELS, FacetValue, Hit, Index, SearchQuery, fold
from pipeline.models import utc

# Stances and quotes are read from the latest stories that name the entity.
PROFILE_STORIES = 100
PROFILE_QUOTE_STORIES = 10


class CoEntity(BaseModel):
    name: str
    type: str
    count: int


class StanceSummary(BaseModel):
    """Stances between this entity and one other (or an issue), over the stories read."""

    other: str
    other_type: str | None = Field(
        None, description="Held: the target's type (an entity type or ISSUE); received: None."
    )
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
    stories_read: int = Field(
        description="How many of the latest stories naming it or with a stance on it"
        " stances come from."
    )


def _same(a: str, b: str) -> bool:
    return fold(a) == fold(b)


def entity_profile(index: Index, name: str) -> EntityProfile | None:
    """The profile of ``name``: an entity name or alias, or a stance target no story
    names as an entity (an issue such as "ceasefire proposal", typed by its stances).
    None when no story names it and no stance targets it."""
    found = index.search(SearchQuery(entity=name, sort="date", limit=PROFILE_STORIES))
    # stories with a stance on it: the target filter also matches longer targets
    # ("ceasefire" in "ceasefire proposal"), so received stances are kept by name below
    targeted = index.search(
        SearchQuery(target=name, sort="date", limit=PROFILE_STORIES, facets=not found.total)
    )
    hits = {h.id: h for h in [*found.hits, *targeted.hits]}
    held: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    received: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    target_types: Counter[str] = Counter()
    targeted_ids: set[str] = set()
    for hit in hits.values():
        # favor and against: a neutral stance is no position (as in the target filter)
        for s in (s for s in hit.stances if s.stance in TARGET_LABELS):
            if _same(s.holder, name):
                held[(s.target, s.target_type, s.stance)].append((s.evidence, hit.id))
            if _same(s.target, name):
                received[(s.holder, "", s.stance)].append((s.evidence, hit.id))
                target_types[s.target_type] += 1
                targeted_ids.add(hit.id)
    if not found.total and not targeted_ids:
        return None
    # a name no story names as an entity is profiled by the stories taking a stance on it
    base = found if found.total else targeted
    types = Counter(e.type for h in found.hits for e in h.entities if _same(e.name, name))
    co: list[CoEntity] = [
        CoEntity(name=v.value, type=etype, count=v.count)
        for etype, values in base.facets.entities.items()
        for v in values
        if not _same(v.value, name)
    ]
    co.sort(key=lambda c: (-c.count, c.name))

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
    kind = types if found.total else target_types
    return EntityProfile(
        name=name,
        type=kind.most_common(1)[0][0] if kind else None,
        stories=found.total or len(targeted_ids),
        mentions_over_time=base.facets.dates if found.total else _days(hits, targeted_ids),
        co_occurring=co[:15],
        stances_held=_summaries(held),
        stances_received=_summaries(received),
        quotes=quotes[:20],
        stories_read=len(hits),
    )


def _days(hits: dict[str, Hit], ids: set[str]) -> list[FacetValue]:
    """Stories per day among ``ids``, oldest first (the dates facet's shape)."""
    days = Counter(
        utc(when).date().isoformat() for i in ids if (when := hits[i].published_at) is not None
    )
    return [FacetValue(value=d, count=n) for d, n in sorted(days.items())]


def _summaries(
    groups: dict[tuple[str, str, str], list[tuple[str, str]]],
) -> list[StanceSummary]:
    out = [
        StanceSummary(
            other=other,
            other_type=other_type or None,
            stance=stance,
            count=len(items),
            evidence=items[0][0],
            article_id=items[0][1],
        )
        for (other, other_type, stance), items in groups.items()
    ]
    return sorted(out, key=lambda s: (-s.count, s.other, s.stance))
