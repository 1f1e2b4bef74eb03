"""Watch matching is the same on every backend: the percolator on a real OpenSearch
node (and Elasticsearch when NEWSWIRE_TEST_ELASTICSEARCH_URL names one) finds the
same (watch, story) pairs as SQLite's search over the batch, for the table of
queries and filters of the unit tests."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import watches
from pipeline.index import Index
from pipeline.index.engine import EngineIndex, EngineRejected
from pipeline.index.sqlite import SqliteIndex
from pipeline.store.sqlite import SqliteStore
from pipeline.watch_model import Watch, WatchFilters
from pipeline.watches import match_batch, matcher_for, new_watch, remove_watch
from tests.integration.es_compat_proxy import CompatProxy
from tests.unit.test_watches import T0, WATCHES, corpus

pytestmark = pytest.mark.integration


def _engine(kind: str, url: str) -> EngineIndex:
    alias = f"watch-{uuid.uuid4().hex[:8]}"
    if kind == "opensearch":
        from pipeline.index.opensearch import OpenSearchClient

        return EngineIndex(OpenSearchClient(url), alias=alias, refresh=True)
    from pipeline.index.elasticsearch import ElasticsearchClient

    return EngineIndex(ElasticsearchClient(url), alias=alias, refresh=True)


@pytest.fixture(params=["opensearch", "elasticsearch-on-opensearch", "elasticsearch"])
def engine(request: pytest.FixtureRequest) -> Iterator[EngineIndex]:
    if request.param == "elasticsearch-on-opensearch":  # the Elasticsearch client's calls
        proxy = CompatProxy(request.getfixturevalue("opensearch_url"))
        request.addfinalizer(proxy.close)
        index = _engine("elasticsearch", proxy.url)
    elif request.param == "elasticsearch":
        url = os.environ.get("NEWSWIRE_TEST_ELASTICSEARCH_URL")
        if not url:
            pytest.skip("set NEWSWIRE_TEST_ELASTICSEARCH_URL to run against Elasticsearch")
        index = _engine("elasticsearch", url)
    else:
        index = _engine("opensearch", request.getfixturevalue("opensearch_url"))
    yield index
    for name in [*index.client.indices_for(index.alias), f"{index.alias}-watches"]:
        with contextlib.suppress(EngineRejected):  # the watches index may not exist
            index.client.delete_index(name)
    index.close()


def pairs(index: Index, store: SqliteStore) -> set[tuple[str, str]]:
    old, batch = corpus()[:2], corpus()[2:]
    index.upsert_many(old)
    index.upsert_many(batch)
    return {(m.watch_id, m.article_id) for m in match_batch(index, store, batch)}


def watches_in(store: SqliteStore) -> list[Watch]:
    for n, (query, filters) in enumerate(WATCHES):
        # the same ids on both sides, to compare the pairs
        store.add_watch(new_watch(query, filters).model_copy(update={"id": f"w{n}"}))
    return store.watches()


def test_the_percolator_matches_what_sqlite_matches(
    engine: EngineIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watches, "_PERCOLATE_PAGE", 3)  # the matching watches take pages
    sqlite_store = SqliteStore(tmp_path / "s.db")
    engine_store = SqliteStore(tmp_path / "e.db")
    watches_in(sqlite_store)
    watches_in(engine_store)
    expected = pairs(SqliteIndex(tmp_path / "s.db"), sqlite_store)
    assert len(expected) >= 8
    got = pairs(engine, engine_store)
    assert got == expected
    # each watch is one stored percolator query; a removed watch's query goes too
    name = f"{engine.alias}-watches"
    assert engine.client.count(name) == len(WATCHES)
    assert remove_watch(engine_store, engine, "w0")
    engine.client.refresh(name)
    assert engine.client.count(name) == len(WATCHES) - 1
    again = corpus()[2:]
    engine.upsert_many(again)
    fresh = matcher_for(engine).match(engine_store.watches(), again)
    assert "w0" not in fresh and fresh, "the others still match"
    sqlite_store.close()
    engine_store.close()


@pytest.mark.parametrize(
    "broken",
    [
        # a record that does not make a search (another writer's): fails before the engine
        # (pydantic warns when it serializes the string it holds for a date)
        pytest.param(
            Watch.model_construct(
                id="broken",
                query="water",
                filters=WatchFilters.model_construct(since="yesterday"),
                webhook=None,
                secret="",
                created_at=T0,
            ),
            marks=pytest.mark.filterwarnings("ignore:Pydantic serializer warnings"),
        ),
        # a filter OpenSearch refuses (failed to parse), as the CLI made before the caps
        Watch(id="broken", query="water", filters=WatchFilters(target="a" * 40_000), created_at=T0),
    ],
    ids=["no-search", "refused-query"],
)
def test_one_watch_the_engine_cannot_take_never_stops_the_others(
    engine: EngineIndex, tmp_path: Path, broken: Watch
) -> None:
    store = SqliteStore(tmp_path / "e.db")
    good = new_watch("water")
    store.add_watch(good)
    matcher = matcher_for(engine)
    batch = corpus()
    engine.upsert_many(batch)
    found = matcher.match([good, broken], batch)
    assert found[good.id] == ["a1", "a2", "a5"]
    assert "broken" not in found and list(matcher.failed) == ["broken"]
    # the next batch runs as well, the failure is not sent again
    assert matcher.match([good, broken], batch)[good.id] == ["a1", "a2", "a5"]
    store.close()
