"""The state-store protocol, checked on both implementations: SQLite (embedded) and a
real redis-server (distributed); then what only the Redis store does."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import StoreUnavailableError, TransientError
from pipeline.hostgate import RedisHostGate
from pipeline.models import Article, Extracted, FeedEntry
from pipeline.settings import Settings
from pipeline.store import Fingerprint, PendingEntry, Store
from pipeline.store.redis import RedisStore, connect, entry_ref
from pipeline.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration


def entry(n: int, feed: str = "f1") -> FeedEntry:
    return FeedEntry(key=f"guid:{n}", feed_id=feed, url=f"https://x.example/{n}", title=f"T{n}")


@pytest.fixture
def redis_store(redis_server: Any) -> Iterator[RedisStore]:
    store = RedisStore.from_settings(Settings(broker_url=redis_server.url, store="redis"))
    store.r.flushall()
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "state.db")
        yield s
        s.close()
    else:
        yield request.getfixturevalue("redis_store")


# the protocol, on both -------------------------------------------------------------------


def test_entries_are_claimed_once(store: Store) -> None:
    for fid in ("f1", "f2"):
        store.add_feed(f"https://x.example/{fid}.rss", interval=600, feed_id=fid)
    assert len(store.add_entries([entry(1), entry(2)])) == 2
    assert store.add_entries([entry(1), entry(2), entry(3)]) == [entry(3)]
    assert len(store.add_entries([entry(1, feed="f2")])) == 1, "keys are per feed"
    assert store.entry_counts() == {"f1": {"pending": 3}, "f2": {"pending": 1}}


def test_concurrent_claims_of_the_same_entries_yield_each_once(store: Store) -> None:
    entries = [entry(n) for n in range(60)]
    won: list[FeedEntry] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def claim() -> None:
        start.wait()
        new = store.add_entries(entries)
        with lock:
            won.extend(new)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e.key for e in won) == sorted(e.key for e in entries)


def test_outcomes_counts_and_records(store: Store) -> None:
    store.add_feed("https://x.example/rss", "X", interval=600, feed_id="f1")
    store.add_entries([entry(1), entry(2), entry(3)])
    store.mark_failed(entry(1), "HTTP 404")
    store.mark_done(entry(2), "art2")
    store.mark_done(entry(2), "art2")  # a task that ran twice changes nothing
    assert store.is_done("art2") and not store.is_done("art3")
    assert store.entry_counts() == {"f1": {"failed": 1, "done": 1, "pending": 1}}
    [failed] = store.records("failed")
    assert (failed.url, failed.last_error, failed.status) == (entry(1).url, "HTTP 404", "failed")


def test_feeds_add_remove_find_due_and_state(store: Store) -> None:
    feed = store.add_feed("https://x.example/rss", "X", interval=600)
    fid = feed.state.feed_id
    assert store.find_feed("X") == store.find_feed("https://x.example/rss") == store.feed(fid)
    now = datetime.now(UTC)
    assert [s.feed_id for s in store.due_feeds(now + timedelta(seconds=1))] == [fid]
    store.save_feed_state(
        feed.state.model_copy(update={"next_check_at": now + timedelta(hours=1), "etag": '"e1"'})
    )
    assert store.due_feeds(now) == []
    assert store.feed(fid).state.etag == '"e1"'  # type: ignore[union-attr]
    assert store.remove_feed("X") and store.feeds() == [] and not store.remove_feed("nope")
    store.add_feed("https://x.example/rss", "X", interval=600, revive=False)
    assert store.feeds() == [], "a removed feed stays removed unless revived"
    store.add_feed("https://x.example/rss", "X", interval=600)
    assert [f.state.etag for f in store.feeds()] == ['"e1"'], "revived with its state"


def test_attempts_retries_dead_letters_and_replay(store: Store) -> None:
    store.add_feed("https://x.example/rss", "X", interval=600, feed_id="f1")
    store.add_entries([entry(1), entry(2)])
    store.retry_later(entry(1), "HTTP 503", attempts=1, delay=600)
    assert [p.entry for p in store.pending()] == [entry(2)], "waits for its delay"
    later = datetime.now(UTC) + timedelta(seconds=601)
    assert PendingEntry(entry(1), 1) in store.pending(later), "due again, one attempt counted"
    store.mark_dead(entry(1), "HTTP 503", attempts=3)
    [dead] = store.records("dead")
    assert (dead.url, dead.attempts, dead.last_error, dead.status) == (
        entry(1).url,
        3,
        "HTTP 503",
        "dead",
    )
    assert store.entry_counts() == {"f1": {"dead": 1, "pending": 1}}
    assert store.replay_dead() == 1 and store.records("dead") == []
    assert PendingEntry(entry(1), 0) in store.pending(), "a replayed letter starts at 0"


def test_a_poll_saves_its_state_and_new_entries_together(store: Store) -> None:
    feed = store.add_feed("https://x.example/rss", "X", interval=600, feed_id="f1")
    polled = feed.state.model_copy(update={"etag": '"v2"', "last_status": 200})
    assert store.save_poll(polled, [entry(1), entry(2)]) == [entry(1), entry(2)]
    assert store.save_poll(polled, [entry(2), entry(3)]) == [entry(3)]
    assert store.feed("f1").state.etag == '"v2"'  # type: ignore[union-attr]
    assert store.entry_counts() == {"f1": {"pending": 3}}


def test_a_poll_that_fails_to_save_keeps_neither_state_nor_entries(store: Store) -> None:
    """A kill between the feed's validators and its entries would lose the entries (the
    next poll gets a 304): both are written at once or not at all."""
    feed = store.add_feed("https://x.example/rss", "X", interval=600, feed_id="f1")
    polled = feed.state.model_copy(update={"etag": '"v2"'})

    def entries() -> Iterator[FeedEntry]:
        yield entry(1)
        raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError):
        store.save_poll(polled, entries())
    assert store.feed("f1").state.etag is None  # type: ignore[union-attr]
    assert store.entry_counts() == {}


def add_big_then_small(store: Store) -> list[FeedEntry]:
    """A feed of 10k entries on one host, then one of 5 on another; returns the 5."""
    store.add_entries(
        FeedEntry(key=f"b{n}", feed_id="big", url=f"https://big.example/{n}") for n in range(10_000)
    )
    small = [
        FeedEntry(key=f"s{n}", feed_id="small", url=f"https://small.example/{n}") for n in range(5)
    ]
    store.add_entries(small)
    return small


def test_pending_work_takes_turns_across_hosts(store: Store) -> None:
    """A 10k-entry feed on one host and a 5-entry feed on another: the small feed's
    entries all come in the first batch, not after the 10k."""
    small = add_big_then_small(store)
    first = store.pending(limit=100)
    assert len(first) == 100
    assert {p.entry.key for p in first} >= {e.key for e in small}
    assert [p.entry.key for p in first][:2] == ["b0", "s0"], "oldest of each host first"


# the Redis store only ----------------------------------------------------------------------


def test_dead_letters_replay_through_the_scheduler(redis_store: RedisStore) -> None:
    redis_store.add_entries([entry(1), entry(2)])
    redis_store.mark_dead(entry(1), "HTTP 503", attempts=3)
    assert redis_store.entry(entry_ref("f1", "guid:1")) == PendingEntry(entry(1), 3, "dead")
    assert redis_store.entry("no-such-ref") is None
    assert redis_store.replay_dead() == 1
    assert redis_store.take_replayed() == [entry_ref("f1", "guid:1")]
    assert redis_store.take_replayed() == []


def test_seen_entries_expire(redis_server: Any) -> None:
    store = RedisStore(connect(redis_server.url), seen_ttl=2)
    store.r.flushall()
    assert store.add_entries([entry(1)]) == [entry(1)]
    assert store.add_entries([entry(1)]) == []
    assert 0 < store.r.ttl(f"nw:e:{entry_ref('f1', 'guid:1')}") <= 2
    time.sleep(2.2)
    assert store.add_entries([entry(1)]) == [entry(1)], "forgotten after its expiry"
    store.close()


def test_claim_feed_once_per_due_time(redis_store: RedisStore) -> None:
    fid = redis_store.add_feed("https://x.example/rss", interval=600).state.feed_id
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert redis_store.claim_feed(fid, now, lease=300)
    assert not redis_store.claim_feed(fid, now, lease=300), (
        "claimed: not due again until the lease ends"
    )
    assert redis_store.claim_feed(fid, now + timedelta(seconds=301), lease=300)


def test_hand_offs_between_queues(redis_store: RedisStore) -> None:
    ref = entry_ref("f1", "guid:1")
    redis_store.put_extracted(ref, Extracted(title="T", body="B"), "https://x.example/1")
    assert redis_store.get_extracted(ref) == (Extracted(title="T", body="B"), "https://x.example/1")
    article = Article(
        id="a1", url="https://x.example/1", canonical_url="https://x.example/1", source="x.example"
    )
    redis_store.put_for_index(ref, article)
    redis_store.put_for_index(ref, article)  # twice: still one in line
    assert redis_store.get_extracted(ref) is None
    assert redis_store.index_backlog() == 1
    assert redis_store.for_index(10) == [(ref, article)]
    assert redis_store.for_index(10) == [(ref, article)], "kept until written"
    redis_store.indexed([ref])
    assert redis_store.index_backlog() == 0 and redis_store.for_index(10) == []


def test_lock_is_exclusive(redis_store: RedisStore) -> None:
    with redis_store.lock("poll:f1", ttl=5) as first, redis_store.lock("poll:f1", ttl=5) as second:
        assert first and not second
    with redis_store.lock("poll:f1", ttl=5) as again:
        assert again


def test_host_gate_is_shared_between_processes(redis_server: Any) -> None:
    """Two gates on two connections (as two workers have): never more than the
    concurrency limit inside, starts at least the delay apart."""
    gates = [
        RedisHostGate(connect(redis_server.url), concurrency=2, delay=0.05, lease=10)
        for _ in range(2)
    ]
    inside = 0
    peak = 0
    starts: list[float] = []
    lock = threading.Lock()

    def request(gate: RedisHostGate) -> None:
        nonlocal inside, peak
        with gate.slot("news.example"):
            with lock:
                inside += 1
                peak = max(peak, inside)
                starts.append(time.monotonic())
            time.sleep(0.1)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=request, args=(gates[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    assert peak <= 2
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.04


def test_unreachable_redis_is_a_transient_error() -> None:
    store = RedisStore(connect("redis://127.0.0.1:9/0"))
    with pytest.raises(StoreUnavailableError) as caught:
        store.feeds()
    assert isinstance(caught.value, TransientError) and "Redis unavailable" in caught.value.reason


def test_new_entries_go_to_fetch_in_turns_across_hosts(redis_store: RedisStore) -> None:
    """The distributed side of fair scheduling: a 10k-entry feed on one host and a
    5-entry feed on another, polled in that order; the small feed's entries are all in
    the first batch handed to the fetch queue, and waiting is never mistaken for
    stale."""
    small = add_big_then_small(redis_store)
    assert redis_store.stale_pending(older_than=-3600) == [], "waiting entries are not stale"
    first = redis_store.next_to_fetch(20)
    assert len(first) == 20
    assert {entry_ref("small", e.key) for e in small} <= set(first)
    assert entry_ref("big", "b0") in first and entry_ref("big", "b14") in first, "in order"
    assert set(redis_store.stale_pending(older_than=-3600)) == set(first), "dispatched"
    rest = redis_store.next_to_fetch(20_000)
    assert len(rest) == 10_005 - 20 and redis_store.next_to_fetch(10) == []


# the stories' groups (issue 18), on both ------------------------------------------------


def fp(n: int, at: float, dup: str | None = None) -> Fingerprint:
    return Fingerprint(
        id=f"s{n}",
        at=at,
        text=bytes(range(n, n + 8)),
        event=b"",
        entities=("mara quinlan", "port alder bridge") if n % 2 else (),
        shingles=100 + n,
        duplicate_of=dup,
    )


def test_fingerprints_and_band_index(store: Store) -> None:
    assert store.add_fingerprint(fp(1, 1000.0), ["d0:aa", "e1:bb"])
    assert store.add_fingerprint(fp(2, 5000.0, dup="s1"), ["d0:aa", "n:x|y"])
    assert store.add_fingerprint(fp(3, 9000.0), ["e1:bb"])
    # a known story changes nothing, not even its keys
    assert not store.add_fingerprint(fp(1, 1.0, dup="s3"), ["d9:zz"])
    got = store.fingerprints(["s1", "s2", "s4"])
    assert got == {"s1": fp(1, 1000.0), "s2": fp(2, 5000.0, dup="s1")}
    assert store.band_members(["d0:aa"]) == {"s1", "s2"}
    assert store.band_members(["d9:zz", "nothing"]) == set()
    assert store.band_members(["e1:bb", "n:x|y"]) == {"s1", "s2", "s3"}
    assert store.band_members(["e1:bb", "n:x|y"], 1000.0, 5000.0) == {"s1", "s2"}, "inclusive"
    assert store.band_members(["e1:bb", "n:x|y"], 1000.5, 8999.0) == {"s2"}
    assert store.fingerprints([]) == {} and store.band_members([]) == set()


def test_cluster_parents(store: Store) -> None:
    assert store.parents(["a", "b"]) == {}
    store.set_parents({"b": "a", "c": "b"})
    store.set_parents({"c": "a"})  # path compression overwrites
    assert store.parents(["a", "b", "c", "d"]) == {"b": "a", "c": "a"}


def test_grouping_is_one_holder_at_a_time(store: Store) -> None:
    held = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with store.grouping():
            held.set()
            release.wait(5)
            order.append("first")

    t = threading.Thread(target=first)
    t.start()
    held.wait(5)
    with pytest.raises(StoreUnavailableError), store.grouping(timeout=0.2):
        pass
    release.set()
    with store.grouping(timeout=5):
        order.append("second")
    t.join()
    assert order == ["first", "second"]
