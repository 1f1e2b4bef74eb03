"""The HTTP API over a real uvicorn server on 127.0.0.1 and the demo corpus."""

from __future__ import annotations

import base64
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pipeline.demo.server import FEED_PREFIX, corpus
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, Entity, Quote, Stance
from tests.integration.api_server import API_KEY, ApiServer

pytestmark = pytest.mark.integration

ARTICLES = len(corpus()[1])


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
        ({"source": "northernledger.example"}, lambda h: h["source"] == "northernledger.example"),
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
    params: dict[str, object] = {"limit": 7, "sort": "date", "collapse": "false"}
    while True:
        page = get(api, "/api/search", **params).json()
        seen += [h["id"] for h in page["hits"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    everything = get(api, "/api/search", collapse="false").json()["total"]
    assert len(seen) == len(set(seen)) == everything == ARTICLES


def test_article_and_entities(api: ApiServer) -> None:
    hit = get(api, "/api/search", entity="Marcus Hale", limit=1).json()["hits"][0]
    article = get(api, f"/api/articles/{hit['id']}").json()
    assert article["id"] == hit["id"] and article["body"] and article["quotes"]
    assert get(api, "/api/articles/nope").status_code == 404

    names = get(api, "/api/entities", prefix="lars").json()
    assert names[0] == {"name": "Lars Eriksen", "type": "PERSON", "count": names[0]["count"]}
    stories = get(api, "/api/search", entity="Lars Eriksen", collapse="false").json()["total"]
    assert names[0]["count"] == stories

    profile = get(api, "/api/entities/Marcus Hale").json()
    assert profile["type"] == "PERSON" and profile["stories"] >= 5
    # clusters per day: a cluster whose stories span two days counts on both
    days = [v["count"] for v in profile["mentions_over_time"]]
    assert max(days) <= profile["stories"] <= sum(days)
    assert profile["co_occurring"] and all(
        c["name"] != "Marcus Hale" for c in profile["co_occurring"]
    )
    assert any(s["stance"] == "against" for s in profile["stances_held"])
    assert profile["quotes"] and all(q["text"] for q in profile["quotes"])
    assert get(api, "/api/entities/Nobody Atall").status_code == 404


def test_feeds_health_and_metrics(api: ApiServer) -> None:
    feeds = get(api, "/api/feeds").json()
    per_feed = Counter(FEED_PREFIX + a.feed for a in corpus()[1])
    assert {f["feed_id"]: f["entries"]["done"] for f in feeds} == per_feed
    assert all(f["state"] == "ok" for f in feeds)
    health = get(api, "/health")
    assert health.status_code == 200 and health.json()["index"]["articles"] == ARTICLES
    metrics = get(api, "/metrics").text
    assert f"newswire_articles {ARTICLES}.0" in metrics and "newswire_feeds 3.0" in metrics
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


# Hostile clients (issue 15) ------------------------------------------------------------


def forged(raw: str) -> str:
    """A cursor as we make them (urlsafe base64 of JSON), around any JSON text."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


FORGED_CURSORS = [
    forged('{"after": 1}'),
    forged("[1]"),
    forged("[1, 2, 3]"),
    forged("[1, null]"),
    forged('[[1], "x"]'),
    forged('[{"a": 1}, "x"]'),
    forged('[1e999, "x"]'),
    forged('[NaN, "x"]'),
    forged('[123456789012345678901234567890, "x"]'),
    forged('[true, "x"]'),
    forged("[" * 300 + "]" * 300),
    forged('"just a string"'),
    base64.urlsafe_b64encode(b"\xff\xfe[1,").decode(),
    "ü" * 10,
]


@pytest.mark.parametrize(
    ("cursor", "sort"),
    [(c, sort) for c in FORGED_CURSORS for sort in ("relevance", "date")]
    + [
        # well formed, but of the wrong type for the sort: a date where a score goes...
        (forged('["2026-10-01T00:00:00+00:00", "x"]'), "relevance"),
        (forged('[null, "x"]'), "relevance"),
        # ... and a score where a date goes
        (forged('[-3.5, "x"]'), "date"),
    ],
)
def test_forged_cursors_get_a_422_naming_the_cursor(api: ApiServer, cursor: str, sort: str) -> None:
    r = get(api, "/api/search", q="harbor", sort=sort, cursor=cursor)
    assert r.status_code == 422, r.text
    assert [d["loc"] for d in r.json()["detail"]] == [["query", "cursor"]]


@pytest.mark.parametrize("cursor", FORGED_CURSORS[:12])
def test_forged_cursors_on_the_page_get_a_friendly_message(api: ApiServer, cursor: str) -> None:
    r = get(api, "/", q="harbor", cursor=cursor)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "This page link is not valid" in r.text and 'role="search"' in r.text


@pytest.fixture(scope="module")
def hostile(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server over a copy of the demo corpus where one story has a script URL and a
    huge title, and one feed a script URL, as an older or foreign writer might leave
    them (written past the model's checks, straight into the documents)."""
    db = tmp_path_factory.mktemp("hostile") / "demo.db"
    shutil.copy(demo_db, db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE articles SET doc = json_set(doc, '$.url', ?, '$.canonical_url', ?,"
            " '$.title', ?) WHERE rowid = (SELECT MIN(rowid) FROM articles)",
            ("javascript:alert(1)", "javascript:alert(1)", "harbor " + "T" * 5000),
        )
        conn.execute(
            "UPDATE feeds SET state = json_set(state, '$.url', ?), name = ?"
            " WHERE feed_id = (SELECT MIN(feed_id) FROM feeds)",
            ("javascript:alert(2)", "F" * 5000),
        )
    server = ApiServer(db, db.parent / "api.log", NEWSWIRE_API_KEY=API_KEY)
    yield server
    server.stop()


def test_script_urls_are_never_links_and_titles_are_capped(hostile: ApiServer) -> None:
    for path, params, shown in [
        ("/", {"sort": "date", "limit": 100, "collapse": "false"}, "harbor " + "T" * 100),
        ("/feeds", {}, "javascript:alert(2)"),
    ]:
        page = get(hostile, path, **params)
        assert page.status_code == 200
        hrefs = re.findall(r'(?:href|src|action)="([^"]*)"', page.text)
        assert hrefs and not [h for h in hrefs if not h.startswith(("/", "#", "http"))]
        assert shown in page.text, "the story and the feed are still listed, as text"
        assert "T" * 500 not in page.text and "F" * 500 not in page.text


@pytest.mark.parametrize(
    "path", ["/", "/?q=harbor", "/feeds", "/entity/Marcus Hale", "/entity/Nobody", "/api/search/"]
)
def test_pages_and_redirects_never_use_the_host_header(api: ApiServer, path: str) -> None:
    r = httpx.get(f"{api.url}{path}", headers={"Host": "evil.example"}, timeout=30)
    assert "evil.example" not in r.text and "evil.example" not in r.headers.get("location", "")
    if r.status_code != 404 or path.startswith("/entity"):
        links = re.findall(r'(?:href|src|action)="([^"]*)"', r.text)
        assert {"/static/style.css", "/static/app.js", "/feeds"} <= set(links)


@pytest.mark.parametrize("source", ["%", "_xample", "%example", "northernledger%"])
def test_source_wildcards_are_literal(api: ApiServer, source: str) -> None:
    assert get(api, "/api/search", source=source).json()["total"] == 0


def test_source_filter_still_matches_its_own_and_subdomains(api: ApiServer) -> None:
    def total(source: str) -> int:
        return int(get(api, "/api/search", source=source).json()["total"])

    ledger = total("northernledger.example")
    assert ledger == total("www.northernledger.example") == total("NorthernLedger.example") > 0
    assert total("example") > ledger, "a domain matches its subdomains"


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_key_turns_writes_off(demo_db: Path, tmp_path: Path, key: str) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    server = ApiServer(db, tmp_path / "api.log", NEWSWIRE_API_KEY=key)
    try:
        feed = {"url": "https://new.example/rss"}
        for sent in [None, ""]:  # HTTP strips blanks: "   " arrives as ""
            headers = {} if sent is None else {"X-API-Key": sent}
            r = httpx.post(f"{server.url}/api/feeds", json=feed, headers=headers)
            assert r.status_code == 403, (sent, r.status_code)
            r = httpx.delete(f"{server.url}/api/feeds/demo-ledger", headers=headers)
            assert r.status_code == 403
        assert len(httpx.get(f"{server.url}/api/feeds").json()) == 3
    finally:
        server.stop()


@pytest.mark.parametrize(
    "sent", ["clé-secrète".encode(), "ключ".encode(), b"\xff\xfe", API_KEY.encode() + b"\xc3\xa9"]
)
def test_non_ascii_keys_are_refused_not_crashed(api: ApiServer, sent: bytes) -> None:
    r = httpx.post(f"{api.url}/api/deadletters/replay", headers={"X-API-Key": sent})
    assert r.status_code == 401


def test_a_non_ascii_key_works_when_it_is_the_key(demo_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    server = ApiServer(db, tmp_path / "api.log", NEWSWIRE_API_KEY="clé-ключ")
    try:
        url = f"{server.url}/api/deadletters/replay"
        assert httpx.post(url, headers={"X-API-Key": "clé-ключ".encode()}).status_code == 200
        assert httpx.post(url, headers={"X-API-Key": b"cle-kljuch"}).status_code == 401
    finally:
        server.stop()


def _garbage(db: Path) -> None:
    db.write_bytes(b"this is not a database " * 400)


def _empty(db: Path) -> None:
    db.write_bytes(b"")


@pytest.mark.parametrize("damage", [_garbage, _empty])
def test_health_is_503_with_a_reason_on_a_damaged_database(
    demo_db: Path, tmp_path: Path, damage: object
) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    server = ApiServer(db, tmp_path / "api.log")
    try:
        assert httpx.get(f"{server.url}/health").status_code == 200
        for extra in (db.with_name("copy.db-wal"), db.with_name("copy.db-shm")):
            extra.unlink(missing_ok=True)
        damage(db)  # type: ignore[operator]
        r = httpx.get(f"{server.url}/health")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "degraded"
        assert not (body["index"]["ok"] and body["store"]["ok"])
        assert any(part.get("error") for part in (body["index"], body["store"]))
        assert httpx.get(f"{server.url}/metrics").status_code == 200, "a scrape shows what it can"
    finally:
        server.stop()


def test_health_is_503_when_the_database_is_garbage_from_the_start(tmp_path: Path) -> None:
    db = tmp_path / "garbage.db"
    _garbage(db)
    server = ApiServer(db, tmp_path / "api.log")
    try:
        r = httpx.get(f"{server.url}/health")
        assert r.status_code == 503, r.text
        assert "database" in r.json()["index"]["error"]
    finally:
        server.stop()


# stance targets ------------------------------------------------------------------------

HALE = "We will not sign this ceasefire proposal as written."
VASQUEZ = "The ceasefire proposal deserves a fair hearing today."
RAMAN = "The rent cap will empty our shelves by spring."


def stance_article(n: int, body: str, quotes: list[Quote], stances: list[Stance]) -> Article:
    return Article(
        id=f"stance-{n}",
        url=f"https://stances.example/{n}",
        canonical_url=f"https://stances.example/{n}",
        source="stances.example",
        title=f"Where they stand {n}",
        body=body,
        published_at=datetime(2026, 11, n, tzinfo=UTC),
        entities=[
            Entity(name=name, type="PERSON", mentions=1, salience=0.5)
            for name in ("Marcus Hale", "Elena Vasquez", "Lena Berg")
            if name in body
        ],
        quotes=quotes,
        stances=stances,
    )


def said(speaker: str, text: str, body: str) -> Quote:
    start = body.index(text)
    return Quote(
        speaker=speaker,
        speaker_type="PERSON",
        cue="said",
        text=text,
        direct=True,
        start=start,
        end=start + len(text),
    )


def held(holder: str, label: str, target: str, evidence: str, body: str | None) -> Stance:
    """A stance with its evidence's offsets in ``body`` (none when ``body`` is None: a
    document stored before stances had them)."""
    start = body.index(evidence) if body else 0
    return Stance(
        holder=holder,
        target=target,
        target_type="PERSON" if target == "Elena Vasquez" else "ISSUE",
        stance=label,  # type: ignore[arg-type]
        confidence=0.8,
        evidence=evidence,
        start=start,
        end=start + len(evidence) if body else 0,
    )


def stance_corpus() -> list[Article]:
    one = f'Marcus Hale said: "{HALE}" Elena Vasquez replied: "{VASQUEZ}"'
    two = f'Lena Berg said: "{RAMAN}" Marcus Hale praised Elena Vasquez.'
    three = f'Elena Vasquez said "{VASQUEZ}" at the council.'
    return [
        # the stances listed in the other order than the quotes: a card takes the one
        # its quote carries, by offsets, not the one beside it
        stance_article(
            1,
            one,
            [said("Marcus Hale", HALE, one), said("Elena Vasquez", VASQUEZ, one)],
            [
                held("Elena Vasquez", "favor", "ceasefire proposal", f'replied: "{VASQUEZ}"', one),
                held("Marcus Hale", "against", "ceasefire proposal", f'said: "{HALE}"', one),
            ],
        ),
        # a stance no quote carries gets its own card
        stance_article(
            2,
            two,
            [said("Lena Berg", RAMAN, two)],
            [
                held("Marcus Hale", "favor", "Elena Vasquez", "Marcus Hale praised Elena Vasquez.", two),
                held("Lena Berg", "against", "rent cap", RAMAN, two),
            ],
        ),
        # no offsets (an older document): the evidence holding the quote's text
        stance_article(
            3,
            three,
            [said("Elena Vasquez", VASQUEZ, three)],
            [
                held("Elena Vasquez", "favor", "new ceasefire proposal", three, None),
                # a neutral stance: no position, so neither filtered on nor profiled
                held("Elena Vasquez", "neutral", "rent cap", "at the council.", None),
            ],
        ),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def stances_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server over stories written by us whose stances have issue targets."""
    db = tmp_path_factory.mktemp("stances") / "stances.db"
    index = SqliteIndex(db)
    index.upsert_many(stance_corpus())
    index.close()
    server = ApiServer(db, db.parent / "api.log")
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({"target": "ceasefire proposal"}, {"stance-1", "stance-3"}),
        ({"target": "Ceasefire"}, {"stance-1", "stance-3"}),
        ({"target": "ceasefire proposal", "stance": "against"}, {"stance-1"}),
        # one stance: Hale is against the proposal and for Vasquez, never for the proposal
        ({"target": "ceasefire", "stance": "favor", "speaker": "Marcus Hale"}, set()),
        ({"target": "vasquez", "stance": "favor", "speaker": "marcus hale"}, {"stance-2"}),
        ({"target": "cap", "q": "shelves"}, {"stance-2"}),
        ({"target": "fire"}, set()),
        ({"target": "rent cap"}, {"stance-2"}),  # story 3's stance on it is neutral
        ({"target": "rent cap", "stance": "neutral"}, {"stance-3"}),
    ],
)
def test_target_parameter(stances_api: ApiServer, params: dict[str, str], ids: set[str]) -> None:
    body = get(stances_api, "/api/search", limit=100, **params).json()
    assert {h["id"] for h in body["hits"]} == ids and body["total"] == len(ids)


def test_targets_facet_in_the_api(stances_api: ApiServer) -> None:
    targets = get(stances_api, "/api/search").json()["facets"]["targets"]
    assert all(set(t) == {"value", "stance", "type", "count"} for t in targets)
    assert {(t["value"], t["type"]) for t in targets} >= {
        ("Elena Vasquez", "PERSON"),
        ("rent cap", "ISSUE"),
    }
    assert {(t["value"], t["stance"], t["count"]) for t in targets} == {
        ("ceasefire proposal", "against", 1),
        ("ceasefire proposal", "favor", 1),
        ("Elena Vasquez", "favor", 1),
        ("new ceasefire proposal", "favor", 1),
        ("rent cap", "against", 1),
    }
    hits = get(stances_api, "/api/search").json()["hits"]
    assert hits and all("quotes" not in h for h in hits), "quotes are the page's, not the JSON's"
    too_long = get(stances_api, "/api/search", target="x" * 201)
    assert too_long.status_code == 422 and "target" in too_long.text


def test_profiles_of_issues_and_of_their_holders(stances_api: ApiServer) -> None:
    issue = get(stances_api, "/api/entities/Ceasefire Proposal").json()
    assert (issue["type"], issue["stories"], issue["stances_held"]) == ("ISSUE", 1, [])
    assert {(s["other"], s["stance"]) for s in issue["stances_received"]} == {
        ("Marcus Hale", "against"),
        ("Elena Vasquez", "favor"),
    }
    assert get(stances_api, "/api/entities/cease").status_code == 404, "no target is 'cease'"
    assert get(stances_api, "/api/entities/ceasefire").status_code == 404, "only longer ones"
    vasquez = get(stances_api, "/api/entities/Elena Vasquez").json()
    assert vasquez["type"] == "PERSON"
    assert [(s["other"], s["stance"]) for s in vasquez["stances_received"]] == [
        ("Marcus Hale", "favor")
    ]
    assert {(s["other"], s["other_type"]) for s in vasquez["stances_held"]} == {
        ("ceasefire proposal", "ISSUE"),
        ("new ceasefire proposal", "ISSUE"),
    }


def cards(page: str) -> list[str]:
    return re.findall(r"<blockquote class=\"quote[^\"]*\">(.*?)</blockquote>", page, re.S)


def test_quote_cards_wear_their_own_badges(stances_api: ApiServer) -> None:
    page = get(stances_api, "/", sort="date").text
    found = {c.split("</p>")[0]: re.findall(r'class="badge (\w+)"', c) for c in cards(page)}
    # the quotes themselves, in quotation marks, each with the stance it carries
    assert {f"“{HALE}”", f"“{VASQUEZ}”", f"“{RAMAN}”"} <= {p.strip()[3:] for p in found}
    by_quote = {
        text: badges for p, badges in found.items() for text in (HALE, VASQUEZ, RAMAN) if text in p
    }
    assert by_quote[HALE] == ["against"] and by_quote[VASQUEZ] == ["favor"]
    assert by_quote[RAMAN] == ["against"]
    assert any(
        "Marcus Hale praised Elena Vasquez." in p and b == ["favor"] for p, b in found.items()
    )
    # the sidebar: each target with its label filters on click
    assert "ceasefire proposal (against)" in page
    assert "/?sort=date&amp;target=ceasefire+proposal&amp;stance=against" in page
