"""The distributed mode with real parts: Debian's redis-server, the Celery worker and
beat processes docker-compose.yml runs, the demo sites on 127.0.0.1, and SQLite or a
real OpenSearch node for the index. Each test owns its Redis and its processes."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from bench.services import OpenSearchNode, RedisServer, Service, wait_until
from pipeline.demo.server import DemoServer, corpus
from pipeline.index import Index, SearchQuery, open_index
from pipeline.settings import Settings
from pipeline.store.redis import RedisStore
from tests.conftest import need, newswire

pytestmark = pytest.mark.integration

ARTICLES = len(corpus()[1])


class Cluster:
    """One deployment: its Redis, its settings (as environment), its processes."""

    def __init__(self, tmp: Path, demo: DemoServer, backend: str = "sqlite", **extra: str) -> None:
        self.tmp = tmp
        self.redis = RedisServer(tmp / "redis")
        self.redis.start()
        feeds = [{"url": url, "name": title} for title, url in demo.feed_urls().values()]
        (tmp / "feeds.yaml").write_text(yaml.safe_dump({"feeds": feeds}))
        self.env = {
            "NEWSWIRE_CONFIG": str(tmp / "no-config.yaml"),
            "NEWSWIRE_STORE": "redis",
            "NEWSWIRE_BROKER_URL": self.redis.url,
            "NEWSWIRE_BACKEND": backend,
            "NEWSWIRE_DB": str(tmp / "index.db"),
            "NEWSWIRE_INDEX_NAME": f"nw-{uuid.uuid4().hex[:12]}",  # the node may be shared
            "NEWSWIRE_INDEX_REFRESH": "true",
            "NEWSWIRE_FEEDS_FILE": str(tmp / "feeds.yaml"),
            "NEWSWIRE_CLAIMS_FILE": str(tmp / "no-claims.yaml"),
            "NEWSWIRE_ALLOW_PRIVATE_HOSTS": "true",
            "NEWSWIRE_PER_HOST_DELAY": "0",
            "NEWSWIRE_PER_HOST_CONCURRENCY": "4",
            "NEWSWIRE_HTTP_TIMEOUT": "5",
            "NEWSWIRE_MIN_BODY_CHARS": "200",
            "NEWSWIRE_BEAT_INTERVAL": "1",
            "NEWSWIRE_MAX_ATTEMPTS": "4",
            "NEWSWIRE_RETRY_BACKOFF_BASE": "1",
            "NEWSWIRE_RETRY_BACKOFF_CAP": "5",
            "NEWSWIRE_BROKER_VISIBILITY_TIMEOUT": "15",
            **extra,
        }
        self.services: list[Service] = []

    def settings(self) -> Settings:
        fields = {k.removeprefix("NEWSWIRE_").lower(): v for k, v in self.env.items()}
        fields.pop("config")
        return Settings(**fields)

    def start(self, name: str, suffix: str = "") -> Service:
        service = Service(name, self.env, self.tmp, suffix)
        self.services.append(service)
        return service

    def store(self) -> RedisStore:
        return RedisStore.from_settings(self.settings())

    def index(self) -> Index:
        return open_index(self.settings())

    def done(self) -> int:
        store = self.store()
        try:
            return sum(c.get("done", 0) for c in store.entry_counts().values())
        finally:
            store.close()

    def broker(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url)

    def close(self) -> None:
        for s in self.services:
            s.stop()
        self.redis.stop()

    def logs(self) -> str:
        return "\n\n".join(f"== {s.name}\n{s.tail()}" for s in self.services)


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server


@pytest.fixture
def make_cluster(tmp_path: Path, demo: DemoServer) -> Iterator[type[Cluster]]:
    need(
        shutil.which("redis-server") is not None,
        "redis-server not installed (apt-get install redis-server)",
    )
    made: list[Cluster] = []

    def make(backend: str = "sqlite", **extra: str) -> Cluster:
        cluster = Cluster(tmp_path, demo, backend, **extra)
        made.append(cluster)
        return cluster

    yield make  # type: ignore[misc]
    for c in made:
        c.close()


def assert_all_indexed_once(cluster: Cluster) -> None:
    """Every demo article is in the index exactly once, every entry is done, none lost."""
    index = cluster.index()
    try:
        result = index.search(SearchQuery(text="", limit=100, collapse=False))
        ids = [h.id for h in result.hits]
        assert len(ids) == len(set(ids)) == index.count() == ARTICLES
    finally:
        index.close()
    store = cluster.store()
    try:
        counts = store.entry_counts()
        assert sum(c.get("done", 0) for c in counts.values()) == ARTICLES, counts
        assert not any(c.get(s) for c in counts.values() for s in ("pending", "failed", "dead")), (
            counts
        )
        # an index run marks its articles done, then takes them off the buffer
        wait_until(lambda: store.index_backlog() == 0, 30, "the index buffer drained")
    finally:
        store.close()


def test_end_to_end_beat_workers_opensearch_then_search(
    make_cluster: type[Cluster], opensearch_url: str
) -> None:
    cluster = make_cluster("opensearch", NEWSWIRE_OPENSEARCH_URL=opensearch_url)
    for name in ("worker-io", "worker-nlp", "beat"):
        cluster.start(name)
    try:
        wait_until(lambda: cluster.done() >= ARTICLES, 240, "every demo article indexed")
    except AssertionError:
        print(cluster.logs())
        raise
    assert_all_indexed_once(cluster)

    db = cluster.tmp / "cli.db"
    found = newswire("search", "harbor bridge", "--json", db=db, **cluster.env)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert hits and any(
        "harbor" in h["title"].lower() or "bridge" in h["title"].lower() for h in hits
    )

    status = newswire("status", "--json", db=db, **cluster.env)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["feeds"] == 3 and report["dead_letters"] == 0
    assert set(report["queues"]) == {"poll", "fetch", "nlp", "index"}
    consumed = {q for w in report["workers"].values() for q in w["queues"]}
    assert consumed == {"poll", "fetch", "nlp", "index"}


def test_kill_nlp_worker_holding_tasks_loses_and_duplicates_nothing(
    make_cluster: type[Cluster],
) -> None:
    cluster = make_cluster()
    cluster.start("worker-io")
    cluster.start("beat")
    broker = cluster.broker()
    # No analysis yet: every article waits in the nlp queue.
    wait_until(lambda: broker.llen("nlp") == ARTICLES, 120, "all articles queued for nlp")

    doomed = cluster.start("worker-nlp", "-doomed")
    # Kill it once it has finished some articles and holds others unacknowledged.
    wait_until(
        lambda: cluster.done() >= 2 and broker.hlen("unacked") >= 1,
        180,
        "the nlp worker busy with tasks",
        every=0.05,
    )
    doomed.kill()
    held = broker.hlen("unacked")
    assert held >= 1, "the killed worker held no task"
    assert cluster.done() < ARTICLES

    cluster.start("worker-nlp", "-fresh")
    try:
        wait_until(lambda: cluster.done() >= ARTICLES, 240, "every article indexed after the kill")
    except AssertionError:
        print(cluster.logs())
        raise
    assert_all_indexed_once(cluster)


def test_an_index_run_lingers_only_while_analyses_wait(make_cluster: type[Cluster]) -> None:
    """The index run an analysis asks for waits a second for batchmates while the nlp
    queue holds more articles, and starts at once for the last of them."""
    cluster = make_cluster()
    io, beat = cluster.start("worker-io"), cluster.start("beat")
    broker = cluster.broker()
    wait_until(lambda: broker.llen("nlp") == ARTICLES, 120, "all articles queued for nlp")
    io.stop()  # nothing takes the index runs: their messages stay in the index queue
    beat.stop()

    def index_run_eta() -> object:
        raw = wait_until(lambda: broker.rpop("index"), 120, "an index run requested", every=0.05)
        return json.loads(raw)["headers"]["eta"]

    cluster.start("worker-nlp")
    assert index_run_eta() is not None  # the first analysis: many more queued
    wait_until(lambda: broker.llen("nlp") == 0, 240, "every article taken", every=0.05)
    store = cluster.store()
    try:
        store.index_run_started()  # as the first run would have: the next request is new
    finally:
        store.close()
    assert index_run_eta() is None  # analysed with nothing left queued


def test_redis_restart_mid_run_loses_nothing(make_cluster: type[Cluster]) -> None:
    cluster = make_cluster()
    for name in ("worker-io", "worker-nlp", "beat"):
        cluster.start(name)
    wait_until(lambda: cluster.done() >= 3, 180, "the first articles indexed")
    assert cluster.done() < ARTICLES, "the run finished before Redis could be restarted"
    cluster.redis.restart(down_for=3.0)
    try:
        wait_until(
            lambda: cluster.done() >= ARTICLES, 240, "every article indexed after the restart"
        )
    except AssertionError:
        print(cluster.logs())
        raise
    assert all(s.alive() for s in cluster.services), "a process died with Redis"
    assert_all_indexed_once(cluster)


def test_engine_down_for_a_minute_index_waits_and_loses_nothing(
    make_cluster: type[Cluster], opensearch_url: str, tmp_path: Path
) -> None:
    # A node of our own (the session's node is shared), with data that survives a stop.
    node = OpenSearchNode(tmp_path / "node")
    node.start()
    try:
        cluster = make_cluster("opensearch", NEWSWIRE_OPENSEARCH_URL=node.url)
        index = cluster.index()
        index.count()  # create the index while the engine is up
        index.close()
        for name in ("worker-io", "worker-nlp", "beat"):
            cluster.start(name)
        wait_until(lambda: cluster.done() >= 1, 180, "the first article indexed")
        node.stop()
        store = cluster.store()
        # With the engine gone, analysed articles wait in Redis for the index queue.
        wait_until(lambda: store.index_backlog() >= 5, 180, "articles waiting for the engine")
        time.sleep(60)  # the engine stays down for a minute
        waiting = store.index_backlog()
        assert waiting >= 5 and cluster.done() < ARTICLES
        node.start()
        try:
            wait_until(
                lambda: cluster.done() >= ARTICLES,
                240,
                "every article indexed once the engine is back",
            )
        except AssertionError:
            print(cluster.logs())
            raise
        store.close()
        assert_all_indexed_once(cluster)
    finally:
        node.stop()


def test_same_feed_polled_by_two_workers_at_once_yields_no_duplicate(
    make_cluster: type[Cluster],
) -> None:
    from workers.app import make_app

    cluster = make_cluster()
    cluster.start("worker-io", "-a")
    cluster.start("worker-io", "-b")
    cluster.start("worker-nlp")
    store = cluster.store()
    from pipeline.store import sync_feeds

    sync_feeds(store, cluster.tmp / "feeds.yaml", 300)
    app = make_app(cluster.settings())
    wait_until(lambda: len(store.live_workers()) == 3, 60, "three live workers")
    feed_ids = [f.state.feed_id for f in store.feeds()]
    # Many polls of every feed at once, spread over both I/O workers' 16 threads.
    for _ in range(8):
        for fid in feed_ids:
            app.send_task("newswire.poll_feed", args=[fid])
    try:
        wait_until(lambda: cluster.done() >= ARTICLES, 240, "every article indexed")
    except AssertionError:
        print(cluster.logs())
        raise
    store.close()
    assert_all_indexed_once(cluster)
