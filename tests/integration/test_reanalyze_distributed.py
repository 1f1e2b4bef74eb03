"""``newswire reanalyze`` in the distributed mode: real Redis, the real beat and
Celery workers (``worker-io`` runs the tick that hands batches to the nlp queue,
``worker-nlp`` analyses them), SQLite for the index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.services import wait_until
from pipeline.demo.server import DemoServer
from pipeline.errors import TransientError
from pipeline.index import Outdated, SearchQuery
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article
from pipeline.reanalyze import on_workers
from pipeline.store.redis import connect
from pipeline.store.redis.reanalysis import RedisReanalysis
from tests.conftest import newswire
from tests.integration.test_distributed import Cluster, make_cluster  # noqa: F401 (fixture)
from tests.integration.test_reanalyze import ANALYSIS, current, outdated_copies  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server


def test_reanalyze_on_the_nlp_workers(
    make_cluster: type[Cluster],  # noqa: F811
    current: list[Article],  # noqa: F811
    tmp_path: Path,
) -> None:
    version = current[0].analyzed_with
    assert version is not None
    cluster = make_cluster("sqlite")
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump({"feeds": []}))  # no ingestion
    db = Path(cluster.env["NEWSWIRE_DB"])
    stored = outdated_copies(current)
    index = SqliteIndex(db)
    index.upsert_many(stored)
    for name in ("worker-io", "worker-nlp", "beat"):
        cluster.start(name)
    store = cluster.store()

    def nlp_alive() -> bool:
        return any("nlp" in w.get("queues", []) for w in store.live_workers().values())

    try:
        wait_until(nlp_alive, 120, "an nlp worker is alive")
        run = newswire("reanalyze", "--batch", "3", "--wait", "120", db=db, **cluster.env)
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        store.close()
    assert run.returncode == 0, run.stderr + cluster.logs()
    assert f"reanalysed {len(stored)} stories with {version}" in run.stdout
    record = RedisReanalysis(connect(cluster.redis.url)).run()
    assert record["version"] == version
    assert int(record["sent"]) == int(record["done"]) == -(-len(stored) // 3), record
    assert index.count_outdated(Outdated(version)) == 0
    assert index.count() == len(stored)
    ids = [h.id for h in index.search(SearchQuery(limit=100, facets=False, collapse=False)).hits]
    assert sorted(ids) == sorted(a.id for a in stored)
    by_id = {a.id: a for a in stored}
    parts = {"entities", "quotes", "stances", "claims"}
    for want in current:
        got = index.get(want.id)
        assert got is not None and got.analyzed_with == version
        assert got.model_dump(include=parts) == want.model_dump(include=parts)
        assert got.model_dump(exclude=ANALYSIS) == by_id[want.id].model_dump(exclude=ANALYSIS)
    index.close()


def test_hand_off_round_trip_and_a_batch_never_returned(redis_server: Any) -> None:
    """The Redis hand-offs alone: a batch goes in, is taken once, comes back in order;
    one no worker answers ends the wait with a transient error (the run resumes)."""
    handoff = RedisReanalysis(connect(redis_server.url), prefix=f"t{uuid.uuid4().hex[:6]}:")
    stories = [
        Article(id=f"s{n}", url=f"https://x.example/{n}", canonical_url=f"https://x.example/{n}",
                source="x.example", title=f"Story {n}")
        for n in range(5)
    ]  # fmt: skip
    handoff.start_run("v2")
    analyse = on_workers(handoff, batch_size=2, timeout=1, version="v2")
    with pytest.raises(TransientError, match="no nlp worker returned"):
        analyse(stories)
    keys = handoff.take_submitted()
    assert len(keys) == 3 and handoff.take_submitted() == []
    assert [a.id for a in handoff.batch(keys[0]) or []] == ["s0", "s1"]
    for key in keys:
        batch = handoff.batch(key) or []
        handoff.finish(key, [a.model_copy(update={"analyzed_with": "v2"}) for a in batch])
        assert handoff.batch(key) is None, "a finished batch is not done twice"
    got = [a for key in keys for a in handoff.collect(key, 1) or []]
    assert [a.id for a in got] == [a.id for a in stories]
    assert {a.analyzed_with for a in got} == {"v2"}
    record = handoff.run()
    assert (record["version"], record["sent"], record["done"]) == ("v2", "3", "3")
