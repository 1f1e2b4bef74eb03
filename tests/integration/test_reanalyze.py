"""``reanalyze`` on SQLite and a real OpenSearch node: demo stories analysed by an
"older model" (a stale version and stale entities) get the current analysis, keep
every other field, and no search fails or misses a story meanwhile; a run killed with
SIGKILL resumes and completes without duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.analysis_version import analysis_version
from pipeline.analyze import analyze_batch, to_article
from pipeline.demo.server import canonical_url, corpus, render_page
from pipeline.extract import extract_html
from pipeline.index import Index, Outdated, SearchQuery
from pipeline.index.engine import EngineIndex
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, Entity
from pipeline.reanalyze import reanalyze, revise_articles
from pipeline.settings import ANALYSIS_STEPS
from tests.conftest import ROOT, newswire
from tests.integration.es_compat_proxy import CompatProxy

pytestmark = pytest.mark.integration

STALE = Entity(name="Stale Entity", type="ORG", mentions=1, salience=0.1)
ANALYSIS = {"entities", "quotes", "stances", "claims", "analyzed_with"}


@pytest.fixture(scope="module")
def current(nlp: Any) -> list[Article]:
    """The demo corpus as the current models analyse it (with non-analysis fields set
    as the dedup and cluster stages would)."""
    feeds, demo = corpus()
    by_slug = {f.slug: f for f in feeds}
    pages = [(a, extract_html(render_page(by_slug[a.feed], a))) for a in demo]
    extracted = [x.model_copy(update={"published_at": a.date}) for a, x in pages if x is not None]
    version = analysis_version(nlp.meta, ANALYSIS_STEPS)
    fetched = datetime(2026, 11, 20, tzinfo=UTC)
    return [
        to_article(
            x, an, url=canonical_url(by_slug[a.feed], a), feed=a.feed, fetched_at=fetched
        ).model_copy(
            update={"analyzed_with": version, "cluster_id": f"c{n % 4}", "duplicate_of": None}
        )
        for n, ((a, _), x, an) in enumerate(
            zip(pages, extracted, analyze_batch(nlp, extracted), strict=True)
        )
    ]


def outdated_copies(articles: list[Article]) -> list[Article]:
    """What an older model had stored: another version, other analysis parts."""
    return [
        a.model_copy(
            update={
                "analyzed_with": "en_core_web_sm-3.7.0/000000000000" if n % 3 else None,
                "entities": [STALE],
                "quotes": [],
                "stances": [],
                "duplicate_of": "first-copy" if n % 5 == 0 else None,
            }
        )
        for n, a in enumerate(articles)
    ]


def _alias() -> str:
    return f"rea-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["sqlite", "opensearch", "elasticsearch-on-opensearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Index]:
    """Each backend; the Elasticsearch adapter's calls against the OpenSearch node
    through the proxy that translates media types (as the contract suite does)."""
    if request.param == "sqlite":
        index: Index = SqliteIndex(tmp_path / "rea.db")
        yield index
        index.close()
        return
    url = request.getfixturevalue("opensearch_url")
    client: Any
    if request.param == "opensearch":
        from pipeline.index.opensearch import OpenSearchClient

        client = OpenSearchClient(url)
    else:
        from pipeline.index.elasticsearch import ElasticsearchClient

        proxy = CompatProxy(url)
        request.addfinalizer(proxy.close)
        client = ElasticsearchClient(proxy.url)
    engine = EngineIndex(client, alias=_alias(), refresh=True, batch_size=8)
    yield engine
    for name in engine.client.indices_for(engine.alias):
        engine.client.delete_index(name)
    engine.close()


def _searcher(index: Index, total: int) -> tuple[Callable[[], None], list[str], list[int]]:
    """A thread searching all the time; returns (stop-and-join, failures, totals)."""
    stop = threading.Event()
    failures: list[str] = []
    totals: list[int] = []

    def run() -> None:
        while not stop.is_set():
            try:
                totals.append(index.search(SearchQuery(limit=3, collapse=False)).total)
                index.search(SearchQuery(text="said", limit=3))
            except Exception as exc:  # any failed search fails the test
                failures.append(repr(exc))

    thread = threading.Thread(target=run)
    thread.start()

    def done() -> None:
        stop.set()
        thread.join()

    return done, failures, totals


def test_reanalyze_upgrades_every_story_and_no_search_fails(
    backend: Index, current: list[Article], nlp: Any
) -> None:
    version = current[0].analyzed_with
    assert version is not None
    stored = outdated_copies(current)
    backend.upsert_many(stored)
    backend.refresh()
    assert backend.count_outdated(Outdated(version)) == len(stored)
    seen: list[int] = []
    stop, failures, totals = _searcher(backend, len(stored))
    try:
        done = reanalyze(
            backend,
            Outdated(version),
            lambda batch: revise_articles(nlp, batch, version=version, steps=ANALYSIS_STEPS),
            batch_size=4,
            progress=seen.append,
        )
    finally:
        stop()
    assert done == len(stored) and sum(seen) == len(stored) and max(seen) <= 4
    assert failures == []
    assert len(totals) > 3 and min(totals) == len(stored), "no search saw a story missing"
    backend.refresh()
    assert backend.count() == len(stored)
    assert backend.count_outdated(Outdated(version)) == 0
    by_id = {a.id: a for a in stored}
    for want in current:
        got = backend.get(want.id)
        assert got is not None and got.analyzed_with == version
        parts = {"entities", "quotes", "stances", "claims"}  # as stored (no evaluation spans)
        assert got.model_dump(include=parts) == want.model_dump(include=parts)
        assert got.model_dump(exclude=ANALYSIS) == by_id[want.id].model_dump(exclude=ANALYSIS)
    hits = backend.search(SearchQuery(entity=STALE.name)).total
    assert hits == 0, "no stale entity is left to search"
    # nothing is outdated now: a second run changes nothing
    assert reanalyze(backend, Outdated(version), lambda b: b, batch_size=4) == 0


def test_reanalyze_selects_by_date_and_source(
    backend: Index, current: list[Article], nlp: Any
) -> None:
    version = current[0].analyzed_with
    assert version is not None
    stored = outdated_copies(current)
    backend.upsert_many(stored)
    backend.refresh()
    source = stored[0].source
    since = sorted(a.published_at for a in stored if a.published_at)[len(stored) // 2]
    want = {a.id for a in stored if Outdated(version, since, source).matches(a)}
    assert 0 < len(want) < len(stored)
    outdated = Outdated(version, since=since, source=source)
    assert backend.count_outdated(outdated) == len(want)
    analyse = lambda batch: revise_articles(nlp, batch, version=version, steps=ANALYSIS_STEPS)  # noqa: E731
    assert reanalyze(backend, outdated, analyse, batch_size=8) == len(want)
    backend.refresh()
    for a in stored:
        got = backend.get(a.id)
        assert got is not None
        assert (got.analyzed_with == version) is (a.id in want)
    assert backend.count_outdated(Outdated(version)) == len(stored) - len(want)


def _cli(db: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "reanalyze", "--batch", "2", *args],
        cwd=db.parent,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "NEWSWIRE_CONFIG": str(db.parent / "no-config.yaml"),
            "NEWSWIRE_DB": str(db),
            "NEWSWIRE_CLAIMS_FILE": str(db.parent / "none.yaml"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(
    proc: subprocess.Popen[str], done: Callable[[], int], n: int, sig: int = signal.SIGKILL
) -> int:
    """Send ``sig`` to ``proc`` once ``done()`` reaches ``n``; returns what it had done."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"finished before the kill: {proc.communicate()}")
        count = done()
        if count >= n:
            proc.send_signal(sig)
            proc.wait(timeout=120)
            return count
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no progress within 300 s")


