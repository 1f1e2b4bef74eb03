"""The hostile corpus (``hostile_feeds.py``) through the distributed mode: real
redis-server, the Celery I/O and NLP workers and beat as docker-compose.yml runs them
(``test_distributed.Cluster``). Every good story is indexed exactly once, every hostile
feed leaves its mark, and the workers live through it within bounds of memory."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.services import wait_until
from pipeline.index import SearchQuery
from tests.conftest import need
from tests.integration.hostile_feeds import SCRIPT_SCHEMES, HostileCorpus, TreeMemory
from tests.integration.test_distributed import Cluster

pytestmark = pytest.mark.integration

GOOD_SECONDS = 150  # every good story indexed, from the moment the workers start
PROCESS_MB = 1024  # any one process: a worker, a pool process, beat
ARTICLE_SECONDS = 30  # any one task: a poll, a fetch, an analysis, an index write
TREE_MB = 3072  # the three services together (the NLP worker forks two analysis processes)
_STORED_SCRIPT = re.compile(rf"(?:^|\")\s*(?:{'|'.join(s[:-1] for s in SCRIPT_SCHEMES)}):", re.I)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, HostileCorpus]]:
    need(
        shutil.which("redis-server") is not None,
        "redis-server not installed (apt-get install redis-server)",
    )
    with HostileCorpus() as corpus:
        # Cluster reads only feed_urls() of its "demo": the corpus gives every feed that way.
        made = Cluster(
            tmp_path,
            corpus,  # type: ignore[arg-type]
            NEWSWIRE_ALLOW_PRIVATE_HOSTS="127.0.0.0/8",
            NEWSWIRE_MAX_ATTEMPTS="2",
        )
        try:
            yield made, corpus
        finally:
            made.close()


def good_hits(cluster: Cluster, corpus: HostileCorpus) -> dict[str, list[str]]:
    """Good story URL -> the titles the index holds under it."""
    index = cluster.index()
    try:
        hits = index.search(SearchQuery(text="", limit=200, collapse=False)).hits
    finally:
        index.close()
    found: dict[str, list[str]] = {url: [] for url in corpus.good_urls()}
    for h in hits:
        if h.url in found:
            found[h.url].append(h.title)
    return found


def test_workers_beside_hostile_feeds_index_every_good_story_once(
    cluster: tuple[Cluster, HostileCorpus],
) -> None:
    nodes, corpus = cluster
    started = time.monotonic()
    services = [nodes.start(name) for name in ("worker-io", "worker-nlp", "beat")]
    with TreeMemory([s.proc.pid for s in services]) as memory:
        try:
            wait_until(
                lambda: all(good_hits(nodes, corpus).values()),
                GOOD_SECONDS,
                "every good story indexed",
                every=1,
            )
            good_seconds = time.monotonic() - started
            store = nodes.store()
            try:
                # The trickled feeds use their whole 15 s budget; wait for every verdict.
                failing = {n for n, (_, e) in corpus.hostile_feeds.items() if e == "error"}
                # a feed whose items are all skipped leaves no entry: wait for its poll
                skipping = {n for n, (_, e) in corpus.hostile_feeds.items() if e == "skips"}
                wait_until(
                    lambda: (
                        all(f.state.error_count for f in store.feeds() if f.name in failing)
                        and all(
                            f.state.last_checked_at for f in store.feeds() if f.name in skipping
                        )
                        and store.index_backlog() == 0
                        and not any(c.get("pending") for c in store.entry_counts().values())
                    ),
                    90,
                    "every hostile feed and entry settled",
                )
                states = {f.name: f.state for f in store.feeds()}
                counts = store.entry_counts()
            finally:
                store.close()
        except AssertionError:
            print(nodes.logs())
            raise
        peaks = [s.peak_rss_mb() for s in services]
    named = {s.name: p for s, p in zip(services, peaks, strict=True)}
    print(
        f"good stories in {good_seconds:.1f}s; peak RSS MB: tree {memory.peak_total:.0f}, {named}"
    )

    io_log = services[0].log.read_text(errors="replace")  # the polls ran in worker-io
    found = good_hits(nodes, corpus)
    for url, titles in found.items():
        assert titles == [corpus.good_urls()[url].title], (url, titles)  # once, its own title
    for name, (_, expect) in corpus.hostile_feeds.items():
        if expect == "error":
            assert states[name].error_count >= 1 and states[name].last_error, (name, states[name])
        elif expect == "skips":
            fid = states[name].feed_id
            assert re.search(rf"skipped .*feed_id={fid}\b", io_log), name
    for name in corpus.good_feeds():
        assert states[name].error_count == 0, states[name]
    assert not any(c.get("pending") for c in counts.values()), counts

    # The workers lived through it, and within bounds.
    logs = nodes.logs()
    assert all(s.alive() for s in services), logs
    assert "WorkerLostError" not in logs and "exited with" not in logs, logs
    assert max(max(p) for p in peaks) < PROCESS_MB, peaks
    full = "".join(s.log.read_text(errors="replace") for s in services)
    took: dict[str, float] = {}  # a redelivered task logs twice: its longest run counts
    for task, t in re.findall(r"Task (newswire\.\w+\[[^\]]+\]) succeeded in ([\d.]+)s", full):
        took[task] = max(float(t), took.get(task, 0.0))
    print(f"{len(took)} tasks, the longest {max(took.values(), default=0):.1f}s")
    slow = {task: t for task, t in took.items() if t >= ARTICLE_SECONDS}
    assert took and not slow, [line for line in full.splitlines() if any(t in line for t in slow)]
    assert memory.peak_process() < PROCESS_MB, memory.peak_each
    assert memory.peak_total < TREE_MB, memory.peak_each

    # Nothing with a script-like scheme was stored, in Redis or in the index.
    broker = nodes.broker()
    for key in broker.scan_iter(count=1000):
        kind = broker.type(key)
        values: list[bytes] = []
        if kind == b"string":
            values = [broker.get(key) or b""]
        elif kind == b"hash":
            values = list(broker.hvals(key))
        elif kind in (b"set", b"zset"):
            values = list(broker.smembers(key) if kind == b"set" else broker.zrange(key, 0, -1))
        elif kind == b"list":
            values = list(broker.lrange(key, 0, -1))
        for value in values:
            text = value.decode("utf-8", "replace")
            assert not _STORED_SCRIPT.search(text), (key, text[:300])
    index = nodes.index()
    try:
        urls = [h.url for h in index.search(SearchQuery(text="", limit=200, collapse=False)).hits]
    finally:
        index.close()
    # The counterfeit of a good story is kept under its own address.
    assert corpus.hostile.url("/pages/canonical-claim") in urls
    assert urls and all(u.startswith(("http://127.0.0.1:", "http://127.0.0.2:")) for u in urls)
