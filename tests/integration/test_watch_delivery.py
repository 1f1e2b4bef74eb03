"""Watches end to end: a local webhook receiver (http.server on 127.0.0.1 recording
POSTs), retries and dead letters, the address rules under a simulated resolver, and
the embedded runner delivering a matching new story to the webhook and to the Atom
feed of a real `newswire serve` within one poll cycle."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from pytest_httpserver import HTTPServer

from pipeline.policies import RetryPolicy
from pipeline.runner import Runner
from pipeline.settings import Settings
from pipeline.store.sqlite import SqliteStore
from pipeline.watch_delivery import SIGNATURE_HEADER, WebhookSender, deliver_due
from pipeline.watch_model import Watch, WatchMatch
from pipeline.watches import new_watch
from tests.conftest import newswire
from tests.integration.api_server import API_KEY, ApiServer
from tests.integration.hostile_server import HostileServer
from tests.integration.test_feed_failures import page, rss

pytestmark = pytest.mark.integration

NO_WAIT = RetryPolicy(max_attempts=3, backoff_base=0.0, backoff_cap=0.0)


@dataclass
class Receiver:
    """A webhook receiver: answers each POST with the next of ``statuses`` (200 once
    they run out) and records what it was sent."""

    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def delivered(self) -> list[dict[str, Any]]:
        return [json.loads(body) for status, _, body in self.posts if status == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                status = rec.statuses.pop(0) if rec.statuses else 200
                rec.posts.append((status, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


def loopback(settings: Settings) -> Settings:
    """The receiver is on 127.0.0.1: webhooks need the allowlist, as fetches do."""
    return settings.model_copy(
        update={
            "allow_private_hosts": Settings(allow_private_hosts="127.0.0.0/8").allow_private_hosts
        }
    )


def stored_watch(store: SqliteStore, webhook: str) -> Watch:
    watch = new_watch("water", webhook=webhook, allow_private=True)
    store.add_watch(watch)
    store.add_matches(
        [
            WatchMatch(
                watch_id=watch.id,
                article_id="a1",
                title="Water restrictions announced",
                url="https://valley.example/water",
                matched_at=datetime.now(UTC),
                state="pending",
            )
        ]
    )
    return watch


def verified(watch: Watch, headers: dict[str, str], body: bytes) -> bool:
    mac = hmac.new(watch.secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers[SIGNATURE_HEADER.lower()], f"sha256={mac}")


def test_a_receiver_failing_twice_gets_the_story_once(
    receiver: Receiver, settings: Settings
) -> None:
    receiver.statuses = [500, 500]
    store = SqliteStore(settings.db)
    watch = stored_watch(store, receiver.url)
    sender = WebhookSender(loopback(settings))
    reports = [deliver_due(store, sender, NO_WAIT) for _ in range(4)]
    assert [r.delivered for r in reports] == [0, 0, 1, 0]
    assert [r.retrying for r in reports] == [1, 1, 0, 0]
    assert [status for status, _, _ in receiver.posts] == [500, 500, 200]
    [sent] = receiver.delivered()
    assert sent["article"]["id"] == "a1" and sent["watch"]["id"] == watch.id
    for _, headers, body in receiver.posts:
        assert verified(watch, headers, body)
        assert headers["x-newswire-delivery"] == f"{watch.id}:a1"
    [m] = store.matches(watch.id)
    assert (m.state, m.attempts, m.last_error) == ("delivered", 2, None)
    sender.close()
    store.close()


def test_dead_letter_after_the_last_attempt_then_replay(
    receiver: Receiver, settings: Settings
) -> None:
    receiver.statuses = [503, 503]
    store = SqliteStore(settings.db)
    watch = stored_watch(store, receiver.url)
    sender = WebhookSender(loopback(settings))
    policy = RetryPolicy(max_attempts=2, backoff_base=0.0, backoff_cap=0.0)
    assert deliver_due(store, sender, policy).retrying == 1
    assert deliver_due(store, sender, policy).dead == 1
    assert deliver_due(store, sender, policy).delivered == 0, "a dead letter waits for replay"
    assert store.delivery_counts() == {watch.id: {"dead": 1}}
    [dead] = store.matches(watch.id)
    assert (dead.attempts, dead.last_error) == (2, "HTTP 503")
    # listed by `watch list`, `watch show` and `status`; replayed by `watch replay`
    [row] = json.loads(newswire("watch", "list", "--json", db=settings.db).stdout)
    assert (row["id"], row["matches"], "secret" in row) == (watch.id, {"dead": 1}, False)
    shown = json.loads(newswire("watch", "show", watch.id, "--json", db=settings.db).stdout)
    assert [(m["state"], m["last_error"]) for m in shown["matches"]] == [("dead", "HTTP 503")]
    status = json.loads(newswire("status", "--json", db=settings.db).stdout)
    assert status["webhook_dead_letters"] == 1
    replayed = newswire("watch", "replay", db=settings.db)
    assert replayed.returncode == 0 and "replayed 1 deliveries" in replayed.stdout
    assert deliver_due(store, sender, policy).delivered == 1
    assert len(receiver.delivered()) == 1
    sender.close()
    store.close()


def fake_resolver(answers: dict[str, Sequence[str]]) -> Any:
    """Names answered by the test; any other name is a lookup failure (nothing real)."""

    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise OSError(f"unknown test name {host}")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    ("host", "allow", "reason"),
    [
        ("metadata.test", "true", "169.254.169.254 (a cloud metadata endpoint)"),
        (
            "intranet.test",
            "",
            "non-public address 10.1.2.3 (allow its network in NEWSWIRE_ALLOW_PRIVATE_HOSTS)",
        ),
        ("loop.test", "", "non-public address 127.0.0.1 (allow its network"),
    ],
)
def test_a_webhook_to_a_private_or_metadata_address_is_refused(
    receiver: Receiver, settings: Settings, host: str, allow: str, reason: str
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    resolver = fake_resolver(
        {
            "metadata.test": ["169.254.169.254"],
            "intranet.test": ["10.1.2.3"],
            "loop.test": ["127.0.0.1"],
        }
    )
    store = SqliteStore(settings.db)
    # a host name passes when the watch is added; its addresses are checked at delivery
    watch = stored_watch(store, f"http://{host}:{port}/hook")
    guarded = settings.model_copy(
        update={"allow_private_hosts": Settings(allow_private_hosts=allow).allow_private_hosts}
    )
    sender = WebhookSender(guarded, resolver=resolver)
    report = deliver_due(store, sender, NO_WAIT)
    assert (report.delivered, report.retrying, report.dead) == (0, 0, 1), "refused at once"
    [m] = store.matches(watch.id)
    assert m.state == "dead" and reason in (m.last_error or "")
    assert receiver.posts == []
    # the same name allowed by the allowlist reaches the receiver (loopback only)
    if host == "loop.test":
        open_sender = WebhookSender(loopback(settings), resolver=resolver)
        store.replay_deliveries()
        assert deliver_due(store, open_sender, NO_WAIT).delivered == 1
        open_sender.close()
    sender.close()
    store.close()


# end to end ------------------------------------------------------------------------------


FOOTBALL = (
    "<html lang='en'><head><title>Cup final tonight</title></head><body><article>"
    "<h1>Cup final tonight</h1>"
    + "".join(
        f"<p>{p}</p>"
        for p in [
            "The cup final kicks off at eight in the evening at the old stadium by the river, "
            "where both clubs have sold every ticket they were given for the match.",
            "“We have waited forty years for a night like this,” said the club captain, Ada "
            "Lund, after the last training session on Monday afternoon.",
            "The visiting side won the league meeting in March and arrives unbeaten in ten "
            "games, according to the league's published tables.",
        ]
    )
    + "</article></body></html>"
)


@pytest.fixture
def news_site(httpserver: HTTPServer) -> HTTPServer:
    base = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(
            base,
            [
                ("Water restrictions announced", "/water", "The board cuts water use."),
                ("Cup final tonight", "/football", "The final kicks off at eight."),
            ],
        ),
        content_type="application/rss+xml",
    )
    httpserver.expect_request("/water").respond_with_data(
        page("Water restrictions announced"), content_type="text/html"
    )
    httpserver.expect_request("/football").respond_with_data(FOOTBALL, content_type="text/html")
    return httpserver


def test_a_watch_delivers_a_new_matching_story_within_one_poll_cycle(
    news_site: HTTPServer, receiver: Receiver, settings: Settings, nlp: Any, tmp_path: Path
) -> None:
    api = ApiServer(
        settings.db,
        tmp_path / "api.log",
        NEWSWIRE_API_KEY=API_KEY,
        NEWSWIRE_ALLOW_PRIVATE_HOSTS="127.0.0.0/8",
    )
    try:
        wanted = {"query": "reservoir", "webhook": receiver.url}
        assert httpx.post(f"{api.url}/watch", json=wanted).status_code == 401
        added = httpx.post(f"{api.url}/watch", json=wanted, headers={"X-API-Key": API_KEY})
        assert added.status_code == 201, added.text
        watch_id, secret = added.json()["id"], added.json()["secret"]
        assert "secret" not in httpx.get(f"{api.url}/watch").json()[0]

        runner = Runner(loopback(settings), nlp=nlp)
        runner.store.add_feed(news_site.url_for("/feed.xml"), "valley", interval=600)
        report = runner.run_once()  # one poll cycle: poll, fetch, analyse, index, deliver
        runner.close()
        assert report.indexed == 2

        [(status, headers, body)] = receiver.posts
        sent = json.loads(body)
        assert status == 200 and sent["article"]["title"] == "Water restrictions announced"
        mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-newswire-signature"] == f"sha256={mac}"

        detail = httpx.get(f"{api.url}/watch/{watch_id}").json()
        assert [m["title"] for m in detail["recent"]] == ["Water restrictions announced"]
        assert detail["matches"] == {"delivered": 1}
        html = httpx.get(f"{api.url}/watch/{watch_id}", headers={"Accept": "text/html"})
        assert html.headers["content-type"].startswith("text/html")
        assert "Water restrictions announced" in html.text

        atom = httpx.get(f"{api.url}/watch/{watch_id}.atom")
        assert atom.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(atom.content)
        assert not feed.bozo
        assert [e.title for e in feed.entries] == ["Water restrictions announced"]
        assert feed.entries[0].link == news_site.url_for("/water")

        assert httpx.delete(f"{api.url}/watch/{watch_id}").status_code == 401
        gone = httpx.delete(f"{api.url}/watch/{watch_id}", headers={"X-API-Key": API_KEY})
        assert gone.status_code == 204
        assert httpx.get(f"{api.url}/watch/{watch_id}.atom").status_code == 404
    finally:
        api.stop()


def test_watch_commands(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    added = newswire("watch", "add", "water", "--source", "valley.example", "--json", db=db)
    assert added.returncode == 0, added.stderr
    made = json.loads(added.stdout)
    assert made["filters"]["source"] == "valley.example" and len(made["secret"]) >= 32
    refused = newswire("watch", "add", "water", "--webhook", "http://169.254.169.254/latest", db=db)
    assert refused.returncode == 1
    assert "cloud metadata endpoint" in refused.stderr and refused.stderr.startswith("error:")
    [row] = json.loads(newswire("watch", "list", "--json", db=db).stdout)
    assert row["id"] == made["id"] and "secret" not in row
    assert newswire("watch", "remove", made["id"], db=db).returncode == 0
    again = newswire("watch", "remove", made["id"], db=db)
    assert again.returncode == 1 and f"no such watch: {made['id']}" in again.stderr
    assert json.loads(newswire("watch", "list", "--json", db=db).stdout) == []


def test_watch_show_prints_a_webhook_as_text(tmp_path: Path) -> None:
    """Rich markup in a webhook URL is printed, never interpreted by the terminal."""
    db = tmp_path / "cli.db"
    hook = "https://hooks.example/[bold]in[/bold]"
    added = newswire("watch", "add", "water", "--webhook", hook, "--json", db=db)
    assert added.returncode == 0, added.stderr
    shown = newswire("watch", "show", json.loads(added.stdout)["id"], db=db)
    assert shown.returncode == 0 and hook in shown.stdout, shown.stdout


@pytest.mark.parametrize(
    ("path", "state"),
    [
        ("/silent", "pending"),  # never answers: the time budget ends it, retried later
        ("/slow-status", "pending"),  # a status line trickled a byte at a time
        ("/slow-headers", "pending"),
        ("/endless", "delivered"),  # 200 and a body without end: the body is never read
        ("/gzip-bomb", "delivered"),
        ("/huge-headers", "pending"),
        ("/not-http", "pending"),
        ("/redirect/metadata", "dead"),  # a redirect is an answer, never followed
        ("/redirect-loop", "dead"),
        ("/retry-after-odd", "pending"),
    ],
)
def test_a_hostile_receiver_costs_one_budget_and_sees_one_post(
    settings: Settings, path: str, state: str, caplog: pytest.LogCaptureFixture
) -> None:
    fast = loopback(settings).model_copy(update={"http_timeout": 1.0})  # a 2 s budget
    store = SqliteStore(settings.db)
    sender = WebhookSender(fast)
    with HostileServer() as server:
        watch = stored_watch(store, server.url(path))
        started = time.monotonic()
        deliver_due(store, sender, RetryPolicy(max_attempts=3, backoff_base=60.0, backoff_cap=60.0))
        took = time.monotonic() - started
        requests = list(server.requests)
    [m] = store.matches(watch.id)
    assert m.state == state, m.last_error
    assert took < 2 * fast.http_timeout + 1.5, f"{took:.1f}s"
    assert [p for p, _ in requests] == [path], "one POST, no redirect followed"
    assert watch.secret not in caplog.text
    sender.close()
    store.close()


def test_a_hanging_receiver_holds_its_own_watch_up_one_budget_only(
    settings: Settings, receiver: Receiver
) -> None:
    """Five matches for a receiver that never answers cost one POST's budget, not five;
    the other watch's receiver gets its story in the same round; the rest wait, due."""
    fast = loopback(settings).model_copy(update={"http_timeout": 1.0})  # a 2 s budget
    store = SqliteStore(settings.db)
    sender = WebhookSender(fast)
    policy = RetryPolicy(max_attempts=3, backoff_base=60.0, backoff_cap=60.0)
    with HostileServer() as server:
        hung = stored_watch(store, server.url("/silent"))
        store.add_matches(
            [
                m.model_copy(update={"article_id": f"b{n}"})
                for n, m in enumerate([store.matches(hung.id)[0]] * 4)
            ]
        )
        good = stored_watch(store, receiver.url)
        started = time.monotonic()
        report = deliver_due(store, sender, policy)
        took = time.monotonic() - started
        posts = len(server.requests)
    assert posts == 1 and took < 2 * fast.http_timeout + 1.5, (posts, f"{took:.1f}s")
    assert (report.delivered, report.retrying, report.waiting) == (1, 1, 4)
    assert [m.article_id for m in store.matches(good.id) if m.state == "delivered"] == ["a1"]
    waiting = [m for m in store.matches(hung.id) if m.attempts == 0]
    assert len(waiting) == 4 and all(m.state == "pending" for m in waiting)
    # a round that runs out of time starts no POST and leaves every match due
    assert deliver_due(store, sender, policy, seconds=0.0).waiting == 4
    sender.close()
    store.close()
