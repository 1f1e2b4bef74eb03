"""Poll behaviour without a network: parsing, schedules, backoff, conditional headers
(the HTTP cases are in tests/integration/test_poll_http.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import ClientError, FeedParseError, NetworkError, ServerError
from pipeline.models import FeedState
from pipeline.policies import PollPolicy
from pipeline.poll import (
    DISTRUST_304_AFTER,
    conditional_headers,
    next_state_error,
    parse_feed,
    pick_due,
    rate_interval,
)
from pipeline.settings import Settings
from tests.conftest import FIXTURES

FEEDS = FIXTURES / "feeds"
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
POLICY = PollPolicy.from_settings(Settings())


def state(url: str, **kw: object) -> FeedState:
    return FeedState(feed_id="f1", url=url, interval=1800, next_check_at=NOW, **kw)  # type: ignore[arg-type]


# parsing --------------------------------------------------------------------------


def test_rss_entries_keys_links_and_dedup() -> None:
    parsed = parse_feed((FEEDS / "rss2.xml").read_bytes(), "https://gazette.example/rss", "f1")
    assert parsed.title == "Fixture Gazette"
    assert parsed.ttl_seconds == 3600
    keys = [e.key for e in parsed.entries]
    assert len(keys) == 2, "the repeated GUID is dropped, and the item without a link"
    first = parsed.entries[0]
    assert first.key == "guid:gazette-001"
    assert first.url.startswith("https://gazette.example/news/library"), "relative link resolved"
    assert "central library" in first.content
    assert first.published_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert parsed.entries[1].key == "link:https://gazette.example/news/budget"


@pytest.mark.parametrize(
    ("name", "titles"),
    [
        ("atom.xml", ["Port reopens after storm", "Ferry timetable changes"]),
        ("feed.json", ["First JSON item"]),
    ],
)
def test_other_formats(name: str, titles: list[str]) -> None:
    parsed = parse_feed((FEEDS / name).read_bytes(), "https://x.example/feed", "f1")
    assert [e.title for e in parsed.entries] == titles


@pytest.mark.parametrize(
    "body", [(FEEDS / "garbage.bin").read_bytes(), b"", b"<html><body>hi</body></html>"]
)
def test_garbage_is_a_feed_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        parse_feed(body, "https://x.example/feed", "f1")


# schedule rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gaps_minutes", "expected"),
    [
        ([], 1800),  # no dates: the default
        ([60] * 10, 1800),  # hourly items: every half hour
        ([1] * 10, 300),  # a firehose: the minimum
        ([60 * 24 * 7] * 5, 86400),  # weekly: the maximum
    ],
)
def test_rate_interval(settings: Settings, gaps_minutes: list[int], expected: int) -> None:
    dates = [NOW]
    for gap in gaps_minutes:
        dates.append(dates[-1] - timedelta(minutes=gap))
    assert (
        rate_interval(dates if gaps_minutes else [], PollPolicy.from_settings(settings)) == expected
    )


def test_backoff_grows_with_jitter_and_caps(settings: Settings) -> None:
    rng = random.Random(7)
    s = state("https://x.example/feed")
    delays = []
    for _ in range(12):
        s = next_state_error(
            s,
            NetworkError("connection refused"),
            now=NOW,
            policy=PollPolicy.from_settings(settings),
            rng=rng,
        )
        delays.append((s.next_check_at - NOW).total_seconds())
    assert s.error_count == 12 and s.last_error == "connection refused" and not s.retired
    assert delays[0] <= settings.poll_backoff_base
    assert delays[4] > delays[0]
    assert max(delays) <= settings.poll_max_interval


def test_retry_after_is_honoured(settings: Settings) -> None:
    s = next_state_error(
        state("https://x.example/feed"),
        ServerError(429, retry_after=5000),
        now=NOW,
        policy=PollPolicy.from_settings(settings),
        rng=random.Random(1),
    )
    assert (s.next_check_at - NOW).total_seconds() >= 5000


def test_410_retires(settings: Settings) -> None:
    s = next_state_error(
        state("u"),
        ClientError(410),
        now=NOW,
        policy=PollPolicy.from_settings(settings),
        rng=random.Random(1),
    )
    assert s.retired and s.last_status == 410


def test_distrust_long_304_streaks() -> None:
    s = state("u", etag='"abc"', last_modified="Mon, 02 Nov 2026 09:00:00 GMT")
    assert conditional_headers(s) == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Mon, 02 Nov 2026 09:00:00 GMT",
    }
    assert (
        conditional_headers(s.model_copy(update={"not_modified_streak": DISTRUST_304_AFTER})) == {}
    )


def test_fixture_dir_exists() -> None:
    assert Path(FEEDS / "rss2.xml").exists()


# scheduling (the distributed scheduler's choice per tick) ------------------------


def test_pick_due_takes_most_overdue_first_and_caps_each_host() -> None:
    due = [
        FeedState(
            feed_id=f"a{i}",
            url=f"https://a.example/{i}.rss",
            interval=60,
            next_check_at=NOW - timedelta(minutes=i),
        )
        for i in range(5)
    ] + [FeedState(feed_id="b", url="https://www.b.example/rss", interval=60, next_check_at=NOW)]
    picked = [s.feed_id for s in pick_due(due, per_host=2)]
    assert picked == ["a4", "a3", "b"]
    assert pick_due([], per_host=2) == []
