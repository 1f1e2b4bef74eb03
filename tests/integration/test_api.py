"""The HTTP API over a real uvicorn server on 127.0.0.1 and the demo corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.integration.api_server import API_KEY, ApiServer

pytestmark = pytest.mark.integration


def get(api: ApiServer, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{api.url}{path}", params=params, timeout=30)  # type: ignore[arg-type]


def test_search_follows_the_contract(api: ApiServer) -> None:
    body = get(api, "/api/search", q="harbor bridge").json()
    assert body["total"] >= 1
    hit = body["hits"][0]
    assert {
        "id",
        "title",
        "url",
        "source",
        "published_at",
        "snippet",
        "score",
        "entities",
        "stances",
    } <= set(hit)
    assert "<mark>" in hit["snippet"]
    facets = body["facets"]
    assert {"entities", "sources", "stances"} <= set(facets)
    assert all(
        {"value", "count"} == set(v) for values in facets["entities"].values() for v in values
    )


@pytest.mark.parametrize(
    ("params", "check"),
    [
        (
            {"entity": "Lars Eriksen"},
            lambda h: any(e["name"] == "Lars Eriksen" for e in h["entities"]),
        ),
        ({"type": "LAW"}, lambda h: any(e["type"] == "LAW" for e in h["entities"])),
        (
            {"speaker": "Marcus Hale", "stance": "against"},
            lambda h: any(
                s["holder"] == "Marcus Hale" and s["stance"] == "against" for s in h["stances"]
            ),
        ),
        ({"source": "127.0.0.1"}, lambda h: h["source"] == "127.0.0.1"),  # the demo sites' host
        (
            {"since": "2026-10-20", "until": "2026-10-25"},
            lambda h: "2026-10-20" <= h["published_at"][:10] <= "2026-10-25",
        ),
    ],
)
def test_filters(api: ApiServer, params: dict[str, str], check: object) -> None:
    body = get(api, "/api/search", limit=100, **params).json()
    assert body["total"] >= 1 and len(body["hits"]) == body["total"]
    assert all(check(h) for h in body["hits"])  # type: ignore[operator]


def test_cursor_pagination_visits_every_story_once(api: ApiServer) -> None:
    seen: list[str] = []
    params: dict[str, object] = {"limit": 7, "sort": "date"}
    while True:
        page = get(api, "/api/search", **params).json()
        seen += [h["id"] for h in page["hits"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == get(api, "/api/search").json()["total"] == 30


def test_article_and_entities(api: ApiServer) -> None:
    hit = get(api, "/api/search", entity="Marcus Hale", limit=1).json()["hits"][0]
    article = get(api, f"/api/articles/{hit['id']}").json()
    assert article["id"] == hit["id"] and article["body"] and article["quotes"]
    assert get(api, "/api/articles/nope").status_code == 404

    names = get(api, "/api/entities", prefix="lars").json()
    assert names[0] == {"name": "Lars Eriksen", "type": "PERSON", "count": names[0]["count"]}
    assert names[0]["count"] == get(api, "/api/search", entity="Lars Eriksen").json()["total"]

    profile = get(api, "/api/entities/Marcus Hale").json()
    assert profile["type"] == "PERSON" and profile["stories"] >= 5
    assert sum(v["count"] for v in profile["mentions_over_time"]) == profile["stories"]
    assert profile["co_occurring"] and all(
        c["name"] != "Marcus Hale" for c in profile["co_occurring"]
    )
    assert any(s["stance"] == "against" for s in profile["stances_held"])
    assert profile["quotes"] and all(q["text"] for q in profile["quotes"])
    assert get(api, "/api/entities/Nobody Atall").status_code == 404


def test_feeds_health_and_metrics(api: ApiServer) -> None:
    feeds = get(api, "/api/feeds").json()
    assert len(feeds) == 3 and all(f["state"] == "ok" and f["entries"]["done"] == 10 for f in feeds)
    health = get(api, "/health")
    assert health.status_code == 200 and health.json()["index"]["articles"] == 30
    metrics = get(api, "/metrics").text
    assert "newswire_articles 30.0" in metrics and "newswire_feeds 3.0" in metrics
    assert 'newswire_http_requests_total{method="GET",route="/health",status="200"}' in metrics


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"stance": "angry"}, "stance"),
        ({"type": "ALIEN"}, "type"),
        ({"since": "last week"}, "since"),
        ({"sort": "random"}, "sort"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_parameters_get_a_422_naming_them(
    api: ApiServer, params: dict[str, object], param: str
) -> None:
    r = get(api, "/api/search", **params)
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [["query", param]]


def test_hostile_queries_never_fail(api: ApiServer) -> None:
    for q in [
        '"unbalanced',
        "OR OR",
        "*",
        "-",
        "NEAR(a b)",
        "a\x00b",
        "'; DROP TABLE articles; --",
        "ü" * 400,
    ]:
        assert get(api, "/api/search", q=q).status_code == 200, q


def test_state_changes_need_the_key(api: ApiServer) -> None:
    feed = {"url": "https://new.example/rss", "name": "New"}
    assert httpx.post(f"{api.url}/api/feeds", json=feed).status_code == 401
    assert (
        httpx.post(f"{api.url}/api/feeds", json=feed, headers={"X-API-Key": "wrong"}).status_code
        == 401
    )
    added = httpx.post(f"{api.url}/api/feeds", json=feed, headers={"X-API-Key": API_KEY})
    assert added.status_code == 201 and added.json()["url"] == feed["url"]
    bad = httpx.post(
        f"{api.url}/api/feeds", json={"url": "not a url"}, headers={"X-API-Key": API_KEY}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "url"]
    fid = added.json()["feed_id"]
    assert httpx.delete(f"{api.url}/api/feeds/{fid}").status_code == 401
    assert (
        httpx.delete(f"{api.url}/api/feeds/{fid}", headers={"X-API-Key": API_KEY}).status_code
        == 204
    )
    assert len(get(api, "/api/feeds").json()) == 3
    replay = httpx.post(f"{api.url}/api/deadletters/replay", headers={"X-API-Key": API_KEY})
    assert replay.status_code == 200 and replay.json() == {"replayed": 0}
    assert get(api, "/api/deadletters").json() == []


def test_reads_can_be_closed_and_writes_are_off_without_a_key(
    demo_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    closed = ApiServer(db, tmp_path / "api.log", NEWSWIRE_API_OPEN_READS="false")
    try:
        assert httpx.get(f"{closed.url}/api/search").status_code == 403
        assert httpx.get(f"{closed.url}/").status_code == 403
        assert httpx.post(f"{closed.url}/api/deadletters/replay").status_code == 403
        assert httpx.get(f"{closed.url}/health").status_code == 200, "health stays open for probes"
    finally:
        closed.stop()


def test_search_page_works_without_javascript(api: ApiServer) -> None:
    page = get(api, "/", q="harbor bridge", stance="against").text
    assert 'role="search"' in page and "<mark>" in page
    assert (
        page.count('class="hit"')
        == get(api, "/api/search", q="harbor bridge", stance="against").json()["total"]
    )
    entity = get(api, "/entity/Marcus Hale").text
    assert "Stances held" in entity and "Marcus Hale" in entity
    assert get(api, "/entity/Nobody Atall").status_code == 404
    assert "Feeds" in get(api, "/feeds").text
