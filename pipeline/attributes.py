"""spaCy's attribute ruler as table lookups: the same writes, without its Matcher.

en_core_web_sm's ``attribute_ruler`` maps the tagger's fine tag (with the word, the
dependency label, whitespace) to POS, MORPH and LEMMA (and TAG and DEP on whitespace)
through 179 Matcher patterns. It costs ~15 ms per ~900-word article (bench/analysis.py),
nearly all of it in the Matcher (13.7 ms; a Python ``Span`` and attribute write per
match, 1.1). ``AttributeLookup`` is built from a loaded
ruler's own patterns and writes exactly what that ruler writes, in bulk: over the 924
PolNeAR articles (829,410 tokens) no token's tag, POS, morphology, lemma, label, head or
entity differed, nor any analysis (``scripts/attribute_lookup.py same``), and it took
0.8 ms of CPU per dev article where the ruler took 14.4 (``... time``, 30 November 2026).

What the ruler does (spacy/pipeline/attributeruler.py, 3.8), and so what this does:

- Its Matcher runs once (``allow_missing=True``: a pattern may read an attribute no
  component has set yet, whose value is then 0, the empty string) over the doc as the
  components before it left it. Every match of every pattern counts, overlapping or
  not; nothing the ruler writes changes what matches.
- A match of pattern ``p`` (any of its alternatives) over a span writes ``p``'s
  attributes to ``span[index]``: index 0 is the first token of the span, -1 the last.
- Matches are applied sorted by pattern number, then by position, each writing straight
  into the token: so for each token and attribute, the highest-numbered pattern that
  hits the token and sets that attribute decides, and attributes no hit sets keep their
  value.
- Matcher values: a string is compared as its hash, a bool as 0/1; ``IN`` / ``NOT_IN``
  test membership in a set of hashes; ``REGEX`` searches the attribute's string.

Here each distinct token spec (one token's dict of a pattern) is a bit; a token's mask
holds the bits of the specs it satisfies, built per attribute value from small caches
(and an index for plain values and ``IN`` lists). A pattern of several tokens adds its
own bit to its target token where its specs hold on consecutive tokens. A mask's
outcome (the value each written attribute gets, or none) is cached too, and the outcomes
are written with one ``Doc.from_array``. A pattern of another shape (operators,
extension attributes, other predicates, attributes read or written differently) makes
``from_ruler`` raise ``ValueError``, so that the caller keeps the ruler itself.
"""

from __future__ import annotations

import operator
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from spacy.attrs import DEP, IDS, LEMMA, MORPH, POS, TAG
from spacy.language import Language
from spacy.pipeline import AttributeRuler
from spacy.strings import StringStore, get_string_id
from spacy.tokens import Doc

# Attributes a pattern may test: those ``Doc.to_array`` returns as the Matcher reads them
# (spaCy's ``get_token_attr``; only SENT_START differs, and MORPH sets are normalized).
READABLE = frozenset(
    {"ORTH", "LOWER", "NORM", "TAG", "POS", "DEP", "LEMMA", "IS_SPACE", "IS_PUNCT", "IS_ALPHA"}
)
_FLAGS = frozenset({"IS_SPACE", "IS_PUNCT", "IS_ALPHA"})  # 0/1 values, no string to search
# Attributes a pattern may write: plain token fields (others, LOWER say, also write the
# shared lexeme, which every later doc would read)
WRITABLE = frozenset({POS, TAG, DEP, LEMMA, MORPH})
LOOKUP_FACTORY = "attribute_lookup"  # the spaCy factory name, for ``nlp.add_pipe``
# Values per attribute cached before its cache starts again: bounds memory on an endless
# stream of new words
CACHE_LIMIT = 50_000

Test = Callable[[int], bool]
# What a spec asks of one attribute: its value among these (a plain value, an IN list),
# or these tests passed (other predicates)
Constraint = frozenset[int] | tuple[Test, ...]


@dataclass(frozen=True)
class _Span:
    """One alternative of a pattern of several tokens: its specs' bits in order, the bit
    it adds to its target, and where that target is (the pattern's index: 0 first, 1
    second, -1 last)."""

    specs: tuple[int, ...]
    bit: int
    index: int


class _ColumnMasks(dict[int, int]):
    """Attribute value → bits of the specs that value satisfies on this attribute (specs
    that do not test it included), computed on first sight."""

    def __init__(
        self, always: int, index: dict[int, int], tested: list[tuple[int, tuple[Test, ...]]]
    ) -> None:
        super().__init__()
        self.always, self.index, self.tested = always, index, tested

    def __missing__(self, value: int) -> int:
        if len(self) >= CACHE_LIMIT:
            self.clear()
        mask = self.always | self.index.get(value, 0)
        for bit, tests in self.tested:
            if all(test(value) for test in tests):
                mask |= bit
        self[value] = mask
        return mask


