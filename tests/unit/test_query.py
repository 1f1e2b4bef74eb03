from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.query import And, Node, Not, Or, Term, exclusions, parse, positive, to_fts5


@pytest.mark.parametrize(
    ("text", "fts"),
    [
        ("ceasefire", '"ceasefire"'),
        ("ceasefire talks", '("ceasefire" AND "talks")'),
        ('"operational freedom"', '"operational freedom"'),
        ("bridge OR tunnel", '("bridge" OR "tunnel")'),
        ("bridge -tunnel", '(("bridge") NOT "tunnel")'),
        ("bridge NOT tunnel", '(("bridge") NOT "tunnel")'),
        ("tariff*", '"tariff"*'),
        ("U.S. deal", '("u s" AND "deal")'),
        ("(bridge OR tunnel) vote", '(("bridge" OR "tunnel") AND "vote")'),
        ("AND", None),
        ('"', None),
        ("((( ", None),
        ("-only", None),
        ("NEAR(a b)", '("near" AND ("a" AND "b"))'),
        ('title:"x" col:y', '("title" AND "x" AND "col y")'),
    ],
)
def test_parse_to_fts5(text: str, fts: str | None) -> None:
    node = parse(text)
    assert (to_fts5(node) if node is not None and positive(node) else None) == fts


def test_parse_shapes() -> None:
    assert parse("a b") == And((Term(("a",)), Term(("b",))))
    assert parse("a OR b") == Or((Term(("a",)), Term(("b",))))
    assert parse("-a") == Not(Term(("a",)))
    assert exclusions(parse("-a -b")) == [Term(("a",)), Term(("b",))]
    assert exclusions(parse("a -b")) == []


@pytest.mark.parametrize(
    "hostile",
    [
        '"unterminated',
        "a OR OR b",
        ")))",
        "NOT NOT NOT",
        "*",
        "-",
        "'; DROP TABLE articles; --",
        "a" * 5000,
        "\x00\x01",
        "💥 \u202e",
        'AND OR NOT ( ) " * -',
    ],
)
def test_hostile_input_never_raises(hostile: str) -> None:
    node = parse(hostile)
    if node is not None and positive(node):
        assert to_fts5(node)


# Properties: any text a client can type -------------------------------------------------

_FTS = sqlite3.connect(":memory:")
_FTS.execute("CREATE VIRTUAL TABLE t USING fts5 (body, tokenize = 'porter unicode61')")
_FTS.execute("INSERT INTO t VALUES ('the bridge vote and the tunnel fares')")

# Query-like text: operators, quotes, parentheses, stars and dashes are drawn often.
query_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.one_of(
            st.sampled_from(["AND", "OR", "NOT", "(", ")", '"', "*", "-", "NEAR", "bridge"]),
            st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12),
        ),
        max_size=60,
    ).map(" ".join),
)


def _terms(node: Node | None) -> list[Term]:
    if node is None:
        return []
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return _terms(node.node)
    return [t for n in node.nodes for t in _terms(n)]


@settings(max_examples=400, deadline=None)
@given(query_text)
def test_any_text_parses_to_words_sqlite_accepts(text: str) -> None:
    node = parse(text)
    terms = _terms(node)
    assert len(terms) <= 128, "the parser caps the terms a query can hold"
    for term in terms:
        assert term.words and all(w == w.lower() and re.fullmatch(r"\w+", w) for w in term.words)
        assert not (term.prefix and len(term.words) > 1)
    assert exclusions(node) == [] or not positive(node)
    if node is not None and positive(node):
        expr = to_fts5(node)
        assert expr
        # the real engine takes it: no syntax error, whatever the user typed
        _FTS.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expr,)).fetchone()
    for excluded in exclusions(node):
        expr = to_fts5(excluded)
        if expr:
            _FTS.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expr,)).fetchone()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"[a-z]{1,10}", fullmatch=True), min_size=1, max_size=10))
def test_plain_words_are_all_required(words: list[str]) -> None:
    node = parse(" ".join(words))
    assert node is not None and positive(node)
    # operators are upper case only: lower-case "and", "or", "not" are words
    assert [t.words for t in _terms(node)] == [(w,) for w in words]
    expr = to_fts5(node)
    assert expr is not None and all(f'"{w}"' in expr for w in words)
