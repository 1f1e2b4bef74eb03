"""The demo corpus end to end: real HTTP on 127.0.0.1 → embedded runner → SQLite search."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipeline.demo.server import DemoServer, corpus
from pipeline.errors import BlockedHostError, ClientError, NetworkError
from pipeline.fetch import Fetcher
from pipeline.index import SearchQuery
from pipeline.runner import Runner, RunReport
from pipeline.settings import Settings
from tests.conftest import newswire

pytestmark = pytest.mark.integration

ARTICLES = len(corpus()[1])


def demo_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings for a runner over the demo sites: no delays, no files, no private
    networks (the demo's fetcher reaches 127.0.0.1 by itself)."""
    return Settings(
        db=tmp / "demo.db",
        per_host_delay=0.0,
        claims_file=tmp / "none.yaml",
        feeds_file=tmp / "none.yaml",
        **overrides,
    )


def demo_runner(server: DemoServer, settings: Settings) -> Runner:
    """A runner over the demo sites, as `newswire demo` makes it."""
    runner = Runner(settings, fetcher=server.fetcher(settings))
    server.add_feeds(runner.store)
    return runner


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Runner, RunReport, RunReport]]:
    settings = demo_settings(tmp_path_factory.mktemp("demo"))
    with DemoServer() as server:
        runner = demo_runner(server, settings)
        first = runner.run_once()
        second = runner.run_once()
        yield runner, first, second
        runner.close()


def test_every_demo_article_is_indexed(demo_run: tuple[Runner, RunReport, RunReport]) -> None:
    runner, first, _ = demo_run
    _, articles = corpus()
    assert first.feed_errors == {}
    assert first.new_entries == len(articles) == ARTICLES
    assert first.indexed == ARTICLES and first.failed == first.dead == first.retrying == 0
    assert runner.index.count() == ARTICLES
    # Each story is its outlet's: the source facet names the outlets, not 127.0.0.1.
    feeds, _ = corpus()
    domain = {f.slug: f.domain for f in feeds}
    sources = runner.index.search(SearchQuery(limit=1, collapse=False)).facets.sources
    assert {v.value: v.count for v in sources} == Counter(domain[a.feed] for a in articles)


def test_second_run_adds_nothing(demo_run: tuple[Runner, RunReport, RunReport]) -> None:
    runner, _, second = demo_run
    assert second.feeds_polled == 3 and second.new_entries == 0 and second.indexed == 0
    assert runner.index.count() == ARTICLES


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
    # Fetched from the outlet's own host name, so its rel=canonical (same site) names it.
    assert article.canonical_url == "https://www.harbortimes.example/2026/10/bridge-approved"
    assert article.source == "harbortimes.example"
    assert urlsplit(article.url).hostname == "www.harbortimes.example"
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
            SearchQuery(text="strike", source="harbortimes.example"),
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
    assert f"{ARTICLES} stories" in demo.stdout

    result = newswire("search", "bridge", "--json", db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # issue 18: total counts same-event clusters, stories the matching stories
    assert set(data) == {"total", "stories", "hits", "facets", "next_cursor"}
    assert data["total"] >= 3
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
        "cluster",  # issue 18: {id, size, more, sources} of the hit's cluster
    }
    assert "<mark>" in hit["snippet"]
    assert set(data["facets"]) == {
        "entities",
        "sources",
        "stances",
        "targets",
        "dates",
        "sampled",
    }
    assert all({"value", "count"} == set(v) for v in data["facets"]["sources"])
    # Each outlet that wrote about a bridge, under its own name, and each hit on its
    # outlet's host (the stemmer matches "bridges" too).
    feeds, articles = corpus()
    domain = {f.slug: f.domain for f in feeds}
    bridge = re.compile(r"\bbridges?\b", re.IGNORECASE)
    wrote = {domain[a.feed] for a in articles if bridge.search(f"{a.title} {a.body}")}
    assert {v["value"] for v in data["facets"]["sources"]} == wrote
    assert all(urlsplit(h["url"]).hostname == f"www.{h['source']}" for h in data["hits"])

    human = newswire("search", "--speaker", "Lars Eriksen", db=db)
    assert human.returncode == 0 and "stories" in human.stdout and "Eriksen" in human.stdout

    again = newswire("demo", db=db)
    assert f"{ARTICLES} stories" in again.stdout, "a second demo run duplicates nothing"

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
        runner = demo_runner(server, settings)
        loop = threading.Thread(target=runner.run_forever, args=(stop, on_cycle))
        loop.start()
        loop.join(timeout=300)
        assert not loop.is_alive()
        states = [f.state for f in runner.store.feeds()]
        runner.close()
    assert cycles[0].feeds_polled == 3 and cycles[0].indexed == ARTICLES
    assert all(s.next_check_at > s.last_checked_at for s in states if s.last_checked_at)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_a_killed_analysis_process_loses_nothing(tmp_path: Path, batch_size: int) -> None:
    # kill -9 one analysis process while batches are in flight: its batches come
    # back as errors, are retried one article at a time in a new pool, and every
    # article is indexed once (a batch of one too: the article did not kill the
    # process, so it is not failed)
    settings = demo_settings(tmp_path, analysis_processes=2, nlp_batch_size=batch_size)
    with DemoServer() as server:
        runner = demo_runner(server, settings)
        runner.analyzer.warm_up()
        first_pool = runner.analyzer._pool
        assert first_pool is not None
        victim = next(iter(first_pool._processes.values()))
        killer = threading.Timer(0.5, os.kill, (victim.pid, signal.SIGKILL))
        killer.start()
        try:
            report = runner.run_once()
            replaced = runner.analyzer._pool is not first_pool
            assert runner.index.count() == ARTICLES
            assert len(runner.store.records("done")) == ARTICLES
            assert runner.store.records("failed") == [] and runner.store.pending() == []
        finally:
            killer.cancel()
            runner.close()
    assert victim.exitcode == -signal.SIGKILL and replaced
    assert report.indexed == ARTICLES and report.failed == report.dead == 0


