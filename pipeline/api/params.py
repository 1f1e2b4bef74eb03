"""The search parameters of the API and the search page, validated: the search
contract's filters (the CLI's options), paging, collapsing and facet counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Annotated

from fastapi import Query

from pipeline.index import FacetCount, SearchQuery, Sort
from pipeline.models import EntityType, StanceLabel

Text = Annotated[str, Query(max_length=500)]
Name = Annotated[str | None, Query(max_length=200)]


def _day(value: date | None, end: bool = False) -> datetime | None:
    if value is None:
        return None
    return datetime.combine(value, dtime.max if end else dtime.min, tzinfo=UTC)


def search_query(
    q: Text = "",
    entity: Name = None,
    type: Annotated[
        EntityType | None, Query(description="Only stories with an entity of this type.")
    ] = None,
    speaker: Name = None,
    stance: Annotated[
        StanceLabel | None,
        Query(description="With speaker and/or target: one stance (speaker its holder)."),
    ] = None,
    target: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Only stories with a favor/against stance on this target (a name or"
            " an issue; its words inside the target, any case). With stance and speaker:"
            " one stance.",
        ),
    ] = None,
    source: Name = None,
    language: Annotated[str | None, Query(max_length=10, pattern=r"^[A-Za-z-]+$")] = None,
    since: Annotated[date | None, Query(description="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[date | None, Query(description="Published on or before (YYYY-MM-DD).")] = None,
    sort: Sort = "relevance",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=4096, description="next_cursor of the previous page.")
    ] = None,
    collapse: Annotated[
        bool,
        Query(
            description="One hit per same-event cluster (its best story, with how many more"
            " and from where); false: every story."
        ),
    ] = True,
    facet_count: Annotated[
        FacetCount | None,
        Query(description="Facets count clusters or stories (default: clusters when collapsed)."),
    ] = None,
) -> SearchQuery:
    """The search contract's parameters (the CLI's options), validated. The cursor is
    checked by the backend, which knows the types its sort values have."""
    return SearchQuery(
        text=q,
        entity=entity or None,
        type=type,
        speaker=speaker or None,
        stance=stance,
        target=target or None,
        source=source or None,
        language=language,
        since=_day(since),
        until=_day(until, end=True),
        sort=sort,
        limit=limit,
        offset=offset,
        cursor=cursor or None,
        collapse=collapse,
        facet_count=facet_count,
    )
