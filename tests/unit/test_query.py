from __future__ import annotations

import pytest

from pipeline.query import And, Not, Or, Term, exclusions, parse, positive, to_fts5


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
