"""The engine index against a real OpenSearch node: failures, reindex under load, CLI."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pipeline.demo.server import corpus
from pipeline.errors import TransientError
from pipeline.index import SearchQuery
from pipeline.index.engine import EngineIndex, EngineRejected, EngineUnavailable
from pipeline.index.opensearch import OpenSearchClient
from pipeline.models import Article, Entity
from tests.conftest import newswire

pytestmark = pytest.mark.integration


def article(n: int, word: str = "harbour") -> Article:
    return Article(
        id=f"a{n:05d}",
        url=f"https://x.example/{n}",
        canonical_url=f"https://x.example/{n}",
        source="x.example",
        title=f"Story {n} about the {word}",
        body=f"The {word} story number {n}.",
        published_at=datetime(2026, 10, 1 + n % 28, tzinfo=UTC),
        language="en",
        entities=[Entity(name="Elena Vasquez", type="PERSON", mentions=1, salience=0.5)],
    )


@pytest.fixture
def engine(opensearch_url: str) -> Iterator[EngineIndex]:
    index = EngineIndex(
        OpenSearchClient(opensearch_url),
        alias=f"eng-{uuid.uuid4().hex[:8]}",
        refresh=True,
        batch_size=50,
    )
    yield index
    for name in index.client.indices_for(index.alias):
        index.client.delete_index(name)
    index.close()


def test_unreachable_engine_is_transient() -> None:
    down = EngineIndex(OpenSearchClient("http://127.0.0.1:9", timeout=2), alias="nowhere")
    with pytest.raises(EngineUnavailable) as info:
        down.upsert_many([article(1)])
    assert isinstance(info.value, TransientError) and "unreachable" in info.value.reason
    assert not down.health().ok


def test_rejected_documents_are_reported_with_reasons(engine: EngineIndex) -> None:
    live = engine.ensure()
    bad = {"id": "bad1", "not_in_the_mapping": 1}
    with pytest.raises(EngineRejected, match=r"bad1: .*not_in_the_mapping"):
        engine._bulk([{"index": {"_index": live, "_id": "bad1"}}, bad])


def test_bulk_in_bounded_batches_and_mapping_is_current(engine: EngineIndex) -> None:
    assert engine.upsert_many([article(n) for n in range(230)]) == 230
    assert engine.count() == 230
    health = engine.health()
    assert (
        health.ok
        and health.detail["mapping_current"]
        and health.detail["indices"] == [f"{engine.alias}-v1"]
    )


def test_reindex_under_load_never_fails_a_search(engine: EngineIndex) -> None:
    engine.upsert_many([article(n) for n in range(600)])
    stop = threading.Event()
    failures: list[str] = []
    totals: list[int] = []
    written: list[int] = []

    def searcher() -> None:
        while not stop.is_set():
            try:
                totals.append(engine.search(SearchQuery(text="harbour", limit=5)).total)
            except Exception as exc:  # any failed search fails the test
                failures.append(repr(exc))

    def writer() -> None:
        n = 1000
        while not stop.is_set():
            engine.upsert_many([article(n, word="harbour")])
            written.append(n)
            n += 1

    threads = [threading.Thread(target=searcher) for _ in range(2)] + [
        threading.Thread(target=writer)
    ]
    for t in threads:
        t.start()
    try:
        old, new, copied = engine.reindex()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert len(totals) > 10 and min(totals) >= 600, "search never saw an empty or partial index"
    assert (old, new) == (f"{engine.alias}-v1", f"{engine.alias}-v2") and copied >= 600
    assert engine.client.indices_for(engine.alias) == [new]
    engine.client.refresh(engine.alias)
    assert engine.count() == 600 + len(written), "writes made during the reindex are all there"


def test_demo_on_opensearch_from_the_cli(opensearch_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {
        "NEWSWIRE_BACKEND": "opensearch",
        "NEWSWIRE_OPENSEARCH_URL": opensearch_url,
        "NEWSWIRE_INDEX_NAME": f"cli-{uuid.uuid4().hex[:8]}",
        "NEWSWIRE_INDEX_REFRESH": "true",
    }
    db = tmp_path / "state.db"
    demo = newswire("demo", db=db, **env)
    assert demo.returncode == 0, demo.stderr
    articles = len(corpus()[1])
    assert f"{articles} stories" in demo.stdout
    result = json.loads(
        newswire("search", "--speaker", "Marcus Hale", "--json", db=db, **env).stdout
    )
    assert result["total"] >= 3 and result["facets"]["sources"] == [
        {"value": "harbortimes.example", "count": result["total"]}
    ]
    words = json.loads(newswire("search", "bridge", "--json", db=db, **env).stdout)
    assert words["total"] >= 3 and "<mark>" in words["hits"][0]["snippet"]
    reindex = newswire("reindex", db=db, **env)
    assert reindex.returncode == 0 and f"reindexed {articles} articles" in reindex.stdout
    after = json.loads(newswire("search", "bridge", "--json", db=db, **env).stdout)
    assert after["total"] == words["total"]
    client = OpenSearchClient(opensearch_url)
    for name in client.indices_for(env["NEWSWIRE_INDEX_NAME"]):
        client.delete_index(name)
    client.close()
