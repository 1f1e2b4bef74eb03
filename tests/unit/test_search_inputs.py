"""Search inputs that come from the client: the cursor decoder (properties over any text
and any JSON) and the source filter's wildcards, on SQLite and in the engines' DSL."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.index import SearchQuery, decode_cursor, encode_cursor
from pipeline.index.dsl import search_body
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article

sort_values = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
ids = st.text(max_size=200)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


def wrap(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@settings(max_examples=300, deadline=None)
@given(sort_values, ids)
def test_our_cursors_round_trip(value: Any, last_id: str) -> None:
    assert decode_cursor(encode_cursor([value, last_id])) == [value, last_id]


def _checked(cursor: str, kinds: tuple[type[Any], ...] | None = None) -> None:
    """Decoding gives a [sort value, id] of the allowed kinds, or InputError: nothing else."""
    try:
        value, last_id = decode_cursor(cursor) if kinds is None else decode_cursor(cursor, kinds)
    except InputError as exc:
        assert exc.reason == "invalid cursor"
        return
    assert isinstance(last_id, str) and len(last_id) <= 200
    assert not isinstance(value, bool)
    assert value is None or isinstance(value, kinds or (str, int, float))
    if isinstance(value, int):
        assert -(2**63) <= value < 2**63
    if isinstance(value, float):
        assert value == value and abs(value) != float("inf")


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_any_json_in_a_cursor_is_checked(payload: Any) -> None:
    _checked(wrap(json.dumps(payload).encode()))
    _checked(wrap(json.dumps(payload).encode()), (float, int))
    _checked(wrap(json.dumps(payload).encode()), (str, type(None)))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=2000), st.binary(max_size=600).map(wrap)))
def test_any_text_as_a_cursor_is_checked(cursor: str) -> None:
    _checked(cursor)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 5000 + b"]" * 5000,  # deep nesting: once a RecursionError, not an InputError
        b"[" * 300 + b"]" * 300,
        b'[NaN, "x"]',
        b'[Infinity, "x"]',
        b'[1e999, "x"]',
        b'[99999999999999999999, "x"]',
        b'[true, "x"]',
        b'["x", 1]',
        b'[1, "' + b"x" * 300 + b'"]',
    ],
)
def test_forged_cursors_are_invalid(raw: bytes) -> None:
    with pytest.raises(InputError):
        decode_cursor(wrap(raw))


@pytest.mark.parametrize(
    ("kinds", "good", "bad"),
    [
        ((float, int), [2.5, "id"], ["2026-10-01", "id"]),
        ((str, type(None)), [None, "id"], [2.5, "id"]),
    ],
)
def test_the_backend_says_which_sort_values_it_takes(
    kinds: tuple[type[Any], ...], good: list[Any], bad: list[Any]
) -> None:
    assert decode_cursor(encode_cursor(good), kinds) == good
    with pytest.raises(InputError):
        decode_cursor(encode_cursor(bad), kinds)


# The source filter: a site and its subdomains, never a pattern ----------------------------

SOURCES = ["a.example", "news.a.example", "b.example", "x_y.example", "100%.example"]


@pytest.fixture
def index(tmp_path: Path) -> SqliteIndex:
    idx = SqliteIndex(tmp_path / "i.db")
    idx.upsert_many(
        [
            # the source is what is filtered; URLs stay valid (a '%' host is not one)
            Article(
                id=f"id{n}",
                url=f"https://site{n}.example/",
                canonical_url=f"https://site{n}.example/",
                source=s,
            )
            for n, s in enumerate(SOURCES)
        ]
    )
    return idx


@pytest.mark.parametrize(
    ("source", "matches"),
    [
        ("a.example", {"a.example", "news.a.example"}),
        ("www.a.example", {"a.example", "news.a.example"}),
        ("example", set(SOURCES)),
        ("x_y.example", {"x_y.example"}),
        ("100%.example", {"100%.example"}),
        ("%", set()),
        ("_.example", set()),
        ("%example", set()),
        ("x%", set()),
        ("\\", set()),
    ],
)
def test_sqlite_source_filter_is_literal(
    index: SqliteIndex, source: str, matches: set[str]
) -> None:
    hits = index.search(SearchQuery(source=source, limit=100, facets=False)).hits
    assert {h.source for h in hits} == matches


def test_engine_source_filter_escapes_wildcards() -> None:
    body = search_body(SearchQuery(source="A*b?\\.example"))
    (source_filter,) = [f for f in body["query"]["bool"]["filter"] if "bool" in f]
    term, wildcard = source_filter["bool"]["should"]
    assert term == {"term": {"source": "a*b?\\.example"}}
    assert wildcard == {"wildcard": {"source": {"value": "*.a\\*b\\?\\\\.example"}}}
