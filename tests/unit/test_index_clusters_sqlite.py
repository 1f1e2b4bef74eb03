"""SQLite's side of clusters: collapsed pages against a reference over random clusters
(big clusters whose copies fill the first matches, cursors in the middle of them), the
cluster column kept in step with the stored document, older databases migrated, and
facets by clusters when sampled."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.index import SearchQuery
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, Entity
from tests.clustered import cluster_key, stories


def _random_corpus(seed: int, n: int = 150) -> list[Article]:
    """``n`` stories in random clusters: a few big ones (wire stories run everywhere),
    many small ones, some without a cluster id; random dates (some equal, some none)
    and random counts of the searched word, so ranks tie too."""
    rng = random.Random(seed)
    big = [f"s{i}" for i in range(3)]
    out = []
    for i in range(n):
        sid = f"s{i}"
        roll = rng.random()
        if i < 3:
            cluster = sid
        elif roll < 0.5:
            cluster = rng.choice(big)
        elif roll < 0.8:
            cluster = f"s{rng.randrange(3, i)}" if i > 3 else sid
        else:
            cluster = None
        day = None if rng.random() < 0.1 else rng.randrange(1, 8)
        words = " ".join(["tide"] * rng.randint(1, 3) + ["filler"] * rng.randint(0, 20))
        out.append(
            Article(
                id=sid,
                url=f"https://o{i % 5}.example/{sid}",
                canonical_url=f"https://o{i % 5}.example/{sid}",
                source=f"o{i % 5}.example",
                title=f"Story {i}",
                body=words,
                published_at=datetime(2026, 10, day, tzinfo=UTC) if day else None,
                entities=[Entity(name="Ada Lund", type="PERSON", mentions=1, salience=0.5)],
                cluster_id=cluster,
            )
        )
    # a cluster id names a story's cluster: a story pointing at a story that is itself
    # in another cluster joins that one (what clustering would have written)
    by_id = {a.id: a for a in out}
    return [
        a.model_copy(update={"cluster_id": by_id[a.cluster_id].cluster_id or a.cluster_id})
        if a.cluster_id and a.cluster_id != a.id
        else a
        for a in out
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("text", "sort"), [("tide", "relevance"), ("", "date"), ("tide", "date")])
@pytest.mark.parametrize("limit", [1, 4, 7])
def test_collapsed_pages_match_a_reference(
    tmp_path: Path, seed: int, text: str, sort: str, limit: int
) -> None:
    corpus = _random_corpus(seed)
    index = SqliteIndex(tmp_path / "r.db")
    index.upsert_many(corpus)
    expanded = index.search(SearchQuery(text=text, sort=sort, limit=1000, collapse=False))  # type: ignore[arg-type]
    key = {a.id: cluster_key(a) for a in corpus}
    want: dict[str, str] = {}
    for h in expanded.hits:  # each cluster at its best story, in the expanded order
        want.setdefault(key[h.id], h.id)
    seen: list[str] = []
    cursor = None
    while True:
        page = index.search(
            SearchQuery(text=text, sort=sort, limit=limit, cursor=cursor, facets=False)  # type: ignore[arg-type]
        )
        assert page.total == len(want)
        seen += [h.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(want.values())
    by_offset = [
        h.id
        for offset in range(0, len(want), limit)
        for h in index.search(
            SearchQuery(text=text, sort=sort, limit=limit, offset=offset, facets=False)  # type: ignore[arg-type]
        ).hits
    ]
    assert by_offset == seen
    index.close()


def test_the_cluster_column_follows_the_document(tmp_path: Path) -> None:
    """A cluster merge may rewrite stored documents in place: the search follows them."""
    index = SqliteIndex(tmp_path / "t.db")
    index.upsert_many(stories())
    with index._tx() as c:
        c.execute(
            "UPDATE articles SET doc = json_set(doc, '$.cluster_id', 'bridge-1')"
            " WHERE id IN ('port-1', 'port-2')"
        )
    assert [a.id for a in index.cluster("bridge-1")][-2:] == ["port-1", "port-2"]
    assert index.cluster("port-1") == []
    got = index.search(SearchQuery(text="harbour", limit=50))
    bridge = next(h for h in got.hits if h.cluster and h.cluster.id == "bridge-1")
    assert bridge.cluster is not None and bridge.cluster.size == 5
    index.close()


def test_an_older_database_gets_its_clusters(tmp_path: Path) -> None:
    """A database from before clusters: the column is added and filled from the stored
    documents, a missing cluster id is the story's own."""
    path = tmp_path / "old.db"
    index = SqliteIndex(path)
    index.upsert_many(stories())
    index.close()
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP TRIGGER article_keys_cluster; DROP INDEX article_keys_cluster;"
        " DROP INDEX article_keys_by_date; DROP INDEX article_keys_by_source;"
        " DROP INDEX article_keys_by_day; DROP INDEX article_keys_copies;"
        " ALTER TABLE article_keys DROP COLUMN cluster;"
        # as an older version stored them: without a cluster id
        " UPDATE articles SET doc = json_remove(doc, '$.cluster_id') WHERE id LIKE 'old-%';"
    )
    conn.close()
    index = SqliteIndex(path)
    assert [a.id for a in index.cluster("bridge-1")] == ["bridge-1", "bridge-2", "bridge-3"]
    assert [a.id for a in index.cluster("old-2")] == ["old-2"]
    got = index.search(SearchQuery(text="harbour", limit=50))
    assert got.total == len({cluster_key(a) for a in stories() if a.id != "old-4"})
    old = index.get("old-2")
    assert old is not None and old.cluster_id is None, "stored as it was"
    index.reindex()
    old = index.get("old-2")
    assert old is not None and old.cluster_id == "old-2", "a reindex gives it its own"
    index.close()


