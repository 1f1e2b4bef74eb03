"""The model boundary: every record is built from validated, clamped values, whatever
a feed or a page sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.index import SearchQuery
from pipeline.index.dsl import search_body, to_document
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import (
    EARLIEST_DATE,
    MAX_AUTHOR_NAME,
    MAX_AUTHORS,
    MAX_BODY,
    MAX_NAME,
    MAX_SUMMARY,
    MAX_TITLE,
    Article,
    Entity,
    Extracted,
    FeedEntry,
    FeedState,
    Quote,
    Stance,
)

NOW = datetime.now(UTC)


def entry(**kw: Any) -> FeedEntry:
    return FeedEntry(**{"key": "k", "feed_id": "f", "url": "https://x.example/a", **kw})


def article(**kw: Any) -> Article:
    fields = {"id": "a", "url": "https://x.example/a", "canonical_url": "https://x.example/a"}
    return Article(**{**fields, "source": "x.example", **kw})


# URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://x.example/a",
        "HTTP://X.Example:8080/a?b=1#c",
        "http://127.0.0.1:5000/feed",
        "http://[::1]:8000/a",
        "https://bücher.de/straße",
        "https://xn--bcher-kva.de/",
        "https://my_host.example/a b",  # underscores exist in real host names; a space in a path
        "  https://x.example/padded  ",
    ],
)
def test_http_urls_are_accepted(url: str) -> None:
    assert entry(url=url).url == url.strip()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("javascript:alert(1)", "scheme"),
        ("JaVaScRiPt:alert(1)", "scheme"),
        ("java\tscript:alert(1)", "control"),
        ("data:text/html,<script>alert(1)</script>", "scheme"),
        ("vbscript:msgbox(1)", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("ftp://x.example/a", "scheme"),
        ("/relative/path", "scheme"),
        ("//x.example/protocol-relative", "scheme"),
        ("", "scheme"),
        ("http://", "host"),
        ("http:///path", "host"),
        ("http://exa mple.com/", "host"),
        ("http://-bad-.example/", "host"),
        ("http://a..b.example/", "host"),
        ("http://" + "a" * 64 + ".example/", "host"),
        ("http://999.1.1.1/", "host"),
        ("http://[::1/", "IPv6"),
        ("http://[::zz]/", "host"),
        ("http://h:99999/", "port"),
        ("http://h:-1/", "port"),
        ("http://h:port/", "port"),
        ("http://user:pw@x.example/", "credentials"),
        ("http://x.example/\x00", "control"),
        ("https://x.example/" + "a" * 10_000, "long"),
    ],
)
def test_other_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        entry(url=url)


def test_a_bad_canonical_url_is_dropped_not_fatal() -> None:
    assert Extracted(title="t", body="b", canonical_url="javascript:x").canonical_url is None
    assert Extracted(title="t", body="b", canonical_url="http://h:99999/").canonical_url is None
    good = Extracted(title="t", body="b", canonical_url="https://x.example/c")
    assert good.canonical_url == "https://x.example/c"


def test_article_urls_are_http_or_a_local_file() -> None:
    assert article(url="file:///tmp/story.html").url == "file:///tmp/story.html"
    with pytest.raises(ValidationError):
        article(url="javascript:alert(1)")
    with pytest.raises(ValidationError):
        article(canonical_url="data:text/html,x")


# dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (datetime(2026, 11, 2, 9, 0, tzinfo=UTC), datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
        (datetime(2026, 11, 2, 9, 0), datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),  # naive: UTC
        (
            datetime(2026, 11, 2, 11, 0, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        ),
        (EARLIEST_DATE, EARLIEST_DATE),
        (EARLIEST_DATE - timedelta(seconds=1), None),
        (datetime(1970, 1, 1, tzinfo=UTC), None),
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), None),  # would overflow UTC
        (datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))), None),
        (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), None),
        (NOW + timedelta(days=2), None),
        ("9999-12-31T23:59:59Z", None),
        ("2026-11-02T09:00:00+00:00", datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
    ],
)
def test_dates_outside_the_sane_range_become_unknown(
    given: datetime | str, expected: datetime | None
) -> None:
    for record in (
        entry(published_at=given),
        Extracted(title="t", body="b", published_at=given),
        article(published_at=given),
    ):
        assert record.published_at == expected
    assert article(fetched_at=given).fetched_at == expected


def test_an_out_of_range_date_never_makes_an_index_document_raise() -> None:
    doc = to_document(article(published_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))))
    assert doc.get("published_at") is None


def test_a_date_within_a_day_ahead_is_kept() -> None:
    soon = NOW + timedelta(hours=20)
    assert entry(published_at=soon).published_at == soon


# text ----------------------------------------------------------------------------------


def test_text_fields_are_capped() -> None:
    e = entry(title="T" * 10_000, authors=[f"Author {n} " + "x" * 500 for n in range(100)])
    assert len(e.title) == MAX_TITLE
    assert len(e.authors) == MAX_AUTHORS and all(len(a) == MAX_AUTHOR_NAME for a in e.authors)
    x = Extracted(title="t", body="b" * (MAX_BODY + 5), summary="s" * 5000)
    assert len(x.body) == MAX_BODY and len(x.summary) == MAX_SUMMARY
    a = article(title="T" * 9999, body="b" * (MAX_BODY + 1))
    assert len(a.title) == MAX_TITLE and len(a.body) == MAX_BODY
    assert (
        len(FeedState(feed_id="f", url="u", title="t" * 9999, interval=1, next_check_at=NOW).title)
        == MAX_TITLE
    )


def test_control_characters_are_stripped() -> None:
    e = entry(title="Breaking\x00 \x1b[31mnews\x07\r\n  today\u0085", authors=["A\x00na", " ", ""])
    assert e.title == "Breaking [31mnews today"
    assert e.authors == ["Ana"], "empty names are dropped"
    x = Extracted(title="t", body="Line one.\x00\r\nLine\ttwo.\x1b\rLine three.\ud800")
    assert x.body == "Line one.\nLine\ttwo.\nLine three."


def test_analysis_records_are_capped() -> None:
    q = Quote(
        speaker="S" * 999,
        speaker_type="PERSON",
        cue="said\x00",
        text="q" * 50_000,
        direct=True,
        start=7,
        end=50_007,
    )
    assert len(q.speaker) == MAX_NAME and q.cue == "said" and len(q.text) < 50_000
    assert q.end - q.start == len(q.text), "offsets still name the text"
    s = Stance(holder="H" * 999, target="T" * 999, stance="favor", confidence=1, evidence="e")
    assert len(s.holder) == len(s.target) == MAX_NAME
    ent = Entity(name="N" * 999, type="PERSON", mentions=1, salience=1, aliases=["a"] * 500)
    assert len(ent.name) == MAX_NAME and len(ent.aliases) <= MAX_AUTHORS


# fuzzing -------------------------------------------------------------------------------

ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=2000)  # surrogates too


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT, ANY_TEXT, st.lists(ANY_TEXT, max_size=50))
def test_fuzz_text_validators(title: str, body: str, authors: list[str]) -> None:
    x = Extracted(title=title, body=body, authors=authors)
    assert len(x.title) <= MAX_TITLE and len(x.authors) <= MAX_AUTHORS
    for text in (x.title, *x.authors):
        assert text == text.strip() and not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)
    assert not any(ord(c) < 32 and c not in "\n\t" for c in x.body)
    assert not any(0xD800 <= ord(c) < 0xE000 for c in x.title + x.body)
    assert Extracted.model_validate_json(x.model_dump_json()) == x, "validation is idempotent"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.from_regex(r"[a-zA-Z]{0,12}:/*[^/?#]{0,30}[/?#]?.{0,30}"))
def test_fuzz_url_validator_accepts_only_http_with_a_host(url: str) -> None:
    try:
        e = entry(url=url)
    except ValidationError:
        return
    assert e.url.lower().startswith(("http://", "https://"))


@settings(max_examples=200, deadline=None)
@given(st.datetimes(timezones=st.timezones() | st.none()))
def test_fuzz_dates(when: datetime) -> None:
    got = entry(published_at=when).published_at
    assert got is None or (
        got.tzinfo is not None and EARLIEST_DATE <= got <= datetime.now(UTC) + timedelta(days=1)
    )
    to_document(article(published_at=when))  # never raises


@pytest.mark.parametrize(
    "bound",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))),
        datetime(2026, 11, 2),
    ],
)
def test_out_of_range_query_dates_never_raise(bound: datetime, tmp_path: Path) -> None:
    index = SqliteIndex(tmp_path / "i.db")
    index.upsert_many([article(published_at=datetime(2026, 11, 1, tzinfo=UTC))])
    before = bound.year == 1
    got = index.search(SearchQuery(since=bound)).total
    assert got == (1 if before else 0)
    assert index.search(SearchQuery(until=bound)).total == (0 if before else 1)
    search_body(SearchQuery(since=bound, until=bound))  # the Elasticsearch/OpenSearch query


@pytest.mark.parametrize(
    ("given", "expected"), [("en", "en"), ("pt-BR", "pt-BR"), ("x" * 1000, None), ("<b>", None)]
)
def test_a_page_language_is_a_code_or_unknown(given: str, expected: str | None) -> None:
    assert Extracted(title="t", body="b", language=given).language == expected
