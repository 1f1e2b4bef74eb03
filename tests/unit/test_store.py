from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.models import FeedEntry
from pipeline.store import load_feeds_file
from pipeline.store.sqlite import SqliteStore as Store


def entry(n: int, feed: str = "f1") -> FeedEntry:
    return FeedEntry(key=f"guid:{n}", feed_id=feed, url=f"https://x.example/{n}", title=f"T{n}")


def test_entries_are_queued_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert len(store.add_entries([entry(1), entry(2)])) == 2
    assert store.add_entries([entry(1), entry(2), entry(3)]) == [entry(3)]
    assert len(store.add_entries([entry(1, feed="f2")])) == 1, "keys are per feed"
    assert len(store.pending()) == 4


def test_transient_failures_become_dead_letters_and_replay(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_entries([entry(1)])
    store.retry_later(entry(1), "HTTP 503", attempts=1, delay=0)
    [waiting] = store.pending()
    assert waiting.attempts == 1
    store.mark_dead(entry(1), "HTTP 503", attempts=2)
    assert store.pending() == []
    [dead] = store.records("dead")
    assert dead.attempts == 2 and dead.last_error == "HTTP 503"
    assert store.replay_dead() == 1
    assert [p.attempts for p in store.pending()] == [0], "a replayed letter starts again"


def test_retry_waits_for_its_delay(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_entries([entry(1)])
    store.retry_later(entry(1), "timeout", attempts=1, delay=600)
    assert store.pending() == []
    assert len(store.pending(datetime.now(UTC) + timedelta(seconds=601))) == 1


def test_permanent_failure_and_done_leave_the_queue(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_entries([entry(1), entry(2)])
    store.mark_failed(entry(1), "HTTP 404")
    store.mark_done(entry(2), "abc")
    assert store.pending() == []
    assert store.entry_counts() == {"f1": {"failed": 1, "done": 1}}
    assert store.records("failed")[0].last_error == "HTTP 404"


def test_feeds_add_remove_revive_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    feed = store.add_feed("https://x.example/rss", "X", interval=600)
    assert store.remove_feed("X") and store.feeds() == []
    store.add_feed("https://x.example/rss", "X", interval=600, revive=False)
    assert store.feeds() == [], "syncing a file does not undo a removal"
    store.add_feed("https://x.example/rss", "X", interval=600)
    store.save_feed_state(
        feed.state.model_copy(update={"error_count": 3, "last_error": "HTTP 500"})
    )
    store.close()
    reopened = Store(path).feeds()
    assert [(f.name, f.state.error_count, f.state.last_error) for f in reopened] == [
        ("X", 3, "HTTP 500")
    ]
    assert not Store(path).remove_feed("nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds: [", "not valid YAML"),
        ("nothing: here", "expected 'feeds:'"),
        ("feeds:\n  - url: not-a-url\n", "feed 1, url"),
        ("feeds:\n  - url: http://exa mple.com/rss\n", "feed 1, url: not a feed URL"),
        ("feeds:\n  - url: 'http://x.example:0/rss'\n", "feed 1, url: not a feed URL"),
        ("feeds:\n  - url: https://x.example/rss\n    interval: 0\n", "feed 1, interval"),
    ],
)
def test_feeds_file_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_feeds_file(path)


def test_feeds_file_accepts_bare_urls(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  - https://x.example/rss\n  - url: https://y.example/atom\n    name: Y\n"
    )
    assert [(str(f.url), f.name) for f in load_feeds_file(path)] == [
        ("https://x.example/rss", ""),
        ("https://y.example/atom", "Y"),
    ]


def test_is_done_spans_feeds(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_entries([entry(1), entry(1, feed="f2")])
    assert not store.is_done("art1")
    store.mark_done(entry(1), "art1")
    assert store.is_done("art1")


@pytest.mark.parametrize(
    ("content", "message"), [(b"", "empty file"), (b"not a database\n" * 4, "not an SQLite")]
)
def test_a_file_that_is_not_a_database_is_refused_not_replaced(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "newswire.db"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        Store(path)
    assert str(path) in caught.value.reason
    assert path.read_bytes() == content, "left as it was"


def test_a_database_from_before_fair_scheduling_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # the entries table as older versions made it
        old.execute(
            "CREATE TABLE entries (feed_id TEXT NOT NULL, key TEXT NOT NULL, url TEXT NOT NULL,"
            " status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
            " not_before TEXT NOT NULL DEFAULT '', last_error TEXT, article_id TEXT,"
            " entry TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
            " PRIMARY KEY (feed_id, key))"
        )
    old.close()
    store = Store(path)
    store.add_entries([entry(1), entry(2, feed="f2")])
    assert {p.entry.key for p in store.pending()} == {"guid:1", "guid:2"}
