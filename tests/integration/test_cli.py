"""The `newswire` command as users run it: a subprocess against real local servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from pipeline.demo.server import DemoServer, corpus
from pipeline.models import FeedEntry
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.redis import RedisStore, entry_ref
from pipeline.store.sqlite import SqliteStore
from tests.conftest import newswire

pytestmark = pytest.mark.integration

ARTICLES = len(corpus()[1])


def test_run_once_with_a_feeds_file_and_feed_management(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    with DemoServer() as server:
        urls = server.feed_urls()
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text(
            "feeds:\n" + "".join(f"  - name: {t}\n    url: {u}\n" for t, u in urls.values())
        )
        run = newswire("run", "--once", "--feeds", str(feeds_file), "--json", db=db)
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        assert report["indexed"] == ARTICLES and report["feed_errors"] == {}

        listed = json.loads(newswire("feeds", "list", "--json", db=db).stdout)
        assert sorted(f["name"] for f in listed) == sorted(t for t, _ in urls.values())

        removed = newswire("feeds", "remove", "The Northern Ledger", db=db)
        assert removed.returncode == 0, removed.stderr
        again = json.loads(
            newswire("run", "--once", "--feeds", str(feeds_file), "--json", db=db).stdout
        )
        assert again["feeds_polled"] == 2 and again["indexed"] == 0, "removed stays removed"

        added = newswire("feeds", "add", urls["northern-ledger"][1], "--name", "Ledger", db=db)
        assert added.returncode == 0 and "added" in added.stdout
        status = json.loads(newswire("feeds", "status", "--json", db=db).stdout)
        assert {r["state"] for r in status} == {"ok"} and len(status) == 3


def test_ingest_files_then_search(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    text = tmp_path / "story.txt"
    text.write_text(
        "Mayor backs tram extension\n\n"
        "Mayor Elena Vasquez said on Friday that the city would extend the tram line to the airport "
        "by 2030. “This line will change how people live and work here,” Vasquez said.\n"
        "Councillor Marcus Hale criticised the plan, saying the city could not afford it.\n"
    )
    html = tmp_path / "story.html"
    html.write_text(
        "<html><head><title>Ferry fares frozen</title></head><body><article><h1>Ferry fares frozen</h1>"
        + "<p>The ferry operator froze fares for a year on Monday after riders protested a planned rise, "
        "its chief executive Marta Kowalski told reporters at the harbour.</p>"
        * 3
        + "</article></body></html>"
    )
    ingest = newswire("ingest", str(text), str(html), db=db)
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.count("indexed") == 2
    hits = json.loads(newswire("search", "tram", "--json", db=db).stdout)["hits"]
    assert [h["title"] for h in hits] == ["Mayor backs tram extension"]
    speaker = json.loads(newswire("search", "--speaker", "Elena Vasquez", "--json", db=db).stdout)
    assert speaker["total"] == 1
    assert json.loads(newswire("search", "ferry", "--json", db=db).stdout)["total"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("analyze", "/no/such/file.txt"), "error: cannot read /no/such/file.txt"),
        (("run", "--once"), "error: no feeds"),
        (("search", "--since", "yesterday"), "error: --since: expected a date"),
        (("search", "--stance", "maybe"), "error: --stance"),
        (("feeds", "remove", "nothing-here"), "error: no such feed"),
        (("feeds", "add", "ftp://example.com/feed"), "error: not an http(s) URL"),
    ],
)
def test_failures_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = newswire(*args, db=tmp_path / "n.db")
    assert result.returncode == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_private_hosts_refused_unless_allowed(tmp_path: Path) -> None:
    result = newswire(
        "ingest",
        "http://127.0.0.1:9/story",
        db=tmp_path / "n.db",
        NEWSWIRE_ALLOW_PRIVATE_HOSTS="false",
    )
    assert result.returncode == 1 and "non-public address" in result.stderr


def _seed_dead_letter(store: Store) -> FeedEntry:
    store.add_feed("https://x.example/rss", "X", interval=600, feed_id="f1")
    dead = FeedEntry(key="guid:1", feed_id="f1", url="https://x.example/1")
    store.add_entries([dead, FeedEntry(key="guid:2", feed_id="f1", url="https://x.example/2")])
    store.mark_dead(dead, "HTTP 503", attempts=3)
    return dead


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_deadletters_list_replay_and_status(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = tmp_path / "state.db"
    env: dict[str, str] = {}
    store: Store
    if kind == "redis":
        server = request.getfixturevalue("redis_server")
        env = {"NEWSWIRE_STORE": "redis", "NEWSWIRE_BROKER_URL": server.url}
        store = RedisStore.from_settings(Settings(store="redis", broker_url=server.url))
        store.r.flushall()
    else:
        store = SqliteStore(db)
    dead = _seed_dead_letter(store)

    listed = newswire("deadletters", "list", "--json", db=db, **env)
    assert listed.returncode == 0, listed.stderr
    [record] = json.loads(listed.stdout)
    assert (record["url"], record["last_error"], record["status"]) == (dead.url, "HTTP 503", "dead")

    status = newswire("status", "--json", db=db, **env)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert (report["store"], report["feeds"], report["dead_letters"]) == (kind, 1, 1)
    assert ("queues" in report) == (kind == "redis")

    replayed = newswire("deadletters", "replay", db=db, **env)
    assert replayed.returncode == 0 and "replaying 1 dead letters" in replayed.stdout
    assert json.loads(newswire("deadletters", "list", "--json", db=db, **env).stdout) == []
    if isinstance(store, SqliteStore):
        assert {p.entry.key for p in store.pending()} == {"guid:1", "guid:2"}
    else:
        assert isinstance(store, RedisStore)
        assert store.take_replayed() == [entry_ref("f1", "guid:1")]
    store.close()


@pytest.mark.parametrize(
    "url",
    ["http://", "http://exa mple.com/", "http://example.com:99999/feed", "https://a..b/rss"],
)
def test_feeds_add_refuses_what_is_not_a_feed_url(tmp_path: Path, url: str) -> None:
    db = tmp_path / "n.db"
    result = newswire("feeds", "add", url, db=db)
    assert result.returncode == 1 and result.stderr.startswith("error: not ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert json.loads(newswire("feeds", "list", "--json", db=db).stdout) == []


# Text that rich would read as markup if it were printed as given.
MARKUP_URL = "https://x.example/feed?q=[link=https://evil.example]click[/link]"
MARKUP_NAME = "[bold red]Breaking[/]"
MARKUP_ERROR = "[blink]HTTP 503[/blink]"


def test_untrusted_values_print_literally(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    store = SqliteStore(db)
    feed = store.add_feed(MARKUP_URL, MARKUP_NAME, interval=600, feed_id="f1")
    store.save_feed_state(
        feed.state.model_copy(update={"error_count": 2, "last_error": MARKUP_ERROR})
    )
    dead = FeedEntry(key="guid:1", feed_id="f1", url="https://x.example/[bold]1[/bold]")
    store.add_entries([dead])
    store.mark_dead(dead, MARKUP_ERROR, attempts=1)
    store.close()

    listed = newswire("feeds", "list", db=db)
    assert listed.returncode == 0, listed.stderr
    assert MARKUP_URL in listed.stdout and MARKUP_NAME in listed.stdout
    dead_letters = newswire("deadletters", "list", db=db)
    assert dead.url in dead_letters.stdout and MARKUP_ERROR in dead_letters.stdout
    status = newswire("status", db=db)
    assert MARKUP_NAME in status.stdout and MARKUP_ERROR in status.stdout
    wide = newswire("feeds", "status", db=db, COLUMNS="400")
    assert MARKUP_NAME in wide.stdout and MARKUP_ERROR in wide.stdout


def test_demo_refuses_a_database_holding_other_feeds(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """The demo lets fetches reach 127.0.0.1: never for entries the user queued."""
    db = tmp_path / "mine.db"
    store = SqliteStore(db)
    store.add_feed(httpserver.url_for("/feed"), "Mine", interval=600, feed_id="mine")
    store.add_entries([FeedEntry(key="guid:1", feed_id="mine", url=httpserver.url_for("/x"))])
    store.close()
    result = newswire("demo", db=db, NEWSWIRE_ALLOW_PRIVATE_HOSTS="false")
    assert result.returncode == 1 and "not the demo's" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    assert httpserver.log == [], "nothing of the user's database was fetched"


def test_demo_uses_its_own_database_by_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env |= {
        "NEWSWIRE_CONFIG": str(tmp_path / "none.yaml"),
        "NEWSWIRE_CLAIMS_FILE": str(tmp_path / "none.yaml"),
        "NEWSWIRE_ANALYSIS_PROCESSES": "1",
    }
    demo = subprocess.run(
        [sys.executable, "-m", "pipeline", "demo"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "newswire-demo.db").exists() and not (tmp_path / "newswire.db").exists()
    assert f"{ARTICLES} stories in newswire-demo.db" in demo.stdout
    assert 'newswire --db newswire-demo.db search "harbor bridge"' in demo.stdout
    found = newswire("search", "harbor bridge", "--json", db=tmp_path / "newswire-demo.db")
    assert json.loads(found.stdout)["total"] >= 1