def _wire_copy(
    id_: str,
    outlet: int,
    published: datetime,
    cluster: str | None,
    entities: tuple[Entity, ...] = (),
) -> Article:
    """One outlet's run of the same wire story ("The tide turned.")."""
    path = id_[0]
    return Article(
        id=id_,
        url=f"https://o{outlet}.example/{path}",
        canonical_url=f"https://o{outlet}.example/{path}",
        source=f"o{outlet}.example",
        title="Wire story",
        body="The tide turned.",
        published_at=published,
        entities=list(entities),
        cluster_id=cluster,
    )


def test_sampled_facets_count_clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipeline.index.sqlite_facets.FACET_SAMPLE", 4)
    index = SqliteIndex(tmp_path / "s.db")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    person = (Entity(name="Ada Lund", type="PERSON", mentions=1, salience=0.5),)
    index.upsert_many(
        [
            _wire_copy(f"w{i}", i, start + timedelta(hours=i), "w0", entities=person)
            for i in range(10)
        ]
    )
    got = index.search(SearchQuery(text="tide"))
    assert got.facets.sampled and (got.total, got.stories) == (1, 10)
    assert got.facets.entities["PERSON"][0].count == 1
    assert [v.count for v in got.facets.sources] == [1] * 10, "each outlet ran it once"
    stories_ = index.search(SearchQuery(text="tide", facet_count="stories"))
    assert stories_.facets.entities["PERSON"][0].count == 4, "the sample's stories"
    index.close()


def test_a_cluster_filling_the_first_matches_is_read_past(tmp_path: Path) -> None:
    """A story run by a hundred outlets: its copies fill the first matches a page reads
    (a few times the page), so the page reads further for the next clusters."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    corpus = [
        _wire_copy(
            f"c{i:03d}", i, start + timedelta(days=10, minutes=i), "c000" if i < 100 else None
        )
        for i in range(103)
    ]
    index = SqliteIndex(tmp_path / "w.db")
    index.upsert_many(corpus)
    first = index.search(SearchQuery(sort="date", limit=2, facets=False))
    assert [h.id for h in first.hits] == ["c102", "c101"]
    second = index.search(SearchQuery(sort="date", limit=2, cursor=first.next_cursor))
    assert [h.id for h in second.hits] == ["c100", "c099"]
    assert second.hits[1].cluster is not None and second.hits[1].cluster.more == 99
    third = index.search(SearchQuery(sort="date", limit=2, cursor=second.next_cursor))
    assert third.hits == [] and third.next_cursor is None
    by_offset = index.search(SearchQuery(sort="date", limit=1, offset=3, facets=False))
    assert [h.id for h in by_offset.hits] == ["c099"]
    index.close()
