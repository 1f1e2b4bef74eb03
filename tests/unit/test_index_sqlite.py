"""The SQLite backend with synthetic articles: upserts, filters, facets, hostile queries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.index import SearchQuery
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, Entity, Quote, Stance


def article(
    n: int,
    title: str,
    body: str,
    *,
    source: str = "a.example",
    day: int = 1,
    people: tuple[str, ...] = (),
    speaker: str | None = None,
    stance: str | None = None,
) -> Article:
    return Article(
        id=f"id{n}",
        url=f"https://{source}/{n}",
        canonical_url=f"https://{source}/{n}",
        source=source,
        title=title,
        body=body,
        summary=body[:60],
        published_at=datetime(2026, 10, day, tzinfo=UTC),
        entities=[
            Entity(name=p, type="PERSON", mentions=2, salience=0.5, aliases=[p.split()[-1]])
            for p in people
        ],
        quotes=[
            Quote(
                speaker=speaker,
                speaker_type="PERSON",
                cue="said",
                text=body[:30],
                direct=True,
                start=0,
                end=30,
            )
        ]
        if speaker
        else [],
        stances=[
            Stance(
                holder=speaker or "x",
                target="the bridge",
                stance=stance,  # type: ignore[arg-type]
                confidence=0.7,
                evidence=body[:40],
            )
        ]
        if stance
        else [],
    )


@pytest.fixture
def index(tmp_path: Path) -> SqliteIndex:
    idx = SqliteIndex(tmp_path / "i.db")
    idx.upsert_many(
        [
            article(
                1,
                "Bridge vote delayed",
                "The council delayed the bridge vote after a long debate.",
                people=("Elena Vasquez", "Marcus Hale"),
                speaker="Marcus Hale",
                stance="against",
                day=1,
            ),
            article(
                2,
                "Bridge approved",
                "Councillors approved the new bridge by one vote.",
                people=("Elena Vasquez",),
                speaker="Elena Vasquez",
                stance="favor",
                day=5,
            ),
            article(
                3,
                "Fares rise",
                "Transit fares will rise by four percent in January.",
                source="b.example",
                people=("Priya Raman",),
                speaker="Priya Raman",
                day=9,
            ),
        ]
    )
    return idx


def ids(index: SqliteIndex, **kw: object) -> list[str]:
    return [h.id for h in index.search(SearchQuery(**kw)).hits]  # type: ignore[arg-type]


def test_full_text_ranks_title_matches_and_highlights(index: SqliteIndex) -> None:
    result = index.search(SearchQuery(text="bridge"))
    assert result.total == 2 and {h.id for h in result.hits} == {"id1", "id2"}
    assert all("<mark>" in h.snippet for h in result.hits)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"text": '"bridge vote"'}, ["id1"]),
        ({"text": "bridge -delayed"}, ["id2"]),
        ({"text": "fares OR delayed"}, ["id1", "id3"]),
        ({"text": "-bridge"}, ["id3"]),
        ({"entity": "Hale"}, ["id1"]),  # aliases match
        ({"entity": "elena vasquez"}, ["id2", "id1"]),
        ({"type": "PERSON", "source": "b.example"}, ["id3"]),
        ({"speaker": "Marcus Hale"}, ["id1"]),
        ({"stance": "favor"}, ["id2"]),
        ({"speaker": "Marcus Hale", "stance": "favor"}, []),
        ({"since": datetime(2026, 10, 4, tzinfo=UTC)}, ["id3", "id2"]),
        ({"until": datetime(2026, 10, 4, tzinfo=UTC)}, ["id1"]),
        ({"source": "www.a.example"}, ["id2", "id1"]),
    ],
)
def test_filters(index: SqliteIndex, query: dict[str, object], expected: list[str]) -> None:
    got = ids(index, **query)
    assert sorted(got) == sorted(expected)
    if "text" not in query:
        assert got == expected, "without words, newest first"


def test_facets_count_articles(index: SqliteIndex) -> None:
    facets = index.search(SearchQuery()).facets
    assert (
        facets.entities["PERSON"][0].value == "Elena Vasquez"
        and facets.entities["PERSON"][0].count == 2
    )
    assert [(v.value, v.count) for v in facets.sources] == [("a.example", 2), ("b.example", 1)]
    assert {(v.value, v.count) for v in facets.stances} == {("against", 1), ("favor", 1)}


def test_upsert_is_idempotent(index: SqliteIndex) -> None:
    again = article(1, "Bridge vote delayed again", "Still delayed.", people=("Marcus Hale",))
    index.upsert_many([again, again])
    assert index.count() == 3
    assert index.get("id1").title == "Bridge vote delayed again"  # type: ignore[union-attr]
    assert ids(index, entity="Elena Vasquez") == ["id2"], "old entity rows are gone"
    assert ids(index, text="debate") == [], "old text is gone"


def test_delete_and_pagination(index: SqliteIndex) -> None:
    assert [h.id for h in index.search(SearchQuery(limit=1, offset=1)).hits] == ["id2"]
    assert index.delete("id3") and not index.delete("id3")
    assert index.count() == 2 and index.health().ok


@pytest.mark.parametrize(
    "text",
    [
        '"',
        "(((",
        "AND OR NOT",
        "NEAR(",
        "bridge*",
        "*",
        "'; DROP TABLE articles; --",
        "a:b",
        "^bridge",
        "bridge + vote",
        "\x00",
        "x" * 3000,
        '"bridge" "',
        "title:bridge",
    ],
)
def test_hostile_queries_never_error(index: SqliteIndex, text: str) -> None:
    result = index.search(SearchQuery(text=text))
    assert result.total >= 0 and index.count() == 3


def test_reindex_rebuilds_every_table(index: SqliteIndex) -> None:
    before = index.search(SearchQuery(text="bridge"))
    assert index.reindex() == ("articles", "articles", 3)
    after = index.search(SearchQuery(text="bridge"))
    assert after.total == before.total and after.facets == before.facets
    assert ids(index, speaker="Marcus Hale") == ["id1"]


def test_dates_facet_and_language(index: SqliteIndex) -> None:
    facets = index.search(SearchQuery()).facets
    assert [(v.value, v.count) for v in facets.dates] == [
        ("2026-10-01", 1),
        ("2026-10-05", 1),
        ("2026-10-09", 1),
    ]
    assert index.search(SearchQuery(language="de")).total == 0
