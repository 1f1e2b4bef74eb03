"""Which URLs a feed may have: http(s), a real host, a valid port (table-driven)."""

from __future__ import annotations

import pytest

from pipeline.errors import InputError
from pipeline.feedurl import check_feed_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/feed.xml", "https://example.com/feed.xml"),
        ("  http://example.com/rss  ", "http://example.com/rss"),
        ("HTTPS://News.Example.COM/x?a=1#f", "HTTPS://News.Example.COM/x?a=1#f"),
        ("http://bücher.example/rss", "http://bücher.example/rss"),  # IDNA-encodable
        ("http://127.0.0.1:8080/feed", "http://127.0.0.1:8080/feed"),
        ("http://[::1]:8080/feed", "http://[::1]:8080/feed"),
        ("http://localhost/feed", "http://localhost/feed"),
        ("http://my_blog.example.com/rss", "http://my_blog.example.com/rss"),
        ("http://example.com./rss", "http://example.com./rss"),  # fully qualified
        ("http://user:pw@example.com/rss", "http://user:pw@example.com/rss"),
    ],
)
def test_accepted(url: str, expected: str) -> None:
    assert check_feed_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://", "no host"),
        ("https:///feed", "no host"),
        ("http://:80/feed", "no host"),
        ("http://exa mple.com/", "blanks"),
        ("http://example.com/a b", "blanks"),
        ("http://example.com/\x00", "control"),
        ("", "blanks"),
        ("ftp://example.com/feed", "not an http(s) URL"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("example.com/feed", "not an http(s) URL"),
        ("javascript:alert(1)", "not an http(s) URL"),
        ("http://example.com:99999/", "Port out of range"),
        ("http://example.com:abc/", "Port could not be cast"),
        ("http://example.com:0/", "port 0"),
        ("http://a..b/", "bad host name"),
        ("http://-a.example/", "bad host name"),
        ("http://exa%20mple.com/", "bad host name"),
        ("http://" + "a" * 64 + ".example/", "bad host name"),
        ("http://[not-an-ip]/", "not a feed URL"),
    ],
)
def test_refused_with_one_line(url: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        check_feed_url(url)
    assert reason in str(caught.value) and "\n" not in str(caught.value)
