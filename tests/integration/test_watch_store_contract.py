"""The watch part of the store protocol (``WatchStore``), on SQLite and a real
redis-server: watches, matches recorded once, deliveries taken once, dead letters
replayed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.redis import RedisStore
from pipeline.store.sqlite import SqliteStore
from pipeline.watch_model import Watch, WatchFilters, WatchMatch

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 3, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "state.db")
        yield s
        s.close()
        return
    redis_server: Any = request.getfixturevalue("redis_server")
    r = RedisStore.from_settings(Settings(broker_url=redis_server.url, store="redis"))
    r.r.flushall()
    yield r
    r.close()


def watch(n: int, webhook: str | None = "https://hooks.example/in") -> Watch:
    return Watch(
        id=f"w{n}",
        query=f"water {n}",
        filters=WatchFilters(source="valley.example", since=NOW),
        webhook=webhook,
        secret=f"secret-{n}",
        created_at=NOW + timedelta(seconds=n),
    )


def match(w: str, a: int, minutes: int = 0, state: str = "pending") -> WatchMatch:
    return WatchMatch.model_validate(
        {
            "watch_id": w,
            "article_id": f"a{a}",
            "title": f"Story {a}",
            "url": f"https://valley.example/{a}",
            "matched_at": NOW + timedelta(minutes=minutes),
            "state": state,
        }
    )


def test_watches_are_kept_listed_and_removed(store: Store) -> None:
    store.add_watch(watch(2))
    store.add_watch(watch(1, webhook=None))
    assert [w.id for w in store.watches()] == ["w1", "w2"], "oldest first"
    assert store.watch("w2") == watch(2)
    assert store.watch("nope") is None
    store.add_matches([match("w2", 1)])
    assert store.remove_watch("w2") and not store.remove_watch("w2")
    assert [w.id for w in store.watches()] == ["w1"]
    assert store.matches("w2") == [] and store.due_deliveries(NOW + timedelta(days=1)) == []


def test_a_story_is_recorded_once_per_watch(store: Store) -> None:
    store.add_watch(watch(1))
    store.add_watch(watch(2))
    first = store.add_matches([match("w1", 1), match("w1", 2, 1), match("w2", 1)])
    assert len(first) == 3
    again = store.add_matches([match("w1", 1, 5), match("w1", 3, 2), match("gone", 1)])
    assert [(m.watch_id, m.article_id) for m in again] == [("w1", "a3")], (
        "a pair already there, and a match of an unknown watch, are not recorded"
    )
    assert [m.article_id for m in store.matches("w1")] == ["a3", "a2", "a1"], "newest first"
    assert [m.article_id for m in store.matches("w1", limit=2)] == ["a3", "a2"]
    assert store.delivery_counts() == {"w1": {"pending": 3}, "w2": {"pending": 1}}


def test_concurrent_recording_yields_each_pair_once(store: Store) -> None:
    store.add_watch(watch(1))
    won: list[WatchMatch] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def record() -> None:
        start.wait()
        new = store.add_matches([match("w1", n) for n in range(30)])
        with lock:
            won.extend(new)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.article_id for m in won) == sorted(f"a{n}" for n in range(30))


def test_deliveries_are_taken_once_retried_and_replayed(store: Store) -> None:
    store.add_watch(watch(1))
    store.add_watch(watch(2, webhook=None))
    store.add_matches([match("w1", 1), match("w1", 2, 1), match("w2", 3, state="none")])
    due = store.due_deliveries(NOW)
    assert [m.article_id for m in due] == ["a1", "a2"], "listed-only matches are never due"
    one = due[0]
    assert store.claim_delivery(one, NOW, lease=60)
    assert not store.claim_delivery(one, NOW, lease=60), "taken: a second deliverer backs off"
    assert [m.article_id for m in store.due_deliveries(NOW)] == ["a2"]
    # the lease runs out (the deliverer died): due again, and takeable again
    later = NOW + timedelta(seconds=61)
    assert "a1" in [m.article_id for m in store.due_deliveries(later)]
    assert store.claim_delivery(one, later, lease=60)
    store.save_delivery(one.model_copy(update={"state": "delivered", "next_attempt_at": None}))
    retry_at = NOW + timedelta(minutes=5)
    two = due[1]
    assert store.claim_delivery(two, NOW, lease=60)
    store.save_delivery(
        two.model_copy(
            update={
                "state": "pending",
                "attempts": 1,
                "next_attempt_at": retry_at,
                "last_error": "HTTP 500",
            }
        )
    )
    assert store.due_deliveries(NOW + timedelta(minutes=4)) == []
    [waiting] = store.due_deliveries(retry_at)
    assert (waiting.attempts, waiting.last_error) == (1, "HTTP 500")
    store.save_delivery(
        waiting.model_copy(
            update={
                "state": "dead",
                "attempts": 2,
                "next_attempt_at": None,
                "last_error": "HTTP 500",
            }
        )
    )
    assert store.due_deliveries(NOW + timedelta(days=1)) == []
    assert store.delivery_counts() == {"w1": {"delivered": 1, "dead": 1}, "w2": {"none": 1}}
    assert store.replay_deliveries("w2") == 0
    assert store.replay_deliveries() == 1
    [replayed] = store.due_deliveries(NOW)
    assert (replayed.article_id, replayed.attempts, replayed.state) == ("a2", 0, "pending")
    assert store.matches("w1")[1].state == "delivered"


def test_concurrent_claims_take_a_delivery_once(store: Store) -> None:
    store.add_watch(watch(1))
    store.add_matches([match("w1", n) for n in range(20)])
    due = store.due_deliveries(NOW)
    taken: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def take() -> None:
        start.wait()
        for m in due:
            if store.claim_delivery(m, NOW, lease=60):
                with lock:
                    taken.append(m.article_id)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(m.article_id for m in due)
