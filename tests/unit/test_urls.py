from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.urls import article_id, entry_key, host_of, normalize_url, same_site


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://Example.COM/News/Story/", "https://example.com/News/Story"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1&fbclid=xyz", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?id=7&gclid=1&mc_cid=2", "https://example.com/a?id=7"),
        ("https://example.com/a?empty=&id=7", "https://example.com/a?id=7"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        ("  https://example.com/x  ", "https://example.com/x"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("not a url", "not a url"),
    ],
)
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


def test_article_id_ignores_tracking_and_case_of_host() -> None:
    a = article_id("https://News.example.com/2026/story?utm_source=x#top")
    b = article_id("https://news.example.com/2026/story")
    assert a == b
    assert len(a) == 20
    assert a != article_id("https://news.example.com/2026/other-story")


@pytest.mark.parametrize(
    ("guid", "link", "title", "date", "prefix"),
    [
        ("urn:1", "https://e.example/a", "T", None, "guid:urn:1"),
        ("  ", "https://E.example/a?utm_source=x", "T", None, "link:https://e.example/a"),
        (None, None, "Title", "2026-11-01", "hash:"),
    ],
)
def test_entry_key_prefers_guid_then_link_then_hash(
    guid: str | None, link: str | None, title: str, date: str | None, prefix: str
) -> None:
    assert entry_key(guid, link, title, date).startswith(prefix)


def test_entry_key_hash_depends_on_title_and_date() -> None:
    assert entry_key(None, None, "A", "d1") == entry_key(None, None, "A", "d1")
    assert entry_key(None, None, "A", "d1") != entry_key(None, None, "A", "d2")
    assert entry_key(None, None, "A", "d1") != entry_key(None, None, "B", "d1")


@pytest.mark.parametrize(
    ("url", "host"),
    [("https://www.Example.com/a", "example.com"), ("http://127.0.0.1:8000/x", "127.0.0.1")],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


# hostile strings -------------------------------------------------------------------------

HOSTILE_URLS = [
    "http://exa mple.com/",
    "http://h:99999/",
    "http://h:-1/x",
    "http://[::1/",
    "http://[::zz]/",
    "https://x.example/\ud800",
    "http://user@:80/",
    "javascript:alert(1)",
    "\x00",
    "",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_never_raise(url: str) -> None:
    assert isinstance(normalize_url(url), str)
    assert len(article_id(url)) == 20
    assert entry_key(None, url, url, url).startswith("link:") or not url.strip()
    assert isinstance(host_of(url), str)


def test_whitespace_before_a_dropped_query_is_not_kept() -> None:
    # found by the fuzz test below: normalizing twice gave another URL
    assert normalize_url("HTTP://0/ ?") == normalize_url("http://0/") == "http://0/"
    assert normalize_url("https://a.example/news/ ?utm_source=x") == "https://a.example/news"


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.characters(exclude_categories=()))
    | st.from_regex(r"[hH][tT][tT][pP][sS]?://[^/?#]{0,30}(:\d{0,7})?[/?#]?.{0,40}")
)
def test_fuzz_url_functions_never_raise(url: str) -> None:
    normalized = normalize_url(url)
    assert normalize_url(normalized) == normalized, "normalization is idempotent"
    article_id(url)
    entry_key(url, url, url, url)
    host_of(url)
    same_site(url, url)


@pytest.mark.parametrize(
    ("claimed", "fetched", "same"),
    [
        ("https://example.com/a", "https://example.com/b", True),
        ("https://www.example.com/a", "https://example.com/b", True),
        ("https://example.com/a", "https://www.example.com/b", True),
        ("https://m.example.co.uk/a", "https://example.co.uk/b", True),
        ("https://news.example.co.uk/a", "https://www.example.co.uk/b", True),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", True),
        ("https://www.harbortimes.example/a", "https://harbortimes.example/b", True),
        ("https://other.com/a", "https://example.com/b", False),
        ("https://example.co.uk/a", "https://other.co.uk/b", False),
        ("https://foo.blogspot.com/a", "https://bar.blogspot.com/b", False),
        ("https://example.com.evil.net/a", "https://example.com/b", False),
        ("https://www.harbortimes.example/a", "http://127.0.0.1:8000/b", False),
        ("http://127.0.0.2/a", "http://127.0.0.1/b", False),
        ("javascript:alert(1)", "https://example.com/b", False),
        ("http://[::1/", "https://example.com/b", False),
        ("https://example.com/a", "file:///tmp/a.html", False),
    ],
)
def test_same_site(claimed: str, fetched: str, same: bool) -> None:
    assert same_site(claimed, fetched) is same