# The demo's names and its fetcher -----------------------------------------------------


def test_each_outlet_answers_under_its_own_host_name(tmp_path: Path) -> None:
    feeds, articles = corpus()
    with DemoServer() as server, server.fetcher(demo_settings(tmp_path)) as fetcher:
        for feed in feeds:
            url = server.site_feed_urls()[feed.slug][1]
            assert urlsplit(url).hostname == f"www.{feed.domain}"
            text = fetcher.get(url).text
            mine = [a for a in articles if a.feed == feed.slug]
            assert text.count(f"<link>http://www.{feed.domain}:") == len(mine)
            full = next(a for a in mine if a.page == "full")
            page = fetcher.get(url.replace("feed.xml", f"{full.slug}.html")).text
            assert f'rel="canonical" href="https://www.{feed.domain}/' in page
        other = feeds[1].slug  # an outlet's host serves that outlet only
        with pytest.raises(ClientError):
            fetcher.get(server.site_feed_urls()[feeds[0].slug][1].replace(feeds[0].slug, other))
        # 127.0.0.1 serves every outlet under its slug, for clients without the demo's names
        with Fetcher(demo_settings(tmp_path, allow_private_hosts="127.0.0.1/32")) as plain:
            for _, url in server.feed_urls().values():
                assert f"<link>{server.base_url}/" in plain.get(url).text


@pytest.mark.parametrize(
    ("url", "error", "reason"),
    [
        ("http://www.elsewhere.example:{port}/", NetworkError, "not a demo site"),
        ("http://localhost:{port}/robots.txt", NetworkError, "not a demo site"),
        ("http://www.harbortimes.example:{other}/", NetworkError, "not a demo site"),
        ("http://127.0.0.2:{port}/robots.txt", BlockedHostError, "non-public address"),
        ("http://10.1.2.3/", BlockedHostError, "non-public address"),
        ("http://[::1]:{port}/robots.txt", BlockedHostError, "non-public address"),
    ],
)
def test_the_demo_fetcher_reaches_the_demo_sites_and_nothing_else(
    tmp_path: Path, url: str, error: type[Exception], reason: str
) -> None:
    # Told to allow the whole private space, it still allows 127.0.0.1/32 only; a name
    # that is not a demo site's is refused without a DNS query, so nothing leaves here.
    settings = demo_settings(tmp_path, allow_private_hosts=True, http_timeout=3.0)
    with DemoServer() as server, server.fetcher(settings) as fetcher:
        port = server.httpd.port
        target = url.format(port=port, other=port + 1 if port < 65535 else port - 1)
        with pytest.raises(error, match=reason):
            fetcher.get(target, check_robots=False)
        assert fetcher.get(f"{server.base_url}/robots.txt").status == 200
