"""One contract, every backend: the same documents give the same hits (ties aside)
and the same facet counts for the same queries. sqlite always; opensearch against a
real node (CI starts one); elasticsearch when NEWSWIRE_TEST_ELASTICSEARCH_URL is set
(the compose stack's), and its adapter's calls also against the OpenSearch node
through an HTTP proxy that only translates media types (see es_compat_proxy.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.analyze import analyze_batch, to_article
from pipeline.demo.server import canonical_url, corpus, render_page
from pipeline.extract import extract_html
from pipeline.index import TARGET_LABELS, Index, SearchQuery, SearchResult, target_matches
from pipeline.index.base import own_cluster
from pipeline.index.engine import EngineIndex
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, Stance
from pipeline.query import parse, positive
from tests.integration.es_compat_proxy import CompatProxy

pytestmark = pytest.mark.integration

BACKENDS = ["sqlite", "opensearch", "elasticsearch-on-opensearch", "elasticsearch"]


# Stories written by us whose stances hold issue targets, as the stance extraction gives
# them: one issue in two cases and with accents, a longer issue holding it, a neutral
# stance, a word that is only part of a target's word, the engines' and LIKE's
# wildcards. (holder, target, target_type, stance) per story.
STANCE_STORIES: list[list[tuple[str, str, str, str]]] = [
    [("Marcus Hale", "ceasefire proposal", "ISSUE", "against"), ("Marcus Hale", "Elena Vasquez", "PERSON", "favor")],
    [("Elena Vasquez", "Ceasefire Proposal", "ISSUE", "favor")],
    [("Priya Raman", "new ceasefire proposal", "ISSUE", "against")],
    [("Priya Raman", "ceasefire proposal", "ISSUE", "neutral")],
    [("Marcus Hale", "fire code", "ISSUE", "against"), ("Lena Berg", "Zürich plan", "ISSUE", "favor")],
    [("Lena Berg", "50% rent cap", "ISSUE", "favor"), ("Lena Berg", "rent* freeze", "ISSUE", "against")],
]  # fmt: skip


def stance_story(n: int, stances: list[tuple[str, str, str, str]]) -> Article:
    body = " ".join(f"{h} spoke on the {t} at the council." for h, t, _, _ in stances)
    return Article(
        id=f"stance-story-{n}",
        url=f"https://stances.example/{n}",
        canonical_url=f"https://stances.example/{n}",
        source="stances.example",
        title=f"Where they stand, part {n}",
        body=body,
        published_at=datetime(2026, 11, 1 + n, tzinfo=UTC),
        stances=[
            Stance(
                holder=h,
                target=t,
                target_type=kind,
                stance=label,  # type: ignore[arg-type]
                confidence=0.8,
                evidence=f"{h} spoke on the {t} at the council.",
            )
            for h, t, kind, label in stances
        ],
    )


@pytest.fixture(scope="module")
def articles(nlp) -> list[Article]:  # type: ignore[no-untyped-def]
    """The demo corpus, analysed once (realistic entities, quotes and stances), and
    the stance stories above."""
    feeds, demo = corpus()
    by_slug = {f.slug: f for f in feeds}
    pages = [(a, extract_html(render_page(by_slug[a.feed], a))) for a in demo]
    extracted = [x.model_copy(update={"published_at": a.date}) for a, x in pages if x is not None]
    analyses = analyze_batch(nlp, extracted)
    return [
        *(
            to_article(x, an, url=canonical_url(by_slug[a.feed], a))
            for (a, _), x, an in zip(pages, extracted, analyses, strict=True)
        ),
        *(stance_story(n, stances) for n, stances in enumerate(STANCE_STORIES)),
    ]


def _engine(kind: str, url: str) -> EngineIndex:
    alias = f"contract-{uuid.uuid4().hex[:8]}"
    if kind == "opensearch":
        from pipeline.index.opensearch import OpenSearchClient

        return EngineIndex(OpenSearchClient(url), alias=alias, refresh=True, batch_size=7)
    from pipeline.index.elasticsearch import ElasticsearchClient

    return EngineIndex(ElasticsearchClient(url), alias=alias, refresh=True, batch_size=7)


def _drop(index: EngineIndex) -> None:
    for name in index.client.indices_for(index.alias):
        index.client.delete_index(name)
    index.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Index]:
    kind = request.param
    if kind == "sqlite":
        index = SqliteIndex(tmp_path / "contract.db")
        yield index
        index.close()
        return
    if kind == "elasticsearch":
        url = os.environ.get("NEWSWIRE_TEST_ELASTICSEARCH_URL")
        if not url:
            pytest.skip(
                "set NEWSWIRE_TEST_ELASTICSEARCH_URL to run the contract against Elasticsearch"
            )
        engine = _engine("elasticsearch", url)
    elif kind == "opensearch":
        engine = _engine("opensearch", request.getfixturevalue("opensearch_url"))
    else:
        proxy = CompatProxy(request.getfixturevalue("opensearch_url"))
        request.addfinalizer(proxy.close)
        engine = _engine("elasticsearch", proxy.url)
    yield engine
    _drop(engine)


@pytest.fixture
def loaded(backend: Index, articles: list[Article]) -> Index:
    assert backend.upsert_many(articles) == len(articles)
    return backend


@pytest.fixture(scope="module")
def reference(
    articles: list[Article], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqliteIndex]:
    index = SqliteIndex(tmp_path_factory.mktemp("ref") / "ref.db")
    index.upsert_many(articles)
    yield index
    index.close()


QUERIES = {
    "word": SearchQuery(text="bridge"),
    "phrase": SearchQuery(text='"carbon tax"'),
    "or": SearchQuery(text="tariff OR fares"),
    "not": SearchQuery(text="bridge -delayed"),
    "only-not": SearchQuery(text="-bridge"),
    "prefix": SearchQuery(text="subsid*"),
    "two-words": SearchQuery(text="wind farm"),
    "entity": SearchQuery(entity="Lars Eriksen"),
    "entity-alias": SearchQuery(entity="eriksen"),
    "type": SearchQuery(type="LAW"),
    "entity-and-type": SearchQuery(entity="Elena Vasquez", type="PERSON"),
    "speaker": SearchQuery(speaker="Marcus Hale"),
    "stance": SearchQuery(stance="against"),
    "speaker-stance": SearchQuery(speaker="Daniel Okafor", stance="against"),
    "source": SearchQuery(source="northernledger.example"),
    "language": SearchQuery(language="en", text="court"),
    "dates": SearchQuery(
        since=datetime(2026, 10, 10, tzinfo=UTC), until=datetime(2026, 10, 31, tzinfo=UTC)
    ),
    "everything": SearchQuery(),
    "nothing": SearchQuery(text="zeppelin"),
    "words-and-filters": SearchQuery(text="plan", source="harbortimes.example", stance="favor"),
    "target": SearchQuery(target="ceasefire"),
    "target-any-case": SearchQuery(target="CEASEFIRE PROPOSAL"),
    "target-stance": SearchQuery(target="ceasefire proposal", stance="against"),
    "target-neutral": SearchQuery(target="ceasefire proposal", stance="neutral"),
    "speaker-stance-target": SearchQuery(speaker="marcus hale", stance="favor", target="vasquez"),
    "target-part-of-a-word": SearchQuery(target="fire"),
    "target-accents": SearchQuery(target="zurich plan"),
    "target-wildcards": SearchQuery(target="rent*"),
    "target-percent": SearchQuery(target="50% rent"),
    "target-and-words": SearchQuery(text="council", target="proposal", sort="date"),
}


def _all(index: Index, q: SearchQuery) -> SearchResult:
    return index.search(SearchQuery(**{**q.__dict__, "limit": 100}))


@pytest.mark.parametrize("name", list(QUERIES))
def test_same_hits_and_facets(loaded: Index, reference: SqliteIndex, name: str) -> None:
    q = QUERIES[name]
    got, want = _all(loaded, q), _all(reference, q)
    assert got.total == want.total, name
    assert {h.id for h in got.hits} == {h.id for h in want.hits}
    assert got.facets.sources == want.facets.sources
    assert sorted(got.facets.stances, key=lambda v: v.value) == sorted(
        want.facets.stances, key=lambda v: v.value
    )
    assert got.facets.dates == want.facets.dates
    assert got.facets.targets == want.facets.targets
    assert got.facets.entities.keys() == want.facets.entities.keys()
    for etype, values in want.facets.entities.items():
        # ties at the cut-off may pick different names; counts line up
        assert [v.count for v in got.facets.entities[etype]] == [v.count for v in values], etype
    if positive(parse(q.text)) and want.total:
        assert all("<mark>" in h.snippet for h in got.hits if h.snippet), "highlighted"
    if not q.text or q.sort == "date":
        assert [h.id for h in got.hits] == [h.id for h in want.hits], "date order is exact"


@pytest.mark.parametrize(
    ("target", "stance", "speaker"),
    [
        ("ceasefire", None, None),
        ("Proposal", "against", None),
        ("cease", None, None),
        ("fire", None, None),
        ("ZURICH", None, None),
        ("rent* freeze", None, None),
        ("rent", "against", "Lena Berg"),
        ("Elena Vasquez", None, "Marcus Hale"),
    ],
)
def test_target_filter_follows_the_rule(
    loaded: Index, articles: list[Article], target: str, stance: str | None, speaker: str | None
) -> None:
    """Every backend picks the stories the reference rule picks, one stance at a time:
    the target filter's folded words as a run of whole words of the stance's target."""
    labels = (stance,) if stance else TARGET_LABELS
    want = {
        a.id
        for a in articles
        for s in a.stances
        if s.stance in labels
        and target_matches(s.target, target)
        and (speaker is None or s.holder.casefold() == speaker.casefold())
    }
    got = _all(loaded, SearchQuery(target=target, stance=stance, speaker=speaker))
    assert {h.id for h in got.hits} == want and got.total == len(want)


@pytest.mark.parametrize("text", ["", "plan OR council"])
@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_cursor_pages_through_everything_once(loaded: Index, text: str, sort: str) -> None:
    first = loaded.search(SearchQuery(text=text, sort=sort, limit=100))  # type: ignore[arg-type]
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        page = loaded.search(
            SearchQuery(text=text, sort=sort, limit=4, cursor=cursor, facets=False)
        )  # type: ignore[arg-type]
        seen += [h.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == first.total
    assert seen == [h.id for h in first.hits]


@pytest.mark.parametrize(
    "text",
    [
        '"',
        "(((",
        "AND OR NOT",
        "bridge*",
        "*",
        "'; DROP TABLE articles; --",
        "a:b",
        "title:bridge",
        "x" * 3000,
        "\x00",
        "bridge^3 ~2",
        '{"query": 1}',
        "/regex.*/",
    ],
)
def test_hostile_queries_never_error(loaded: Index, text: str) -> None:
    assert loaded.search(SearchQuery(text=text)).total >= 0


def test_upsert_is_idempotent_and_get_delete(loaded: Index, articles: list[Article]) -> None:
    changed = articles[0].model_copy(update={"title": "A new title entirely"})
    loaded.upsert_many([changed, changed, *articles[1:3]])
    assert loaded.count() == len(articles)
    got = loaded.get(changed.id)
    assert got is not None and got.title == "A new title entirely"
    # a story without a cluster is stored as its own (own_cluster)
    assert got.model_dump() == own_cluster(changed).model_dump(), "the contract round-trips"
    assert loaded.search(SearchQuery(text='"new title entirely"')).total == 1
    assert loaded.delete(changed.id) and not loaded.delete(changed.id)
    assert loaded.get(changed.id) is None and loaded.count() == len(articles) - 1
    assert loaded.health().ok


@pytest.mark.parametrize("prefix", ["lars", "Eriks", "elena v", "mar", "zz", "%", "_"])
def test_entity_autocomplete(loaded: Index, reference: SqliteIndex, prefix: str) -> None:
    got, want = loaded.entity_names(prefix, limit=5), reference.entity_names(prefix, limit=5)
    assert [(n.name, n.count) for n in got] == [(n.name, n.count) for n in want]
    for n in got:
        words = n.name.lower().split()
        assert any(" ".join(words[i:]).startswith(prefix.lower()) for i in range(len(words)))
        assert n.count == loaded.search(SearchQuery(entity=n.name, facets=False)).total
    if prefix in ("lars", "Eriks"):
        assert got[0].name == "Lars Eriksen" and got[0].type == "PERSON"


def test_relabel_cluster_moves_only_that_clusters_stories(backend: Index) -> None:
    """Two clusters merged: the absorbed one's stories carry the survivor's id, on every
    backend; the others keep theirs."""
    stories = [
        Article(
            id=f"merge-{n}",
            url=f"https://merge.example/{n}",
            canonical_url=f"https://merge.example/{n}",
            source="merge.example",
            title=f"Bridge closure, part {n}",
            body="The harbor bridge stays closed while its cables are checked.",
            published_at=datetime(2026, 11, 2, n, tzinfo=UTC),
            duplicate_of="merge-0" if n == 3 else None,
            cluster_id=cluster,
        )
        for n, cluster in enumerate(["merge-0", "merge-1", "merge-1", "merge-1", "other"])
    ]
    backend.upsert_many(stories)  # a story just written is relabelled too
    assert backend.relabel_cluster("merge-1", "merge-0") == 3
    assert backend.relabel_cluster("merge-1", "merge-0") == 0, "nothing left to move"
    backend.refresh()
    got = {a.id: a for a in (backend.get(s.id) for s in stories) if a is not None}
    assert {i: a.cluster_id for i, a in got.items()} == {
        "merge-0": "merge-0",
        "merge-1": "merge-0",
        "merge-2": "merge-0",
        "merge-3": "merge-0",
        "merge-4": "other",
    }
    assert got["merge-3"].duplicate_of == "merge-0" and got["merge-3"].title == stories[3].title
