"""The embedded runner's cadence: a fetched story is searchable as soon as its own
analysis ends, never held back by a slow page fetched beside it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import spacy
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipeline.runner import Runner
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

SLOW_S = 4.0
BODY = (
    "The harbour authority said on Monday that the northern pier would close for repairs "
    "until the spring, after engineers found cracks in two of its supports. "
) * 4


def page(title: str) -> str:
    return (
        f"<html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{BODY}</p><p>{BODY}</p></article></body></html>"
    )


@pytest.fixture
def site() -> Iterator[HTTPServer]:
    """A threaded server: the slow page must not hold the fast one back on its side."""
    server = HTTPServer("127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def blank_model(tmp_path: Path) -> str:
    """A tokenizer-only pipeline on disk: the processes load it in well under a second,
    and the entities step runs on it (no entities), so the test times the cadence."""
    path = tmp_path / "blank-model"
    spacy.blank("en").to_disk(path)
    return str(path)


@pytest.mark.parametrize("processes", [1, 2])
def test_a_story_is_indexed_while_a_slow_page_is_still_being_fetched(
    site: HTTPServer, settings: Settings, blank_model: str, processes: int
) -> None:
    served: dict[str, float] = {}

    def slow(request: Request) -> Response:
        time.sleep(SLOW_S)
        served["slow"] = time.time()
        return Response(page("Slow story"), content_type="text/html")

    base = site.url_for("").rstrip("/")
    items = "".join(
        f"<item><title>{name}</title><link>{base}/{name}</link><guid>{name}</guid></item>"
        for name in ("fast", "slow")
    )
    site.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    site.expect_request("/feed.xml").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Pier</title>{items}</channel></rss>',
        content_type="application/rss+xml",
    )
    site.expect_request("/fast").respond_with_data(page("Fast story"), content_type="text/html")
    site.expect_request("/slow").respond_with_handler(slow)
    runner = Runner(
        settings.model_copy(
            update={
                "spacy_model": blank_model,
                "analysis_steps": ["entities"],
                "analysis_processes": processes,
                "nlp_batch_size": 4,  # more than the feed holds: the batch never fills
                "http_timeout": 3 * SLOW_S,
            }
        )
    )
    try:
        runner.analyzer.warm_up()
        runner.store.add_feed(f"{base}/feed.xml", "pier", interval=600)
        report = runner.run_once()
        assert report.indexed == 2 and runner.index.count() == 2
        indexed = {
            r.url.rsplit("/", 1)[1]: datetime.fromisoformat(r.updated_at).timestamp()
            for r in runner.store.records("done")
        }
    finally:
        runner.close()
    # the fast story was searchable before the slow page had even been sent
    assert indexed["fast"] < served["slow"] - 1.0
    assert indexed["slow"] >= served["slow"]