class _Outcomes(dict[int, int]):
    """Mask → row of ``new`` / ``written``: the value each of ``columns`` (the written
    attributes) gets, and whether it gets one. The tables only grow (256 masks over the
    924 PolNeAR articles, 50 on a stream of new words: the specs a word satisfies hang
    together; random tags and labels could make thousands), so a row read by one call
    stays right while another thread adds one."""

    def __init__(self, hits: list[tuple[int, dict[int, int]]], columns: list[int | str]) -> None:
        super().__init__()
        self.hits = hits  # (bits that hit the token, attrs written), last pattern first
        self.columns = columns
        self.new = np.zeros((0, len(columns)), dtype=np.uint64)
        self.written = np.zeros((0, len(columns)), dtype=bool)
        self._lock = threading.Lock()

    def __missing__(self, mask: int) -> int:
        found: dict[int | str, int] = {}
        for bits, attrs in self.hits:
            if mask & bits:
                found |= {a: v for a, v in attrs.items() if a not in found}
        new = np.array([[found.get(a, 0) for a in self.columns]], dtype=np.uint64)
        written = np.array([[a in found for a in self.columns]], dtype=bool)
        with self._lock:  # two threads adding rows at once would both take the same number
            self.new = np.vstack([self.new, new])
            self.written = np.vstack([self.written, written])
            self[mask] = row = len(self.new) - 1
        return row


class AttributeLookup:
    """Writes what an ``AttributeRuler`` writes (see the module's docstring), from
    lookups. Build it with ``from_ruler``; call it on a doc, as the ruler."""

    def __init__(
        self,
        reads: list[int | str],
        columns: list[_ColumnMasks],
        spans: list[_Span],
        outcomes: _Outcomes,
    ) -> None:
        self.reads, self.columns, self.spans, self.outcomes = reads, columns, spans, outcomes
        self.starts = 0
        for span in spans:
            self.starts |= span.specs[0]

    @classmethod
    def from_ruler(cls, ruler: AttributeRuler) -> AttributeLookup:
        """The lookup for ``ruler``'s patterns, as loaded.

        Raises ``ValueError`` naming the first pattern whose shape it does not reproduce.
        """
        bits: dict[str, int] = {}  # a spec, as text → its bit
        specs: dict[int, dict[str, Constraint]] = {}  # bit → what it asks of each attribute
        patterns: list[tuple[list[list[int]], int, dict[int, int]]] = []
        for number, pattern in enumerate(cast(list[dict[str, Any]], ruler.patterns)):
            attrs: dict[int, int] = ruler.attrs[number]
            index = int(pattern.get("index", 0))
            alternatives = []
            try:
                if not attrs or not set(attrs) <= WRITABLE:
                    raise ValueError(f"writes {pattern['attrs']}")
                for alternative in pattern["patterns"]:
                    if not -len(alternative) <= index < len(alternative):
                        raise ValueError(f"index {index} outside {len(alternative)} tokens")
                    own = []
                    for spec in alternative:
                        bit = bits.setdefault(repr(spec), 1 << len(bits))
                        specs[bit] = _constraints(spec, ruler.vocab.strings)
                        own.append(bit)
                    alternatives.append(own)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"attribute_ruler pattern {number} {pattern}: {exc}") from None
            patterns.append((alternatives, index, attrs))
        names = sorted({name for spec in specs.values() for name in spec})
        if not names:
            raise ValueError("attribute_ruler: no pattern reads any attribute")
        columns = [_column(name, specs) for name in names]
        spans: list[_Span] = []  # their bits above every spec's
        hits: list[tuple[int, dict[int, int]]] = []
        for alternatives, index, attrs in patterns:
            hit = 0
            for own in alternatives:
                if len(own) == 1:
                    hit |= own[0]
                else:
                    spans.append(_Span(tuple(own), 1 << (len(bits) + len(spans)), index))
                    hit |= spans[-1].bit
            hits.append((hit, attrs))
        written: list[int | str] = sorted({a for _, attrs in hits for a in attrs})
        reads: list[int | str] = [int(IDS[name]) for name in names]
        return cls(reads, columns, spans, _Outcomes(hits[::-1], written))

    def __call__(self, doc: Doc) -> Doc:
        """Writes the ruler's attributes into ``doc``'s tokens; returns ``doc``."""
        n = len(doc)
        if n == 0:
            return doc
        values = cast(list[list[int]], doc.to_array(self.reads).reshape(n, -1).T.tolist())
        masks: list[int] = list(map(self.columns[0].__getitem__, values[0]))
        for column, column_values in zip(self.columns[1:], values[1:], strict=True):
            masks = list(map(operator.and_, masks, map(column.__getitem__, column_values)))
        marks = masks.copy()
        for start in (i for i, mask in enumerate(masks) if mask & self.starts):
            for span in self.spans:
                end = start + len(span.specs)
                if end <= n and all(masks[start + k] & b for k, b in enumerate(span.specs)):
                    marks[start + span.index if span.index >= 0 else end + span.index] |= span.bit
        rows = np.fromiter(map(self.outcomes.__getitem__, marks), dtype=np.intp, count=n)
        outcomes, columns = self.outcomes, self.outcomes.columns
        now = doc.to_array(columns).reshape(n, -1)
        new: Any = np.where(outcomes.written[rows], outcomes.new[rows], now)  # uint64, as read
        doc.from_array(columns, new)
        return doc


