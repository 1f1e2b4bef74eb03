"""The demo corpus end to end: real HTTP on 127.0.0.1 → embedded runner → SQLite search."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.demo.server import DemoServer, corpus
from pipeline.index import SearchQuery
from pipeline.runner import Runner, RunReport
from pipeline.settings import Settings
from tests.conftest import newswire

pytestmark = pytest.mark.integration


def demo_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings for a runner over the demo sites: loopback allowed, no delays, no files."""
    return Settings(
        db=tmp / "demo.db",
        allow_private_hosts=True,
        per_host_delay=0.0,
        claims_file=tmp / "none.yaml",
        feeds_file=tmp / "none.yaml",
        **overrides,
    )


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Runner, RunReport, RunReport]]:
    settings = demo_settings(tmp_path_factory.mktemp("demo"))
    with DemoServer() as server:
        runner = Runner(settings)
        for slug, (title, url) in server.feed_urls().items():
            runner.store.add_feed(url, title, interval=300, feed_id=f"demo-{slug}")
        first = runner.run_once()
        second = runner.run_once()
        yield runner, first, second
        runner.close()


def test_every_demo_article_is_indexed(demo_run: tuple[Runner, RunReport, RunReport]) -> None:
    runner, first, _ = demo_run
    _, articles = corpus()
    assert first.feed_errors == {}
    assert first.new_entries == len(articles) == 30
    assert first.indexed == 30 and first.failed == first.dead == first.retrying == 0
    assert runner.index.count() == 30


def test_second_run_adds_nothing(demo_run: tuple[Runner, RunReport, RunReport]) -> None:
    runner, _, second = demo_run
    assert second.feeds_polled == 3 and second.new_entries == 0 and second.indexed == 0
    assert runner.index.count() == 30


def test_thin_and_missing_pages_fall_back_to_feed_text(
    demo_run: tuple[Runner, RunReport, RunReport],
) -> None:
    runner, _, _ = demo_run
    for title in ("Audit finds ticketing system", "Council split over police budget"):
        [hit] = runner.index.search(SearchQuery(text=f'"{title}"')).hits
        body = runner.index.get(hit.id).body  # type: ignore[union-attr]
        assert len(body.split("\n")) >= 4, f"{title}: the feed's full text was used"


def test_pages_are_cleaned_and_canonical(demo_run: tuple[Runner, RunReport, RunReport]) -> None:
    runner, _, _ = demo_run
    [hit] = runner.index.search(SearchQuery(text='"Harbor Bridge replacement approved"')).hits
    article = runner.index.get(hit.id)
    assert article is not None
    # The page's rel=canonical names the outlet's public domain, another site than the
    # 127.0.0.1 it is served from: it does not count (analyze.to_article), the final URL does.
    assert article.canonical_url == article.url
    assert article.url.endswith("/harbor-times/bridge-approved.html")
    assert article.source == "127.0.0.1"
    assert "Lena Park" not in article.body and "All rights reserved" not in article.body
    assert "utm_" not in article.url
    names = {e.name for e in article.entities}
    assert {"Elena Vasquez", "Marcus Hale", "Tom Becker"} <= names
    assert "Lena Park" not in names, "photo credits never become entities"


@pytest.mark.parametrize(
    ("query", "must_find"),
    [
        (SearchQuery(text="bridge"), "Harbor Bridge replacement approved in narrow vote"),
        (SearchQuery(text='"carbon tax"'), "Eriksen proposes doubling carbon tax by 2030"),
        (SearchQuery(entity="Amara Nwosu"), "Senators question chip plant subsidy"),
        (SearchQuery(speaker="Marcus Hale"), "Harbor Bridge estimate rises to 1.4 billion dollars"),
        (
            SearchQuery(speaker="Daniel Okafor", stance="against"),
            "Storm knocks out power to 200,000 homes",
        ),
        (
            SearchQuery(text="strike", source="127.0.0.1"),
            "Port strike averted after late-night deal",
        ),
    ],
)
def test_search_finds_demo_stories(
    demo_run: tuple[Runner, RunReport, RunReport], query: SearchQuery, must_find: str
) -> None:
    runner, _, _ = demo_run
    result = runner.index.search(query.__class__(**{**query.__dict__, "limit": 50}))
    assert must_find in [h.title for h in result.hits]
    assert result.facets.sources and result.facets.entities


def test_cli_demo_then_search(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    demo = newswire("demo", db=db)
    assert demo.returncode == 0, demo.stderr
    assert "30 stories" in demo.stdout

    result = newswire("search", "bridge", "--json", db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"total", "hits", "facets", "next_cursor"} and data["total"] >= 3
    hit = data["hits"][0]
    assert set(hit) == {
        "id",
        "title",
        "url",
        "source",
        "published_at",
        "snippet",
        "score",
        "entities",
        "stances",
    }
    assert "<mark>" in hit["snippet"]
    assert set(data["facets"]) == {"entities", "sources", "stances", "targets", "dates"}
    assert all({"value", "count"} == set(v) for v in data["facets"]["sources"])

    human = newswire("search", "--speaker", "Lars Eriksen", db=db)
    assert human.returncode == 0 and "stories" in human.stdout and "Eriksen" in human.stdout

    again = newswire("demo", db=db)
    assert "30 stories" in again.stdout, "a second demo run duplicates nothing"

    bad = newswire("search", "--stance", "maybe", db=db)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error:")
    assert "Traceback" not in bad.stderr


def test_run_forever_polls_due_feeds_and_stops(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path)
    cycles: list[RunReport] = []
    stop = threading.Event()

    def on_cycle(report: RunReport) -> None:
        cycles.append(report)
        stop.set()  # one cycle is enough to show the loop works and ends

    with DemoServer() as server:
        runner = Runner(settings)
        for slug, (title, url) in server.feed_urls().items():
            runner.store.add_feed(url, title, interval=300, feed_id=f"demo-{slug}")
        loop = threading.Thread(target=runner.run_forever, args=(stop, on_cycle))
        loop.start()
        loop.join(timeout=300)
        assert not loop.is_alive()
        states = [f.state for f in runner.store.feeds()]
        runner.close()
    assert cycles[0].feeds_polled == 3 and cycles[0].indexed == 30
    assert all(s.next_check_at > s.last_checked_at for s in states if s.last_checked_at)


def test_a_killed_analysis_process_loses_nothing(tmp_path: Path) -> None:
    # kill -9 one analysis process while batches are in flight: its batches come
    # back as errors, are retried one article at a time in a new pool, and every
    # article is indexed once
    settings = demo_settings(tmp_path, analysis_processes=2, nlp_batch_size=4)
    with DemoServer() as server:
        runner = Runner(settings)
        runner.analyzer.warm_up()
        first_pool = runner.analyzer._pool
        assert first_pool is not None
        victim = next(iter(first_pool._processes.values()))
        for slug, (title, url) in server.feed_urls().items():
            runner.store.add_feed(url, title, interval=300, feed_id=f"demo-{slug}")
        killer = threading.Timer(0.5, os.kill, (victim.pid, signal.SIGKILL))
        killer.start()
        try:
            report = runner.run_once()
            replaced = runner.analyzer._pool is not first_pool
            assert runner.index.count() == 30
            assert len(runner.store.records("done")) == 30
            assert runner.store.records("failed") == [] and runner.store.pending() == []
        finally:
            killer.cancel()
            runner.close()
    assert victim.exitcode == -signal.SIGKILL and replaced
    assert report.indexed == 30 and report.failed == report.dead == 0
