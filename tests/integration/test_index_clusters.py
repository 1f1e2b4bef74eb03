"""The cluster side of the search contract, every backend alike (the backends of
``test_index_contract``): collapsed and expanded results, cluster counts, paging without
a cluster twice or skipped, facets by clusters or stories, stories without a cluster id,
and a cluster's stories."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.index import Facets, Index, SearchQuery
from pipeline.index.dsl import to_document
from pipeline.index.engine import EngineIndex
from pipeline.models import Article
from tests.clustered import cluster_key, expected_counts, stories, story
from tests.integration.test_index_contract import backend  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration

# every story but one (old-4) says "harbour"
MATCHING = [a for a in stories() if "harbour" in (a.title + a.body).lower()]


@pytest.fixture
def clustered(backend: Index) -> Index:  # noqa: F811
    assert backend.upsert_many(stories()) == len(stories())
    return backend


def search(index: Index, **kw: Any) -> Any:
    return index.search(SearchQuery(**{"limit": 100, **kw}))


@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_collapsed_shows_each_cluster_once_at_its_best_story(clustered: Index, sort: str) -> None:
    expanded = search(clustered, text="harbour", sort=sort, collapse=False)
    collapsed = search(clustered, text="harbour", sort=sort)
    assert expanded.total == expanded.stories == len(MATCHING)
    assert all(h.cluster is None for h in expanded.hits)
    by_id = {a.id: a for a in stories()}
    # the best-ranked story of each cluster, in the expanded order
    best: dict[str, str] = {}
    for h in expanded.hits:
        best.setdefault(cluster_key(by_id[h.id]), h.id)
    assert [h.id for h in collapsed.hits] == list(best.values())
    assert collapsed.total == len(best) == len({cluster_key(a) for a in MATCHING})
    assert collapsed.stories == len(MATCHING)
    for hit in collapsed.hits:
        assert hit.cluster is not None
        members = [a for a in MATCHING if cluster_key(a) == hit.cluster.id]
        assert hit.cluster.id == cluster_key(by_id[hit.id])
        assert hit.cluster.size == len(members) and hit.cluster.more == len(members) - 1
        others = sorted({a.source for a in members if a.id != hit.id})
        assert sorted(hit.cluster.sources) == others


def test_the_wire_story_reads_and_two_more(clustered: Index) -> None:
    hit = next(h for h in search(clustered, text="toll", sort="date").hits)
    assert hit.id == "bridge-3", "newest first: the cluster shows its newest story"
    assert hit.cluster is not None and hit.cluster.id == "bridge-1"
    assert (hit.cluster.size, hit.cluster.more) == (3, 2)
    assert hit.cluster.sources == ["coast.example", "wire.example"]


def test_stories_without_a_cluster_are_their_own(clustered: Index) -> None:
    got = search(clustered, text="harbour", sort="date")
    legacy = {h.id for h in got.hits} & {"old-1", "old-2", "old-3"}
    assert legacy == {"old-1", "old-2", "old-3"}, "not lumped into one"
    stored = clustered.get("old-1")
    assert stored is not None and stored.cluster_id == "old-1"


@pytest.mark.parametrize(
    ("text", "sort"), [("harbour", "relevance"), ("harbour", "date"), ("", "date")]
)
def test_cursor_pages_clusters_once_none_skipped(clustered: Index, text: str, sort: str) -> None:
    whole = search(clustered, text=text, sort=sort, facets=False)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = clustered.search(
            SearchQuery(text=text, sort=sort, limit=2, cursor=cursor, facets=False)  # type: ignore[arg-type]
        )
        # a date cursor's post_filter leaves the counts alone
        assert (page.total, page.stories) == (whole.total, whole.stories)
        seen += [h.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [h.id for h in whole.hits]
    assert len({cluster_key(a) for a in stories() if a.id in seen}) == len(seen) == whole.total


def test_offset_pages_clusters(clustered: Index) -> None:
    whole = [h.id for h in search(clustered, sort="date", facets=False).hits]
    pages = [
        h.id
        for offset in range(0, len(whole), 3)
        for h in clustered.search(SearchQuery(sort="date", limit=3, offset=offset)).hits
    ]
    assert pages == whole


def _counts(facets: Facets) -> dict[str, dict[str, int]]:
    return {
        "entities": {
            f"{etype}:{v.value}": v.count for etype, vs in facets.entities.items() for v in vs
        },
        "sources": {v.value: v.count for v in facets.sources},
        "stances": {v.value: v.count for v in facets.stances},
        "dates": {v.value: v.count for v in facets.dates},
    }


@pytest.mark.parametrize(
    ("collapse", "facet_count", "by_clusters"),
    [
        (True, None, True),
        (True, "stories", False),
        (False, None, False),
        (False, "clusters", True),
    ],
)
def test_facets_count_clusters_or_stories(
    clustered: Index, collapse: bool, facet_count: str | None, by_clusters: bool
) -> None:
    got = search(clustered, text="harbour", collapse=collapse, facet_count=facet_count)
    want = expected_counts(MATCHING, clusters=by_clusters)
    assert _counts(got.facets) == {k: want.get(k, {}) for k in _counts(got.facets)}
    assert got.facets.targets[0].value == "toll plan"
    assert got.facets.targets[0].count == (1 if by_clusters else 3)


@pytest.mark.parametrize("facet_count", [None, "stories"])
def test_many_matches_sample_the_newest_for_entities_and_stances(
    clustered: Index, monkeypatch: pytest.MonkeyPatch, facet_count: str | None
) -> None:
    # FACET_SAMPLE made small, as the backends read it: by date, entities and stances
    # count the newest 8 of the 11 matches (not the bridge's first two, nor the undated);
    # sources and days count every match
    for module in ("pipeline.index.sqlite_facets", "pipeline.index.dsl_facets"):
        monkeypatch.setattr(f"{module}.FACET_SAMPLE", 8)
    got = search(clustered, text="harbour", sort="date", facet_count=facet_count)
    by_clusters = facet_count is None
    dated = sorted((a for a in MATCHING if a.published_at), key=lambda a: a.published_at or 0)
    sample = expected_counts(dated[::-1][:8], clusters=by_clusters)
    every = expected_counts(MATCHING, clusters=by_clusters)
    counts = _counts(got.facets)
    assert got.facets.sampled and got.stories == len(MATCHING) == 11
    assert counts["entities"] == sample["entities"] != every["entities"] or by_clusters
    assert (counts["entities"], counts["stances"]) == (sample["entities"], sample["stances"])
    assert (counts["sources"], counts["dates"]) == (every["sources"], every["dates"])
    monkeypatch.undo()
    assert not search(clustered, text="harbour", sort="date").facets.sampled, "11 of 2,000"


def test_a_clusters_stories_earliest_first(clustered: Index) -> None:
    assert [a.id for a in clustered.cluster("bridge-1")] == ["bridge-1", "bridge-2", "bridge-3"]
    assert [a.id for a in clustered.cluster("gone-1")] == ["gone-2", "gone-3"]
    assert [a.id for a in clustered.cluster("old-3")] == ["old-3"]
    assert clustered.cluster("no-such-cluster") == []
    copy = clustered.cluster("bridge-1")[1]
    assert copy.duplicate_of == "bridge-1", "the stored contract comes back whole"


def test_a_story_moved_to_another_cluster(clustered: Index) -> None:
    moved: Article = stories()[2].model_copy(update={"cluster_id": "port-1"})
    clustered.upsert_many([moved])
    assert [a.id for a in clustered.cluster("port-1")] == ["bridge-3", "port-1", "port-2"]
    hit = next(h for h in search(clustered, text="toll").hits if h.id == "bridge-3")
    assert hit.cluster is not None and hit.cluster.id == "port-1"


def test_news_arriving_while_paging_by_date_repeats_nothing(clustered: Index) -> None:
    """Pages by date hold their place: stories indexed between two pages, newer than
    the cursor, neither repeat a cluster nor shift the next page."""
    whole = [h.id for h in search(clustered, sort="date", facets=False).hits]
    first = clustered.search(SearchQuery(sort="date", limit=3, facets=False))
    newest = first.hits[0].published_at
    assert newest is not None
    clustered.upsert_many(
        [
            story("fresh-1", "wire.example", None, cluster=None).model_copy(
                update={"published_at": newest.replace(hour=23)}
            )
        ]
    )
    seen = [h.id for h in first.hits]
    cursor = first.next_cursor
    while cursor:
        page = clustered.search(SearchQuery(sort="date", limit=3, cursor=cursor, facets=False))
        seen += [h.id for h in page.hits]
        cursor = page.next_cursor
    assert seen == whole


def test_a_cluster_filling_the_first_matches(backend: Index) -> None:  # noqa: F811
    """A story run by forty outlets, newest of all: the next pages go past its copies."""
    wire = [
        story(f"w{n:02d}", f"o{n}.example", 20, cluster="w00", title="Harbour wire story")
        for n in range(40)
    ]
    wire = [
        w.model_copy(update={"published_at": w.published_at.replace(minute=n)})
        for n, w in enumerate(wire)
    ]  # type: ignore[union-attr]
    backend.upsert_many([*wire, *stories()])
    whole = [h.id for h in search(backend, sort="date", facets=False).hits]
    assert whole[0] == "w39" and len(whole) == len({cluster_key(a) for a in stories()}) + 1
    seen: list[str] = []
    cursor = None
    while True:
        page = backend.search(SearchQuery(sort="date", limit=2, cursor=cursor, facets=False))
        seen += [h.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == whole
    top = search(backend, sort="date").hits[0]
    assert top.cluster is not None and (top.cluster.size, len(top.cluster.sources)) == (40, 10)


def test_reindex_gives_engine_stories_from_before_clusters_their_own(
    backend: Index,  # noqa: F811
) -> None:
    """Documents written before clusters have no cluster id, and an engine collapses all
    of those into one group: ``reindex`` gives each its own id as cluster."""
    if not isinstance(backend, EngineIndex):
        pytest.skip("the engines' documents; SQLite keys its own column (unit tests)")
    live = backend.ensure()
    ops: list[dict[str, Any]] = []
    for a in stories()[7:10]:  # old-1..old-3, all three with "harbour"
        doc = to_document(a)
        del doc["cluster_id"]
        ops += [{"index": {"_index": live, "_id": a.id}}, doc]
    backend.client.bulk(ops)
    backend.refresh()
    lumped = search(backend, text="harbour")
    assert (len(lumped.hits), lumped.total) == (1, 0), "one group, of no cluster"
    backend.reindex()
    backend.refresh()
    own = search(backend, text="harbour")
    assert (len(own.hits), own.total) == (3, 3)
    assert [a.id for a in backend.cluster("old-2")] == ["old-2"]
