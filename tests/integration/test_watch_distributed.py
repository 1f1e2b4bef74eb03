"""A watch in the distributed mode: real beat and Celery workers on a real Redis,
OpenSearch (the percolator) as the index, the demo sites as feeds, a local webhook
receiver. Every demo story that matches is delivered once, by the deliver task on
the poll queue, and is exactly what a search for the watch's words finds."""

from __future__ import annotations

import json
import time

import pytest

from bench.services import wait_until
from pipeline.index import SearchQuery
from tests.conftest import newswire
from tests.integration.test_distributed import ARTICLES, Cluster, demo, make_cluster
from tests.integration.test_watch_delivery import Receiver, receiver

pytestmark = pytest.mark.integration
__all__ = ["demo", "make_cluster", "receiver"]  # fixtures used here


def test_a_watch_on_the_distributed_pipeline_delivers_each_match_once(
    make_cluster: type[Cluster], opensearch_url: str, receiver: Receiver
) -> None:
    cluster = make_cluster("opensearch", NEWSWIRE_OPENSEARCH_URL=opensearch_url)
    db = cluster.tmp / "cli.db"
    added = newswire(
        "watch", "add", "harbor", "--webhook", receiver.url, "--json", db=db, **cluster.env
    )
    assert added.returncode == 0, added.stderr
    watch = json.loads(added.stdout)
    for name in ("worker-io", "worker-nlp", "beat"):
        cluster.start(name)
    try:
        wait_until(lambda: cluster.done() >= ARTICLES, 300, "every demo article indexed")
        index = cluster.index()
        expected = {
            h.id for h in index.search(SearchQuery(text="harbor", limit=100, collapse=False)).hits
        }
        index.close()
        assert expected, "the demo corpus has harbor stories"
        wait_until(lambda: len(receiver.delivered()) >= len(expected), 60, "the matches delivered")
    except AssertionError:
        print(cluster.logs())
        raise
    time.sleep(3)  # a few more ticks: nothing is sent again
    sent = [d["article"]["id"] for d in receiver.delivered()]
    assert sorted(sent) == sorted(expected), "each matching story once, no other"
    assert all(d["watch"]["id"] == watch["id"] for d in receiver.delivered())
    shown = newswire("watch", "list", "--json", db=db, **cluster.env)
    [row] = json.loads(shown.stdout)
    assert row["matches"] == {"delivered": len(expected)}
