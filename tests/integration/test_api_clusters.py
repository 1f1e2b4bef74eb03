"""Clusters through a real `newswire serve`: collapsed search JSON, facets by clusters or
stories, the cluster API and page, and the search page's "and N more from …" line,
with hostile text escaped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article
from tests.clustered import WIRE, expected_counts, stories, story
from tests.integration.api_server import ApiServer

pytestmark = pytest.mark.integration

HOSTILE = '<img src=x onerror="alert(1)">Harbour toll & <b>fees</b>'


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp: Path = tmp_path_factory.mktemp("clusters")
    index = SqliteIndex(tmp / "clusters.db")
    index.upsert_many([*stories(), hostile()])
    index.close()
    server = ApiServer(tmp / "clusters.db", tmp / "api.log")
    yield server
    server.stop()


def hostile() -> Article:
    """A fourth outlet's take on the wire story, its headline written to attack a page."""
    return story(
        "bridge-4",
        "harbour-news.example",
        6,
        cluster="bridge-1",
        title=HOSTILE,
        body=WIRE,
        people=("Mara Quill",),
        against="toll plan",
    )


def get(api: ApiServer, path: str, **params: Any) -> httpx.Response:
    return httpx.get(api.url + path, params=params, timeout=30)


def test_search_collapses_by_default_and_expands_on_request(api: ApiServer) -> None:
    collapsed = get(api, "/api/search", q="toll", limit=50).json()
    assert (collapsed["total"], collapsed["stories"]) == (1, 4)
    [hit] = collapsed["hits"]
    assert hit["cluster"] == {
        "id": "bridge-1",
        "size": 4,
        "more": 3,
        "sources": sorted(
            {"wire.example", "coast.example", "valley.example", "harbour-news.example"}
            - {hit["source"]}
        ),
    }
    expanded = get(api, "/api/search", q="toll", limit=50, collapse="false").json()
    assert expanded["total"] == expanded["stories"] == 4
    assert {h["id"] for h in expanded["hits"]} == {"bridge-1", "bridge-2", "bridge-3", "bridge-4"}
    assert all(h["cluster"] is None for h in expanded["hits"])


@pytest.mark.parametrize(("facet_count", "clusters"), [(None, True), ("stories", False)])
def test_facets_count_as_asked(api: ApiServer, facet_count: str | None, clusters: bool) -> None:
    params = {"q": "toll"} | ({"facet_count": facet_count} if facet_count else {})
    facets = get(api, "/api/search", **params).json()["facets"]
    mara = next(v for v in facets["entities"]["PERSON"] if v["value"] == "Mara Quill")
    assert mara["count"] == (1 if clusters else 4)
    assert facets["stances"] == [{"value": "against", "count": 1 if clusters else 4}]


def test_bad_facet_count_is_refused(api: ApiServer) -> None:
    assert get(api, "/api/search", facet_count="copies").status_code == 422


def test_cluster_api_lists_stories_with_their_differences(api: ApiServer) -> None:
    c = get(api, "/api/clusters/bridge-1").json()
    assert c["id"] == "bridge-1" and c["size"] == 4 and c["copies"] == 1
    assert [s["id"] for s in c["stories"]] == ["bridge-1", "bridge-2", "bridge-3", "bridge-4"]
    kinds = {s["id"]: (s["kind"], s["duplicate_of"], s["own_headline"]) for s in c["stories"]}
    assert kinds == {
        "bridge-1": ("first", None, False),
        "bridge-2": ("copy", "bridge-1", False),
        "bridge-3": ("different", None, True),
        "bridge-4": ("different", None, True),
    }
    assert c["headlines"][0] == {"value": "Harbour bridge toll plan delayed", "count": 2}
    assert {v["value"] for v in c["sources"]} == {
        "wire.example",
        "coast.example",
        "valley.example",
        "harbour-news.example",
    }
    assert c["first_published"].startswith("2026-10-03")
    assert c["last_published"].startswith("2026-10-06")
    assert get(api, "/api/clusters/no-such").status_code == 404


def test_search_page_says_how_many_more_and_links_the_cluster(api: ApiServer) -> None:
    page = get(api, "/", q="toll").text
    assert "and 3 more from" in page
    assert 'href="/cluster/bridge-1"' in page
    assert "collapse=false" in page and "show every story" in page
    every = get(api, "/", q="toll", collapse="false").text
    assert "group copies" in every and "and 3 more" not in every
    assert every.count('class="hit"') == 4
    assert '<input type="hidden" name="collapse" value="false">' in every, (
        "a new search stays expanded"
    )


def test_cluster_page_escapes_what_outlets_wrote(api: ApiServer) -> None:
    page = get(api, "/cluster/bridge-1")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "<b>fees" not in page.text
    assert "&lt;img src=x onerror=" in page.text
    assert "copy of" in page.text and "told differently" in page.text
    assert "4</strong> stories from" in page.text
    missing = get(api, "/cluster/%3Cscript%3E")
    assert missing.status_code == 404 and "<script>" not in missing.text


def test_expected_counts_agree_with_the_page_facets(api: ApiServer) -> None:
    facets = get(api, "/api/search", q="harbour", limit=50).json()["facets"]
    matching = [a for a in stories() if "harbour" in (a.title + a.body).lower()]
    want = expected_counts([*matching, hostile()], clusters=True)
    assert {v["value"]: v["count"] for v in facets["sources"]} == want["sources"]
    assert {v["value"]: v["count"] for v in facets["dates"]} == want["dates"]
