"""Stories, not copies, end to end: two outlets on a real HTTP server on 127.0.0.1, one
story published twice (a wire copy with a site's boilerplate, a cut paragraph and a new
headline), the same event in another outlet's words, and an unrelated story; the
embedded runner fetches, analyses and indexes them, and the index holds each story's
``duplicate_of`` and ``cluster_id``. A second run changes nothing."""

from __future__ import annotations

from html import escape
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from pipeline.index import SearchQuery
from pipeline.runner import Runner
from pipeline.settings import Settings
from tests.conftest import FIXTURES

pytestmark = pytest.mark.integration

STORIES: dict[str, dict[str, Any]] = {
    s["id"]: s
    for s in yaml.safe_load((FIXTURES / "stories.yaml").read_text(encoding="utf-8"))["stories"]
}

# (outlet, path, fixture story, headline, paragraphs edit, hour of publication)
PAGES = [
    ("harbor", "/harbor/bridge-closed", "bridge-a", None, None, 6),
    ("harbor", "/harbor/school-budget", "budget", None, None, 7),
    (
        "coast",
        "/coast/wire/bridge",
        "bridge-a",
        "Cracked cables close harbor crossing",
        lambda p: ["Share this story: Facebook Twitter Email", *p[:-1], "Copyright 2026 Coast Daily."],
        9,
    ),
    ("coast", "/coast/commuters-stranded", "bridge-b", None, None, 10),
]  # fmt: skip


def page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<html lang='en'><head><title>{escape(title)}</title></head><body><article>"
        f"<h1>{escape(title)}</h1>{body}</article></body></html>"
    )


def feed(base: str, outlet: str) -> str:
    items = "".join(
        f"<item><title>{escape(title or STORIES[key]['title'])}</title><link>{base}{path}</link>"
        f"<guid>{path}</guid><pubDate>Mon, 02 Nov 2026 {hour:02d}:00:00 GMT</pubDate></item>"
        for o, path, key, title, _, hour in PAGES
        if o == outlet
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{outlet}</title>{items}</channel></rss>'


@pytest.fixture
def outlets(httpserver: HTTPServer) -> HTTPServer:
    base = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    for outlet in ("harbor", "coast"):
        httpserver.expect_request(f"/{outlet}.xml").respond_with_data(
            feed(base, outlet), content_type="application/rss+xml"
        )
    for _, path, key, title, edit, _ in PAGES:
        paragraphs = list(STORIES[key]["paragraphs"])
        httpserver.expect_request(path).respond_with_data(
            page(title or STORIES[key]["title"], edit(paragraphs) if edit else paragraphs),
            content_type="text/html",
        )
    return httpserver


def test_a_story_published_twice_is_one_story_in_one_cluster(
    outlets: HTTPServer, settings: Settings
) -> None:
    # the original's outlet is read first, the wire copy's after it (a story is placed
    # as it arrives: the first story with the text is the one the others copy)
    runner = Runner(settings.model_copy(update={"nlp_batch_size": 8}))
    indexed = 0
    for outlet in ("harbor", "coast"):
        runner.store.add_feed(outlets.url_for(f"/{outlet}.xml"), outlet, interval=600)
        indexed += runner.run_once().indexed
    assert indexed == len(PAGES)
    hits = runner.index.search(SearchQuery(limit=20, facets=False, collapse=False)).hits
    ids = {h.url.rsplit("/", 1)[-1]: h.id for h in hits}
    stored = {path: runner.index.get(i) for path, i in ids.items()}
    labels = {p: (a.duplicate_of, a.cluster_id) for p, a in stored.items() if a is not None}
    original = ids["bridge-closed"]
    assert labels == {
        "bridge-closed": (None, original),
        "school-budget": (None, ids["school-budget"]),
        "bridge": (original, original),  # the wire copy
        "commuters-stranded": (None, original),  # the same event in other words
    }
    # polled again: nothing new, nothing moves
    runner.run_once()
    again = {p: runner.index.get(i) for p, i in ids.items()}
    assert {p: (a.duplicate_of, a.cluster_id) for p, a in again.items() if a} == labels
    runner.close()
