"""The watch routes attacked through a real `newswire serve`: writes without the key,
ids that are not ids, oversized and hostile bodies, script in queries and stories on
the page and in the Atom feed, and what reads (open by default) show of a webhook and
its secret."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from pipeline.store.sqlite import SqliteStore
from pipeline.watch_model import WatchMatch
from tests.integration.api_server import API_KEY, ApiServer

pytestmark = pytest.mark.integration

KEY = {"X-API-Key": API_KEY}
TOKEN = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"  # a chat service's incoming hook
SCRIPT = "<script>alert(1)</script>"


@dataclass
class Api:
    server: ApiServer
    db: Path
    log: Path

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("watch-api")
    db = tmp / "watch.db"
    SqliteStore(db).close()
    server = ApiServer(db, tmp / "api.log", NEWSWIRE_API_KEY=API_KEY)
    try:
        yield Api(server, db, tmp / "api.log")
    finally:
        server.stop()


@pytest.mark.parametrize(
    "key", [None, b"", b"wrong", API_KEY[:-1].encode(), b"k\xc3\xa9y", API_KEY.upper().encode()]
)
def test_writes_need_the_exact_key(api: Api, key: bytes | None) -> None:
    headers = {} if key is None else {"X-API-Key": key}
    before = len(httpx.get(f"{api.url}/watch").json())
    added = httpx.post(f"{api.url}/watch", json={"query": "water"}, headers=headers)
    assert added.status_code == 401, added.text
    made = httpx.post(f"{api.url}/watch", json={"query": "water"}, headers=KEY)
    assert made.status_code == 201
    gone = httpx.delete(f"{api.url}/watch/{made.json()['id']}", headers=headers)
    assert gone.status_code == 401
    assert len(httpx.get(f"{api.url}/watch").json()) == before + 1


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "a" * 10_000,
        "%C3%A9t%C3%A9",
        "%00",
        "x.atom.atom",
        "%2E%2E",
        "%20",
    ],
)
def test_ids_that_are_not_ids_are_refused(api: Api, path: str) -> None:
    for method in ("GET", "DELETE"):
        for suffix in ("", ".atom"):
            if method == "DELETE" and suffix:
                continue
            answer = httpx.request(method, f"{api.url}/watch/{path}{suffix}", headers=KEY)
            assert answer.status_code in (404, 405, 422), (method, path, answer.status_code)


@pytest.mark.parametrize(
    "body",
    [
        {"query": "water " * 100},
        {"query": "water", "entity": "E" * 201},
        {"query": "water", "webhook": "https://hooks.example/" + "x" * 2_000},
        {"query": "water", "webhook": "https://user:pw@hooks.example/in"},
        {"query": "water", "webhook": "javascript:alert(1)"},
        {"query": "water", "webhook": "file:///etc/passwd"},
        {"query": "water", "webhook": "http://169.254.169.254/latest/meta-data"},
        {"query": "water", "webhook": "http://127.0.0.1:6379/"},
        {"query": "water", "language": "en<script>"},
        {"query": "water", "stance": "evil"},
        {"query": "", "since": "9999-99-99"},
        {"query": ["water"]},
    ],
)
def test_hostile_watches_are_a_4xx(api: Api, body: dict[str, object]) -> None:
    before = httpx.get(f"{api.url}/watch").json()
    answer = httpx.post(f"{api.url}/watch", json=body, headers=KEY)
    assert 400 <= answer.status_code < 500, answer.text
    assert httpx.get(f"{api.url}/watch").json() == before


def test_reads_show_no_secret_and_no_webhook_path(api: Api) -> None:
    hook = f"https://hooks.example/services/{TOKEN}?x=1"
    made = httpx.post(f"{api.url}/watch", json={"query": "water", "webhook": hook}, headers=KEY)
    assert made.status_code == 201
    watch_id, secret = made.json()["id"], made.json()["secret"]
    assert made.json()["webhook"] == hook, "the one who adds it sees it whole, once"
    reads = [
        httpx.get(f"{api.url}/watch"),
        httpx.get(f"{api.url}/watch/{watch_id}"),
        httpx.get(f"{api.url}/watch/{watch_id}", headers={"Accept": "text/html"}),
        httpx.get(f"{api.url}/watch/{watch_id}.atom"),
    ]
    for answer in reads:
        assert answer.status_code == 200
        assert secret not in answer.text and TOKEN not in answer.text, answer.url
    [shown] = [w["webhook"] for w in httpx.get(f"{api.url}/watch").json() if w["id"] == watch_id]
    assert shown == "https://hooks.example/…"
    assert secret not in api.log.read_text() and TOKEN not in api.log.read_text()


def test_hostile_query_and_stories_are_inert_on_the_page_and_in_the_feed(
    api: Api,
) -> None:
    body = {"query": f"water {SCRIPT} ]]>", "entity": '"><img src=x onerror=alert(1)>'}
    made = httpx.post(f"{api.url}/watch", json=body, headers=KEY)
    assert made.status_code == 201, made.text
    watch_id = made.json()["id"]
    store = SqliteStore(api.db)
    try:
        store.add_matches(
            [
                WatchMatch(
                    watch_id=watch_id,
                    article_id=f"a{n}",
                    title=f"{SCRIPT} ]]> \x0b\x1b story {n}",
                    url=url,
                    source='"><svg onload=alert(1)>',
                    summary="]]><![CDATA[<script>alert(2)</script>",
                    matched_at=datetime.now(UTC),
                )
                for n, url in enumerate(
                    ["javascript:alert(1)", "data:text/html,x", "https://valley.example/ok"]
                )
            ]
        )
    finally:
        store.close()
    html = httpx.get(f"{api.url}/watch/{watch_id}", headers={"Accept": "text/html"}).text
    assert "<script>" not in html and "<img" not in html and "<svg" not in html
    assert "javascript:" not in html and 'href="data:' not in html
    assert 'href="https://valley.example/ok"' in html
    feed = feedparser.parse(httpx.get(f"{api.url}/watch/{watch_id}.atom").content)
    assert not feed.bozo, feed.get("bozo_exception")
    links = sorted(link.href for e in feed.entries for link in e.get("links", []))
    assert links == ["https://valley.example/ok"]
    assert all(SCRIPT in e.title for e in feed.entries), "escaped text, kept whole"
