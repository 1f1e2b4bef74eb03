"""Hostile feeds: parsing raises ``FeedParseError`` for the whole feed or nothing, a bad
item is skipped (and logged) while the feed's other items are kept, and every entry
that comes out has an http(s) URL and bounded, clean fields."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import FeedParseError
from pipeline.models import (
    EARLIEST_DATE,
    MAX_AUTHOR_NAME,
    MAX_AUTHORS,
    MAX_FEED_TEXT,
    MAX_TITLE,
    FeedEntry,
)
from pipeline.poll import MAX_ITEMS, ParsedFeed, _first_items, parse_feed
from tests.conftest import FIXTURES

HOSTILE = FIXTURES / "hostile"
FEED_URL = "https://hostile.example/feed"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_reject(body: bytes) -> ParsedFeed | None:
    """The parse, or None when the whole feed was refused: the only exception allowed."""
    try:
        return parse_feed(body, FEED_URL, "f-hostile")
    except FeedParseError:
        return None


def assert_sane(entry: FeedEntry) -> None:
    parts = urlsplit(entry.url)
    assert parts.scheme in ("http", "https") and parts.hostname, entry.url
    assert len(entry.title) <= MAX_TITLE and "\n" not in entry.title
    assert len(entry.summary) <= MAX_FEED_TEXT and len(entry.content) <= MAX_FEED_TEXT
    assert len(entry.authors) <= MAX_AUTHORS
    assert all(0 < len(a) <= MAX_AUTHOR_NAME for a in entry.authors)
    for text in (entry.title, entry.summary, entry.content, *entry.authors):
        assert not any(ord(c) < 32 and c not in "\n\t" for c in text), repr(text)
    if entry.published_at is not None:
        assert entry.published_at.tzinfo is not None
        assert EARLIEST_DATE <= entry.published_at <= datetime.now(UTC) + timedelta(days=1)


# the fixtures: one feed, good items among bad ones ------------------------------------


def test_json_feed_keeps_good_items_and_skips_bad_ones(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pipeline.poll"):
        parsed = parse_feed((HOSTILE / "mixed.json").read_bytes(), FEED_URL, "f-hostile")
    assert [e.key for e in parsed.entries] == ["guid:good-1", "guid:good-2", "guid:good-3"]
    good1, good2, good3 = parsed.entries
    assert good1.authors == ["Ana Lopes"] and good1.published_at is not None
    assert good2.url == "https://hostile.example/relative/good-2", "relative link resolved"
    assert good2.title == "" and good2.summary == "12345" and good2.content == ""
    assert good2.published_at is None, "a year-9999 date is no date"
    assert good3.published_at is None, "a year-1 date is no date"
    assert parsed.title == "", "a feed title that is an object is no title"
    for entry in parsed.entries:
        assert_sane(entry)
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) >= 8 and all("f-hostile" in m for m in skipped)
    assert any("javascript" in m for m in skipped) and any("port" in m.lower() for m in skipped)


def test_rss_keeps_good_items_and_skips_bad_links() -> None:
    parsed = parse_feed((HOSTILE / "mixed.xml").read_bytes(), FEED_URL, "f-hostile")
    assert [e.key for e in parsed.entries] == ["guid:rss-good-1", "guid:rss-future"]
    assert parsed.entries[0].published_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert parsed.entries[1].published_at is None, "a year-9999 date must not sort first"
    assert parsed.ttl_seconds is None, "a ttl past any sane number is ignored"
    for entry in parsed.entries:
        assert_sane(entry)


# shapes that used to raise out of parsing ------------------------------------------------


def jsonfeed(**fields: Any) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", **fields}).encode()


@pytest.mark.parametrize(
    "body",
    [
        jsonfeed(items=5),
        jsonfeed(items=None, title=None),
        jsonfeed(items="a string of items"),
        jsonfeed(items={"url": "https://x.example/"}),
        jsonfeed(items=[[1, 2], {"url": "https://x.example/a", "authors": 7}]),
        jsonfeed(items=[{"url": "https://x.example/a", "authors": ["x", None, {"name": 5}]}]),
        jsonfeed(items=[{"url": "https://x.example/a", "author": {"name": {"first": "A"}}}]),
        jsonfeed(items=[{"url": "https://x.example/a", "id": {"x": 1}, "title": {"t": 1}}]),
        jsonfeed(items=[{"url": "https://x.example/a", "title": "\ud800 lone surrogate"}]),
        jsonfeed(items=[{"url": "http://[::1/", "id": "v6"}]),
        jsonfeed(items=[{"url": "http://h:99999/", "id": "p"}, {"url": "https://x.example/b"}]),
        jsonfeed(items=[{"url": "https://x.example/" + "a" * 100_000}]),
        jsonfeed(items=[{"url": "https://x.example/a", "date_published": "+99999-01-01"}]),
        json.dumps({"version": ["jsonfeed.org"], "items": []}).encode(),
        b'{"version": "https://jsonfeed.org/version/1", "items": [' + b"[" * 100_000,
        b'{"version": "https://jsonfeed.org/version/1", "x": ' + b"[" * 100_000 + b"]" * 100_000,
        b'{"version": "https://jsonfeed.org/version/1", "n": 1' + b"0" * 5000 + b"}",
        b'{"version": "https://jsonfeed.org/version/1", "items": [{"url": "\\ud800"}]}',
        b"<rss><channel><title>T</title><ttl>\xc2\xb2</ttl></channel></rss>",
        b"<rss><channel><title>T</title><ttl>" + b"9" * 5000 + b"</ttl></channel></rss>",
        b"<rss><channel>" + b"<x>" * 50_000 + b"</channel></rss>",
        b"<rss><channel><item><title>T</title><link>http://[::1/a</link></item></channel></rss>",
    ],
)
def test_hostile_shapes_never_raise_anything_but_feed_parse_error(body: bytes) -> None:
    parsed = parse_or_reject(body)
    for entry in parsed.entries if parsed else []:
        assert_sane(entry)


def test_item_errors_are_logged_with_the_feed_id(caplog: pytest.LogCaptureFixture) -> None:
    body = jsonfeed(items=[{"url": "vbscript:x", "id": "a"}, {"url": "https://x.example/b"}])
    with caplog.at_level(logging.WARNING, logger="pipeline.poll"):
        parsed = parse_feed(body, FEED_URL, "feed-77")
    assert [e.url for e in parsed.entries] == ["https://x.example/b"]
    [record] = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert "feed-77" in record.getMessage() and "vbscript" in record.getMessage()


def test_items_per_feed_are_capped() -> None:
    items = [{"url": f"https://x.example/{n}"} for n in range(5000)]
    parsed = parse_feed(jsonfeed(items=items), FEED_URL, "f")
    assert 0 < len(parsed.entries) <= 1000


@pytest.mark.parametrize(
    ("shell", "item"),
    [
        (
            '<rss version="2.0"><channel><title>T</title>{}</channel></rss>',
            "<item><link>{}</link></item>",
        ),
        (
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>{}</feed>',
            '<entry><link href="{}"/></entry>',
        ),
        (
            '<rss xmlns:atom="http://www.w3.org/2005/Atom"><channel>{}</channel></rss>',
            '<atom:entry><atom:link href="{}"/></atom:entry>',
        ),
    ],
)
def test_an_xml_feed_is_read_to_its_item_cap_only(shell: str, item: str) -> None:
    """A feed of many items is cut before feedparser reads past the cap: the first
    MAX_ITEMS entries, whole, in order."""
    items = "".join(item.format(f"https://x.example/{n}") for n in range(MAX_ITEMS + 500))
    body = shell.format(items).encode()
    assert _first_items(body).count(b"https://x.example/") == MAX_ITEMS
    parsed = parse_feed(body, FEED_URL, "f")
    assert [e.url for e in parsed.entries] == [f"https://x.example/{n}" for n in range(MAX_ITEMS)]


# fuzzing -------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=3000))
def test_fuzz_arbitrary_bytes(body: bytes) -> None:
    parsed = parse_or_reject(body)
    for entry in parsed.entries if parsed else []:
        assert_sane(entry)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
HOSTS = st.sampled_from(
    ["x.example", "WWW.X.EXAMPLE", "exa mple.com", "h:99999", "[::1", "[::1]", "1.2.3.4",
     "999.1.1.1", "user@host.example", "xn--bcher-kva.de", "bücher.de", "-bad-.example", ""]
)  # fmt: skip
URLS = st.one_of(
    st.builds(
        "{}://{}/{}".format,
        st.sampled_from(["http", "https", "HTTP", "javascript", "data", "file", "ftp", ""]),
        HOSTS,
        st.text(max_size=20),
    ),
    st.text(max_size=40),
    JSON_VALUES,
)
DATES = st.one_of(
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
    st.sampled_from(["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+14:00", "2026-11-02"]),
    JSON_VALUES,
)
ITEM_FIELDS = {
    "id": st.text(max_size=20) | JSON_VALUES,
    "url": URLS,
    "external_url": URLS,
    "title": st.text(max_size=700) | JSON_VALUES,
    "summary": st.text(max_size=100) | JSON_VALUES,
    "content_html": st.text(max_size=100) | JSON_VALUES,
    "content_text": st.text(max_size=100) | JSON_VALUES,
    "date_published": DATES,
    "date_modified": DATES,
    "authors": st.lists(st.fixed_dictionaries({"name": st.text(max_size=300)}), max_size=40)
    | JSON_VALUES,
    "author": st.fixed_dictionaries({"name": st.text(max_size=30) | JSON_VALUES}) | JSON_VALUES,
}
ITEMS = (
    st.lists(st.fixed_dictionaries({}, optional=ITEM_FIELDS) | JSON_VALUES, max_size=8)
    | JSON_VALUES
)


@FUZZ
@given(st.fixed_dictionaries({"items": ITEMS}, optional={"title": JSON_VALUES}))
def test_fuzz_json_feeds(feed: dict[str, Any]) -> None:
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", **feed}).encode(
        "utf-8", "surrogatepass"
    )
    parsed = parse_or_reject(body)
    assert parsed is not None, "a JSON Feed with the right version is a feed"
    for entry in parsed.entries:
        assert_sane(entry)


TEXT = st.text(max_size=60)
RSS_ITEMS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "guid": TEXT,
            "link": URLS.filter(lambda u: isinstance(u, str)),
            "title": st.text(max_size=700),
            "description": TEXT,
            "author": TEXT,
            "pubDate": st.sampled_from(
                [
                    "Mon, 02 Nov 2026 09:00:00 GMT",
                    "Fri, 31 Dec 9999 23:59:59 GMT",
                    "Thu, 01 Jan 1970 00:00:00 GMT",
                    "yesterday",
                    "",
                ]
            ),
        },
    ),
    max_size=6,
)


def xml_text(value: str) -> str:
    # XML cannot carry most control characters at all; the escaped rest still can be hostile.
    return escape("".join(c for c in value if c in "\t\n" or " " <= c <= "\ud7ff"))


@FUZZ
@given(RSS_ITEMS, TEXT)
def test_fuzz_rss(items: list[dict[str, str]], title: str) -> None:
    xml_items = "".join(
        "<item>" + "".join(f"<{k}>{xml_text(v)}</{k}>" for k, v in item.items()) + "</item>"
        for item in items
    )
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{xml_text(title)}</title>{xml_items}</channel></rss>"
    ).encode()
    parsed = parse_or_reject(body)
    assert parsed is not None
    assert len(parsed.title) <= MAX_TITLE
    for entry in parsed.entries:
        assert_sane(entry)