@pytest.mark.parametrize("kind", ["sqlite", "opensearch"])
def test_killed_run_resumes_and_completes_without_duplicates(
    kind: str, current: list[Article], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    version = current[0].analyzed_with
    assert version is not None
    stored = outdated_copies(current)
    db = tmp_path / "kill.db"
    env: dict[str, str] = {"NEWSWIRE_BACKEND": kind}
    if kind == "sqlite":
        index: Index = SqliteIndex(db)
        index.upsert_many(stored)

        def done() -> int:
            return len(stored) - index.count_outdated(Outdated(version))

    else:
        from pipeline.index.opensearch import OpenSearchClient

        url = request.getfixturevalue("opensearch_url")
        alias = _alias()
        engine = EngineIndex(OpenSearchClient(url), alias=alias, refresh=True)
        request.addfinalizer(lambda: [engine.client.delete_index(i) for i in _all(engine)])
        index = engine
        index.upsert_many(stored)
        env |= {"NEWSWIRE_OPENSEARCH_URL": url, "NEWSWIRE_INDEX_NAME": alias}

        def done() -> int:
            try:
                engine.client.refresh(f"{alias}-v2")
                return engine.client.count(f"{alias}-v2")
            except Exception:  # not created yet
                return 0

    if kind == "sqlite":  # a plain kill first: it stops between batches and says so
        stopped = _cli(db, env)
        assert _kill_when(stopped, done, 2, signal.SIGTERM) < len(stored)
        _, stderr = stopped.communicate()
        assert stopped.returncode == 130 and "run `newswire reanalyze` again" in stderr
    killed_at = _kill_when(_cli(db, env), done, 8)
    assert 8 <= killed_at < len(stored)
    if kind == "opensearch":
        assert engine.client.indices_for(alias) == [f"{alias}-v1"], "the alias never moved"
    again = _cli(db, env, "--every", "1")
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert f"with {version}" in stdout and "stories/s" in stdout
    index.refresh()
    assert index.count() == len(stored)
    assert index.count_outdated(Outdated(version)) == 0
    ids = {h.id for h in index.search(SearchQuery(limit=100, facets=False, collapse=False)).hits}
    assert ids == {a.id for a in stored}, "every story once, no duplicate"
    if kind == "opensearch":
        assert engine.client.indices_for(alias) == [f"{alias}-v2"]
    index.close()


def _all(engine: EngineIndex) -> list[str]:
    names = []
    for version in (1, 2):
        try:
            engine.client.index_meta(f"{engine.alias}-v{version}")
            names.append(f"{engine.alias}-v{version}")
        except Exception:
            continue
    return names


def test_demo_index_upgraded_after_a_model_change_while_the_api_serves(tmp_path: Path) -> None:
    """The done-when of issue 18 item 5, on SQLite: the demo ingested, the analysis
    changed (stances and claims switched off: another version), ``newswire serve``
    searched over HTTP all the while ``newswire reanalyze`` runs in another process."""
    import httpx

    from tests.integration.api_server import ApiServer, ingest_demo

    db = ingest_demo(tmp_path)
    changed = {"NEWSWIRE_ANALYSIS_STEPS": "entities,quotes"}
    before = newswire("status", "--json", db=db, **changed)
    assert before.returncode == 0, before.stderr
    report = json.loads(before.stdout)
    total = SqliteIndex(db).count()
    assert report["older_analysis"] == total > 0
    server = ApiServer(db, tmp_path / "api.log")  # with every step: all current
    health = httpx.get(f"{server.url}/health", timeout=30).json()
    assert health["index"]["older_analysis"] == 0
    stop = threading.Event()
    answers: list[tuple[int, int]] = []

    def search() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                r = client.get("/api/search", params={"limit": 3, "collapse": "false"})
                answers.append((r.status_code, r.json().get("total", -1)))
                client.get("/api/search", params={"q": "said", "limit": 3}).raise_for_status()

    thread = threading.Thread(target=search)
    thread.start()
    try:
        run = newswire("reanalyze", "--batch", "4", "--every", "10", db=db, **changed)
        stop.set()
        thread.join()
        # the server analyses with every step: to it, every story is outdated now
        health = httpx.get(f"{server.url}/health", timeout=30).json()
        assert health["index"]["older_analysis"] == total
    finally:
        stop.set()
        thread.join()
        server.stop()
    assert run.returncode == 0, run.stderr
    assert f"reanalysed {total} stories" in run.stdout and "stories/s" in run.stdout
    assert len(answers) > 5 and set(answers) == {(200, total)}, "every search answered, whole"
    after = json.loads(newswire("status", "--json", db=db, **changed).stdout)
    assert after["older_analysis"] == 0
    index = SqliteIndex(db)
    stories = [index.get(h.id) for h in index.search(SearchQuery(limit=100)).hits]
    assert all(a is not None and not a.stances and not a.claims for a in stories)
    assert any(a is not None and a.quotes for a in stories)
    # back to every step: each story is on an older version again
    again = json.loads(newswire("status", "--json", db=db).stdout)
    assert again["older_analysis"] == total
    index.close()


_WRITER = """
import sys
from pathlib import Path
from pipeline.index.sqlite import SqliteIndex
index = SqliteIndex(Path(sys.argv[1]))
stories = [index.get(i) for i in sys.argv[3:]]
index.upsert_many([a.model_copy(update={"analyzed_with": sys.argv[2]}) for a in stories if a])
index.close()
"""


def test_sqlite_readers_see_writes_of_a_process_that_exits(
    current: list[Article], tmp_path: Path
) -> None:
    """A process with the index and the store open on one file (as `newswire serve`
    has) keeps reading the current state while other processes write and exit: opening
    the store must not drop the index connection's WAL locks (before the fix, the
    writer's exit deleted the WAL under it: stale reads, KeyError in search, "database
    disk image is malformed")."""
    from pipeline.store.sqlite import SqliteStore

    db = tmp_path / "shared.db"
    index = SqliteIndex(db)
    index.upsert_many(current)
    store = SqliteStore(db)  # a second connection to the file, opened after the index
    ids = [a.id for a in current]
    for version in ("v-one", "v-two", "v-three"):
        subprocess.run(
            [sys.executable, "-c", _WRITER, str(db), version, *ids],
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert index.count_outdated(Outdated(version)) == 0, "the index reads the new state"
        assert index.search(SearchQuery(limit=100, facets=False, collapse=False)).total == len(ids)
        got = index.get(ids[0])
        assert got is not None and got.analyzed_with == version
    store.close()
    index.close()
