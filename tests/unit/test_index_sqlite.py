"""The SQLite backend with synthetic articles: upserts, filters, facets, hostile queries."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.index import TARGET_LABELS, SearchQuery, target_matches
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
        ({"speaker": "marcus hale", "stance": "against"}, ["id1"]),  # the holder, any case
        ({"entity": "vasquez", "type": "PERSON"}, ["id2", "id1"]),
        ({"entity": "vasquez", "type": "ORG"}, []),
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


def test_facets_above_the_sample_size_count_the_first_matches(
    index: SqliteIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not index.search(SearchQuery()).facets.sampled
    monkeypatch.setattr("pipeline.index.sqlite_facets.FACET_SAMPLE", 2)
    result = index.search(SearchQuery(limit=1))
    facets = result.facets
    assert facets.sampled and result.total == 3
    # newest first: id3 (Priya Raman, no stance) and id2 (Elena Vasquez, favor)
    assert {(v.value, v.count) for v in facets.entities["PERSON"]} == {
        ("Priya Raman", 1),
        ("Elena Vasquez", 1),
    }
    assert [(v.value, v.count) for v in facets.stances] == [("favor", 1)]
    assert [(v.value, v.stance, v.count) for v in facets.targets] == [("the bridge", "favor", 1)]
    # sources and days stay exact: they are counted over every match
    assert [(v.value, v.count) for v in facets.sources] == [("a.example", 2), ("b.example", 1)]
    assert len(facets.dates) == 3
    # by relevance, the sample is the best match
    monkeypatch.setattr("pipeline.index.sqlite_facets.FACET_SAMPLE", 1)
    ranked = index.search(SearchQuery(text="bridge"))
    best = ranked.hits[0]
    assert ranked.facets.sampled and ranked.total == 2
    assert sorted(v.value for v in ranked.facets.entities["PERSON"]) == sorted(
        e.name for e in best.entities if e.type == "PERSON"
    )


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


# stance targets ------------------------------------------------------------------------

# (holder, target, target_type, stance) per story: issues and entities as targets, the
# same issue in other cases and accents, a longer issue containing it, a neutral stance,
# a word that is only part of a target's word, and LIKE's own wildcards.
TARGETED: dict[int, list[tuple[str, str, str, str]]] = {
    1: [
        ("Marcus Hale", "ceasefire proposal", "ISSUE", "against"),
        ("Marcus Hale", "Elena Vasquez", "PERSON", "favor"),
    ],
    2: [("Elena Vasquez", "Ceasefire Proposal", "ISSUE", "favor")],
    3: [("Priya Raman", "new ceasefire proposal", "ISSUE", "against")],
    4: [("Priya Raman", "ceasefire proposal", "ISSUE", "neutral")],
    5: [("Marcus Hale", "fire code", "ISSUE", "against"), ("Lena Berg", "Zürich plan", "ISSUE", "favor")],
    6: [("Lena Berg", "50% rent cap", "ISSUE", "favor"), ("Marcus Hale", "Elena Vasquez", "PERSON", "against")],
}  # fmt: skip


def targeted(n: int) -> Article:
    base = article(n, f"Story {n}", f"Story {n} reports who stands where on what.", day=n)
    stances = [
        Stance(
            holder=h,
            target=t,
            target_type=kind,
            stance=label,  # type: ignore[arg-type]
            confidence=0.8,
            evidence=f"{h} on {t}.",
        )
        for h, t, kind, label in TARGETED[n]
    ]
    return base.model_copy(update={"stances": stances})


@pytest.fixture
def issues(tmp_path: Path) -> SqliteIndex:
    idx = SqliteIndex(tmp_path / "t.db")
    idx.upsert_many([targeted(n) for n in TARGETED])
    return idx


def expected_ids(labels: tuple[str, ...], target: str, holder: str | None = None) -> set[str]:
    """The stories the reference rule (``target_matches``) picks, one stance at a time."""
    return {
        f"id{n}"
        for n, stances in TARGETED.items()
        for h, t, _, label in stances
        if label in labels
        and target_matches(t, target)
        and (holder is None or h.casefold() == holder.casefold())
    }


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ({"target": "ceasefire proposal"}, {"id1", "id2", "id3"}),  # any case; neutral not
        ({"target": "CEASEFIRE"}, {"id1", "id2", "id3"}),  # whole words inside the target
        ({"target": "proposal"}, {"id1", "id2", "id3"}),
        ({"target": "new ceasefire proposal"}, {"id3"}),
        ({"target": "fire"}, {"id5"}),  # "fire code", not "ceasefire"
        ({"target": "cease"}, set()),
        ({"target": "zurich"}, {"id5"}),  # accents folded
        ({"target": "50% rent"}, {"id6"}),  # LIKE's % is literal
        ({"target": "% rent"}, set()),
        ({"target": "ceasefire", "stance": "against"}, {"id1", "id3"}),
        ({"target": "ceasefire", "stance": "neutral"}, {"id4"}),
        # holder, label and target: one condition on one stance
        ({"target": "Elena Vasquez", "speaker": "marcus hale", "stance": "favor"}, {"id1"}),
        ({"target": "ceasefire", "speaker": "Marcus Hale", "stance": "favor"}, set()),
        ({"target": "vasquez", "speaker": "Marcus Hale"}, {"id1", "id6"}),
        ({"target": "  "}, {f"id{n}" for n in TARGETED}),  # no words: no filter
    ],
)
def test_target_filter(issues: SqliteIndex, query: dict[str, str], want: set[str]) -> None:
    assert set(ids(issues, **query, limit=100)) == want
    if query["target"].strip():
        labels = (query["stance"],) if "stance" in query else TARGET_LABELS
        assert want == expected_ids(labels, query["target"], query.get("speaker"))


def test_targets_facet(issues: SqliteIndex) -> None:
    targets = issues.search(SearchQuery()).facets.targets
    assert [(v.value, v.stance, v.type, v.count) for v in targets] == [
        ("Elena Vasquez", "against", "PERSON", 1),  # 2 stories; ties by name
        ("Elena Vasquez", "favor", "PERSON", 1),
        ("50% rent cap", "favor", "ISSUE", 1),
        ("Ceasefire Proposal", "favor", "ISSUE", 1),  # targets as written, not folded
        ("Zürich plan", "favor", "ISSUE", 1),
        ("ceasefire proposal", "against", "ISSUE", 1),  # its neutral stance not counted
        ("fire code", "against", "ISSUE", 1),
        ("new ceasefire proposal", "against", "ISSUE", 1),
    ]
    narrowed = issues.search(SearchQuery(target="ceasefire", stance="against")).facets.targets
    # the matching stories' every stance: story 1 also favors Elena Vasquez
    assert {(v.value, v.stance) for v in narrowed} == {
        ("ceasefire proposal", "against"),
        ("new ceasefire proposal", "against"),
        ("Elena Vasquez", "favor"),
    }


def test_an_old_database_gets_target_types(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SqliteIndex(path).close()
    # the layout and documents of before: no target_type column, stances without it
    old = targeted(6).model_dump(mode="json")
    for s in old["stances"]:
        del s["target_type"], s["start"], s["end"]
    with sqlite3.connect(path) as c:
        c.execute("DROP TABLE article_stances")
        c.execute(
            "CREATE TABLE article_stances (article_id TEXT NOT NULL REFERENCES articles(id)"
            " ON DELETE CASCADE, holder TEXT NOT NULL, target TEXT NOT NULL, stance TEXT NOT NULL)"
        )
        c.execute(
            "INSERT INTO articles(id, doc, title, url, source) VALUES (?,?,?,?,?)",
            ("id6", json.dumps(old), old["title"], old["url"], old["source"]),
        )
    index = SqliteIndex(path)
    assert ids(index, target="rent cap") == ["id6"], "stance rows rebuilt from the documents"
    facet = index.search(SearchQuery()).facets.targets
    assert {(v.value, v.type) for v in facet} == {
        ("50% rent cap", "ISSUE"),
        ("Elena Vasquez", "ISSUE"),
    }
    index.close()


def test_a_database_from_before_types_on_the_keys_gets_them(
    index: SqliteIndex, tmp_path: Path
) -> None:
    want = ids(index, type="PERSON")
    index.close()
    with sqlite3.connect(tmp_path / "i.db") as c:
        for name in ("by_date", "by_source", "by_day"):
            c.execute(f"DROP INDEX article_keys_{name}")
        c.execute("ALTER TABLE article_keys DROP COLUMN types")
    reopened = SqliteIndex(tmp_path / "i.db")
    assert want and ids(reopened, type="person") == want
    assert ids(reopened, type="ORG") == []
    assert [ids(reopened, type=t) for t in ("PERSON,ORG", "PERSON,", "P,ERSON")] == [[], [], []]
    reopened.upsert_many([article(9, "Quiet day", "Nothing named.", day=9)])
    assert ids(reopened, type="PERSON") == want, "a story naming no one has no types"
    reopened.close()


def test_a_database_from_before_the_keys_table_gets_it(index: SqliteIndex, tmp_path: Path) -> None:
    want = index.search(SearchQuery(text="bridge", source="a.example"))
    index.close()
    with sqlite3.connect(tmp_path / "i.db") as c:
        c.execute("DROP TABLE article_keys")
        c.execute("CREATE INDEX articles_source ON articles (source)")  # as before
    reopened = SqliteIndex(tmp_path / "i.db")
    got = reopened.search(SearchQuery(text="bridge", source="a.example"))
    assert got.total == want.total == 2 and got == want
    assert ids(reopened, since=datetime(2026, 10, 4, tzinfo=UTC)) == ["id3", "id2"]
    assert ids(reopened, type="PERSON", source="b.example") == ["id3"]
    with sqlite3.connect(tmp_path / "i.db") as c:
        names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "articles_source" not in names and "article_keys_by_source" in names
    reopened.close()
