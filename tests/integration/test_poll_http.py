"""Polling a feed against a real local HTTP server: conditional GET, redirects,
error statuses, cache headers, recovery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipeline.errors import FeedParseError
from pipeline.fetch import Fetcher
from pipeline.poll import poll
from pipeline.settings import Settings
from tests.unit.test_poll import FEEDS, NOW, POLICY, state

pytestmark = pytest.mark.integration


@pytest.fixture
def fetcher(settings: Settings) -> Iterator[Fetcher]:
    with Fetcher(settings) as f:
        yield f


def test_conditional_get_then_304(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    body = (FEEDS / "rss2.xml").read_bytes()
    httpserver.expect_ordered_request("/feed").respond_with_data(
        body, headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    )
    httpserver.expect_ordered_request("/feed", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )
    fresh = poll(state(httpserver.url_for("/feed")), fetcher, POLICY, now=NOW)
    assert fresh.error is None and len(fresh.entries) == 2 and fresh.state.etag == '"v1"'
    again = poll(fresh.state, fetcher, POLICY, now=NOW)
    assert again.error is None and again.entries == []
    assert again.state.last_status == 304 and again.state.not_modified_streak == 1
    httpserver.check_assertions()


def test_permanent_redirect_moves_the_feed(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    new = httpserver.url_for("/new-feed")
    httpserver.expect_request("/old-feed").respond_with_data(
        "", status=301, headers={"Location": new}
    )
    httpserver.expect_request("/new-feed").respond_with_data((FEEDS / "atom.xml").read_bytes())
    result = poll(state(httpserver.url_for("/old-feed")), fetcher, POLICY, now=NOW)
    assert result.error is None and result.state.url == new and len(result.entries) == 2


def test_temporary_redirect_keeps_the_url(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    httpserver.expect_request("/elsewhere").respond_with_data((FEEDS / "atom.xml").read_bytes())
    result = poll(state(httpserver.url_for("/feed")), fetcher, POLICY, now=NOW)
    assert result.state.url == httpserver.url_for("/feed") and len(result.entries) == 2


@pytest.mark.parametrize(
    ("status", "headers", "reason", "retired", "min_delay"),
    [
        (410, {}, "HTTP 410", True, 0),
        (404, {}, "HTTP 404", False, 0),
        (500, {}, "HTTP 500", False, 0),
        (503, {"Retry-After": "7200"}, "HTTP 503", False, 7200),
        (429, {"Retry-After": "3600"}, "HTTP 429", False, 3600),
    ],
)
def test_error_statuses(
    httpserver: HTTPServer,
    fetcher: Fetcher,
    status: int,
    headers: dict[str, str],
    reason: str,
    retired: bool,
    min_delay: int,
) -> None:
    httpserver.expect_request("/feed").respond_with_data("no", status=status, headers=headers)
    result = poll(state(httpserver.url_for("/feed")), fetcher, POLICY, now=NOW)
    assert result.error is not None and result.state.last_error == reason
    assert result.state.retired is retired
    assert result.state.error_count == 1
    assert (result.state.next_check_at - NOW).total_seconds() >= min_delay


def test_garbage_feed_is_recorded(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data((FEEDS / "garbage.bin").read_bytes())
    result = poll(state(httpserver.url_for("/feed")), fetcher, POLICY, now=NOW)
    assert isinstance(result.error, FeedParseError)
    assert result.state.last_error is not None and result.state.last_error.startswith("not a feed")


def test_cache_control_and_ttl_floor_the_interval(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        (FEEDS / "atom.xml").read_bytes(), headers={"Cache-Control": "public, max-age=7200"}
    )
    result = poll(state(httpserver.url_for("/feed")), fetcher, POLICY, now=NOW)
    assert result.state.interval >= 7200
    httpserver.clear()
    httpserver.expect_request("/feed").respond_with_data((FEEDS / "rss2.xml").read_bytes())
    result = poll(state(httpserver.url_for("/feed")), fetcher, POLICY, now=NOW)
    assert result.state.interval >= 3600, "<ttl>60</ttl> means an hour"


def test_recovery_resets_errors(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_ordered_request("/feed").respond_with_data("down", status=500)
    httpserver.expect_ordered_request("/feed").respond_with_response(
        Response((FEEDS / "atom.xml").read_bytes(), status=200)
    )
    failed = poll(state(httpserver.url_for("/feed")), fetcher, POLICY, now=NOW)
    assert failed.state.error_count == 1
    ok = poll(failed.state, fetcher, POLICY, now=NOW)
    assert ok.state.error_count == 0 and ok.state.last_error is None and len(ok.entries) == 2


def test_feeds_ignore_robots(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /\n")
    httpserver.expect_request("/feed").respond_with_data((FEEDS / "atom.xml").read_bytes())
    assert poll(state(httpserver.url_for("/feed")), fetcher, POLICY, now=NOW).error is None
