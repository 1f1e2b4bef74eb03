"""The pages' filters: which URLs may become links, and capped titles."""

from __future__ import annotations

import pytest

from pipeline.api.pages import TITLE_CHARS, capped, is_web_url, marked


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://news.example/a?b=1#c", True),
        ("HTTP://NEWS.EXAMPLE/", True),
        ("javascript:alert(1)", False),
        ("  JavaScript:alert(1)", False),
        ("java\tscript:alert(1)", False),  # browsers drop the tab: still a script
        ("data:text/html,<script>x</script>", False),
        ("vbscript:msgbox", False),
        ("file:///etc/passwd", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("http:/no-host", False),
        ("http://[::1", False),  # does not parse
        ("", False),
        (None, False),
    ],
)
def test_only_http_urls_become_links(url: str | None, link: bool) -> None:
    assert is_web_url(url) is link


def test_titles_are_capped() -> None:
    assert capped("short") == "short"
    assert capped(None) == ""
    long = capped("x" * 10_000)
    assert len(long) == TITLE_CHARS and long.endswith("…")


def test_snippets_keep_only_mark() -> None:
    assert marked('<mark>a</mark><script>x</script><b onclick="y">') == (
        "<mark>a</mark>&lt;script&gt;x&lt;/script&gt;&lt;b onclick=&quot;y&quot;&gt;"
    )
