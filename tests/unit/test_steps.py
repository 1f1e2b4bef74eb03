"""The steps both drivers call: the failure decision (pure, table-driven), and the
guards that keep one feed's or one article's failure its own, on a real SQLite store
and index."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import steps
from pipeline.errors import (
    ClientError,
    ContentError,
    NetworkError,
    ServerError,
    StoreUnavailableError,
)
from pipeline.fetch import Fetcher, Response
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, FeedEntry
from pipeline.policies import PollPolicy, RetryPolicy
from pipeline.settings import Settings
from pipeline.steps import Dead, Failed, Retry
from pipeline.store import PendingEntry
from pipeline.store.sqlite import SqliteStore

POLICY = RetryPolicy(max_attempts=3, backoff_base=60.0, backoff_cap=3600.0)


@pytest.mark.parametrize(
    ("error", "attempts", "expected"),
    [
        (NetworkError("timed out"), 1, Retry),
        (NetworkError("timed out"), 2, Retry),
        (NetworkError("timed out"), 3, Dead),  # the last attempt failed
        (ServerError(503), 5, Dead),
        (StoreUnavailableError("Redis unavailable"), 1, Retry),
        (ClientError(404), 1, Failed),
        (ContentError("no article text"), 1, Failed),
        (KeyError("title"), 1, Failed),  # a bug never loops
    ],
)
def test_failure_outcome(error: Exception, attempts: int, expected: type) -> None:
    outcome = steps.failure_outcome(error, attempts, POLICY, random.Random(3))
    assert type(outcome) is expected
    if isinstance(outcome, Retry | Dead):
        assert outcome.attempts == attempts


def test_retry_delay_doubles_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(5)
    policy = RetryPolicy(max_attempts=10, backoff_base=60.0, backoff_cap=600.0)
    delays = [steps.failure_outcome(NetworkError("x"), n, policy, rng) for n in (1, 2, 3, 9)]
    assert [type(d) for d in delays] == [Retry] * 4
    first, second, third, late = (d.delay for d in delays if isinstance(d, Retry))
    assert 30 <= first <= 60 and 60 <= second <= 120 and 120 <= third <= 240
    assert 300 <= late <= 600, "capped"
    slow = steps.failure_outcome(ServerError(429, retry_after=500), 1, policy, rng)
    assert isinstance(slow, Retry) and slow.delay >= 500


def test_unexpected_errors_are_named_in_the_reason() -> None:
    outcome = steps.failure_outcome(ValueError("Port out of range"), 1, POLICY)
    assert outcome == Failed("unexpected ValueError: Port out of range")


def entry(n: int, host: str = "x.example") -> FeedEntry:
    return FeedEntry(key=f"guid:{n}", feed_id="f1", url=f"https://{host}/{n}", title=f"T{n}")


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "state.db")
    s.add_feed("https://x.example/rss", "X", interval=600, feed_id="f1")
    return s


def test_settle_failure_counts_attempts_in_the_store(store: SqliteStore) -> None:
    """The runner and the tasks both settle through here: attempts come from the store,
    so the count survives a restart and is the same whichever driver made them."""
    store.add_entries([entry(1)])
    later = datetime.now(UTC) + timedelta(days=1)
    outcomes = []
    for _ in range(POLICY.max_attempts):
        [item] = store.pending(later)
        outcomes.append(steps.settle_failure(store, item, ServerError(503), POLICY))
    assert [type(o) for o in outcomes] == [Retry, Retry, Dead]
    [dead] = store.records("dead")
    assert (dead.attempts, dead.last_error) == (3, "HTTP 503")


def test_refresh_feed_records_a_crashing_poll_as_the_feeds_error(
    store: SqliteStore, settings: Settings
) -> None:
    """A bug anywhere under poll (here the HTTP client raises what no layer expects) is
    this feed's recorded error, with backoff, not the caller's exception."""

    class CrashingFetcher(Fetcher):
        def get(self, *args: object, **kwargs: object) -> Response:
            raise RuntimeError("a bug under the poll")

    feed = store.feed("f1")
    assert feed is not None
    with CrashingFetcher(settings) as fetcher:
        refreshed = steps.refresh_feed(
            store, feed.state, fetcher, PollPolicy.from_settings(settings)
        )
    assert refreshed.error == "unexpected RuntimeError: a bug under the poll"
    saved = store.feed("f1")
    assert saved is not None
    assert saved.state.error_count == 1 and saved.state.last_error == refreshed.error
    assert saved.state.next_check_at > datetime.now(UTC), "backed off, not polled in a loop"


def article(n: int, published_at: datetime | None = None) -> Article:
    url = f"https://x.example/{n}"
    return Article(
        id=f"a{n}",
        url=url,
        canonical_url=url,
        source="x.example",
        title=f"Story {n}",
        body="Text of the story.",
        published_at=published_at,
    )


def test_index_refuses_only_the_article_that_breaks_the_write(
    store: SqliteStore, tmp_path: Path
) -> None:
    """An index write that raises for one article (an engine refusing a document, as a
    mapping conflict does) no longer fails its whole batch forever: the batch is split,
    the others written and marked done, the bad one recorded as failed."""

    class RefusingIndex(SqliteIndex):
        """The real SQLite index, refusing any batch that holds article a4."""

        def upsert_many(self, articles: Sequence[Article]) -> int:
            if any(a.id == "a4" for a in articles):
                raise ValueError("document a4 cannot be converted")
            return super().upsert_many(articles)

    engine = RefusingIndex(tmp_path / "index.db")
    store.add_entries([entry(n) for n in range(6)])
    batch = [(PendingEntry(entry(n), 0), article(n)) for n in range(6)]
    indexed = steps.index(engine, store, batch, POLICY)
    assert indexed.written == 5 and engine.count() == 5
    [refused] = indexed.refused
    assert isinstance(refused, Failed) and "ValueError" in refused.reason
    assert store.entry_counts() == {"f1": {"done": 5, "failed": 1}}
    assert store.records("failed")[0].url == entry(4).url
    engine.close()