def _constraints(spec: dict[str, Any], strings: StringStore) -> dict[str, Constraint]:
    """What ``spec`` asks of each attribute it tests, under the Matcher's names (upper
    case, TEXT as ORTH).

    Raises ``ValueError`` on an attribute outside ``READABLE`` (or ``OP``, ``_``), and on
    a value or predicate the Matcher would read otherwise than here."""
    out: dict[str, Constraint] = {}
    for name, value in spec.items():
        upper = "ORTH" if str(name).upper() == "TEXT" else str(name).upper()
        if not isinstance(name, str) or upper not in READABLE or upper in out:
            raise ValueError(f"reads {name!r}")
        if isinstance(value, dict) and set(value) == {"IN"}:
            out[upper] = frozenset(_members(value["IN"]))
        elif isinstance(value, dict):
            out[upper] = tuple(_test(upper, op, arg, strings) for op, arg in value.items())
        else:
            out[upper] = frozenset({_plain(value, strings)})
    return out


def _column(name: str, specs: dict[int, dict[str, Constraint]]) -> _ColumnMasks:
    """The masks of one attribute: specs not testing it always pass; values that pass
    go in the index; the other specs' tests run value by value."""
    always, index, tested = 0, dict[int, int](), list[tuple[int, tuple[Test, ...]]]()
    for bit, spec in specs.items():
        constraint = spec.get(name)
        if constraint is None:
            always |= bit
        elif isinstance(constraint, frozenset):
            for value in constraint:
                index[value] = index.get(value, 0) | bit
        else:
            tested.append((bit, constraint))
    return _ColumnMasks(always, index, tested)


def _plain(value: object, strings: StringStore) -> int:
    """A plain pattern value as the Matcher compares it: a string's hash, a bool as 0/1."""
    if isinstance(value, str):
        return int(strings.add(value))
    if isinstance(value, bool | int):
        return int(value)
    raise ValueError(f"value {value!r}")


def _members(values: Iterable[object]) -> set[int]:
    """An ``IN`` / ``NOT_IN`` list of strings as the Matcher's set of hashes."""
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"set {values!r}")
    return {int(get_string_id(v)) for v in cast(Iterable[str], values)}


def _test(name: str, op: str, arg: Any, strings: StringStore) -> Test:
    """One predicate on an attribute's value (its hash, or 0/1 for a flag)."""
    if op == "IN":
        members = _members(arg)
        return members.__contains__
    if op == "NOT_IN":
        excluded = _members(arg)
        return lambda value: value not in excluded
    if op == "REGEX" and isinstance(arg, str) and name not in _FLAGS:
        try:
            found = re.compile(arg).search
        except re.error as exc:
            raise ValueError(f"regex {arg!r}: {exc}") from None
        return lambda value: found(strings[value]) is not None
    raise ValueError(f"predicate {op!r} {arg!r}")


@Language.factory(LOOKUP_FACTORY, default_config={"source": "attribute_ruler"})
def make_attribute_lookup(nlp: Language, name: str, source: str) -> AttributeLookup:
    """The lookup for the patterns of ``nlp``'s ruler named ``source``.

    Raises ``ValueError`` when a pattern has a shape it does not reproduce."""
    ruler = nlp.get_pipe(source)
    if not isinstance(ruler, AttributeRuler):
        raise ValueError(f"{source} is a {type(ruler).__name__}, not an AttributeRuler")
    return AttributeLookup.from_ruler(ruler)
