"""``AttributeLookup`` writes what spaCy's own ``AttributeRuler`` writes: on a ruler of
our own patterns over a hand-made doc (every supported shape, and patterns whose order
decides), on the shipped model's ruler over sentences we wrote, and it refuses the
shapes it does not reproduce, leaving the ruler in place."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import spacy
from spacy.language import Language
from spacy.pipeline import AttributeRuler
from spacy.tokens import Doc

from pipeline import attributes
from pipeline.attributes import AttributeLookup
from pipeline.nlp import DEFAULT_MODELS, replace_attribute_ruler

# Our own patterns, in the ruler's format; later ones win where they set the same attribute.
PATTERNS: list[dict[str, Any]] = [
    {"patterns": [[{"TAG": "NN"}]], "attrs": {"POS": "NOUN", "MORPH": "Number=Sing"}},
    {"patterns": [[{"TAG": "NNS"}]], "attrs": {"POS": "NOUN", "MORPH": "Number=Plur"}},
    {"patterns": [[{"TAG": "VBD"}]], "attrs": {"MORPH": "Tense=Past"}},
    {"patterns": [[{"TAG": "DT"}]], "attrs": {"POS": "DET"}},
    # LOWER with TAG; a lower-case key and an IN list; TEXT for ORTH with a REGEX
    {"patterns": [[{"TAG": "NN", "LOWER": "crane"}]], "attrs": {"LEMMA": "crane"}},
    {"patterns": [[{"lower": {"IN": ["harbor", "pier"]}, "DEP": "nsubj"}]], "attrs": {"POS": "PROPN"}},
    {"patterns": [[{"TEXT": {"REGEX": "^[A-Z]{3,}$"}}]], "attrs": {"POS": "PROPN", "LEMMA": "Harbor"}},
    # DEP with NOT_IN (the empty string: a label is set), and both predicates on one value
    {"patterns": [[{"DEP": {"NOT_IN": ["det", ""]}, "TAG": {"IN": ["DT", "WDT"]}}]], "attrs": {"POS": "PRON"}},
    {"patterns": [[{"LOWER": {"IN": ["la", "na"], "NOT_IN": ["na"]}}]], "attrs": {"MORPH": "Foreign=Yes"}},
    # whitespace: a tag, and a label when the parser gave one
    {"patterns": [[{"IS_SPACE": True}]], "attrs": {"TAG": "_SP", "POS": "SPACE", "MORPH": "_"}},
    {"patterns": [[{"IS_SPACE": True, "DEP": {"NOT_IN": [""]}}]], "attrs": {"DEP": "dep"}},
    # two tokens, each one's lemma; three tokens with an empty spec and the last as target
    {"patterns": [[{"LOWER": "gon"}, {"LOWER": "na"}]], "attrs": {"LEMMA": "go"}, "index": 0},
    {"patterns": [[{"LOWER": "gon"}, {"LOWER": "na"}]], "attrs": {"LEMMA": "to"}, "index": 1},
    {"patterns": [[{"DEP": "expl"}, {}, {"LOWER": "here"}]], "attrs": {"POS": "ADV"}, "index": -1},
    # overlapping matches ("la la la")
    {"patterns": [[{"LOWER": "la"}, {"LOWER": "la"}]], "attrs": {"LEMMA": "lala"}, "index": 1},
    # two alternatives; then a later pattern taking back POS (not LEMMA) of the main verb
    {"patterns": [[{"TAG": "VBD", "LOWER": "had"}], [{"TAG": "VBZ", "LOWER": "has"}]], "attrs": {"POS": "AUX", "LEMMA": "have"}},
    {"patterns": [[{"LOWER": {"IN": ["had", "has"]}, "DEP": "ROOT"}]], "attrs": {"POS": "VERB"}},
    {"patterns": [[{"LOWER": "cargo"}]], "attrs": {"MORPH": "Number=Sing|Foreign=Yes"}},
]  # fmt: skip

# (word, tag, dep, head) of a doc written for those patterns
TOKENS = [
    ("The", "DT", "det", 1), ("crane", "NN", "nsubj", 2), ("had", "VBD", "ROOT", 2),
    ("cargo", "NN", "dobj", 2), (".", ".", "punct", 2), ("  ", "_SP", "punct", 4),
    ("There", "EX", "expl", 7), ("is", "VBZ", "ROOT", 7), ("here", "RB", "advmod", 7),
    ("that", "DT", "nsubj", 10), ("has", "VBZ", "aux", 10), ("had", "VBD", "ROOT", 10),
    ("cranes", "NNS", "dobj", 11), ("harbor", "NN", "nsubj", 15), ("is", "VBZ", "aux", 15),
    ("gon", "VBG", "ROOT", 15), ("na", "TO", "aux", 15), ("HARBOR", "NN", "npadvmod", 15),
    ("la", "UH", "intj", 15), ("la", "UH", "intj", 15), ("la", "UH", "intj", 15),
    (" ", "", "", 21),
]  # fmt: skip


def attributes_of(doc: Doc) -> list[tuple[str, ...]]:
    return [(t.text, t.tag_, t.pos_, str(t.morph), t.lemma_, t.dep_) for t in doc]


def _ruler(nlp: Language, patterns: list[dict[str, Any]]) -> AttributeRuler:
    ruler = nlp.add_pipe("attribute_ruler")
    assert isinstance(ruler, AttributeRuler)
    ruler.add_patterns(patterns)
    return ruler


def _doc(nlp: Language) -> Doc:
    words, tags, deps, heads = (list(column) for column in zip(*TOKENS, strict=True))
    return Doc(
        nlp.vocab, words=words, spaces=[False] * len(words), tags=tags, deps=deps, heads=heads
    )


def test_our_patterns_write_what_the_ruler_writes() -> None:
    nlp = spacy.blank("en")
    ruler = _ruler(nlp, PATTERNS)
    lookup = AttributeLookup.from_ruler(ruler)
    theirs, ours = ruler(_doc(nlp)), lookup(_doc(nlp))
    assert attributes_of(ours) == attributes_of(theirs)
    # what the ruler decided, as we read the patterns (so that each case above counts)
    assert attributes_of(theirs)[:4] == [
        ("The", "DT", "DET", "", "", "det"),
        ("crane", "NN", "NOUN", "Number=Sing", "crane", "nsubj"),
        ("had", "VBD", "VERB", "Tense=Past", "have", "ROOT"),  # AUX, then VERB
        ("cargo", "NN", "NOUN", "Foreign=Yes|Number=Sing", "", "dobj"),  # MORPH twice
    ]
    assert [(t.tag_, t.pos_, t.dep_) for t in theirs[5:6]] == [("_SP", "SPACE", "dep")]
    assert [t.pos_ for t in theirs[6:14]] == ["", "", "ADV", "PRON", "AUX", "VERB", "NOUN", "PROPN"]
    assert [t.lemma_ for t in theirs[15:21]] == ["go", "to", "Harbor", "", "lala", "lala"]
    assert [str(t.morph) for t in theirs[16:21]] == ["", "Number=Sing", *["Foreign=Yes"] * 3]
    assert [(t.tag_, t.pos_, t.dep_) for t in theirs[21:]] == [("_SP", "SPACE", "")]


def test_caches_that_start_again_give_the_same_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache full at two values per attribute is emptied on each new one: the writes
    stay the ruler's (the limit bounds memory, it never changes a result)."""
    monkeypatch.setattr(attributes, "CACHE_LIMIT", 2)
    nlp = spacy.blank("en")
    ruler = _ruler(nlp, PATTERNS)
    lookup = AttributeLookup.from_ruler(ruler)
    theirs = attributes_of(ruler(_doc(nlp)))
    for _ in range(2):
        assert attributes_of(lookup(_doc(nlp))) == theirs
    assert all(len(column) <= 2 for column in lookup.columns)


def test_a_ruler_without_a_pattern_reads_nothing_and_is_refused() -> None:
    with pytest.raises(ValueError, match="no pattern"):
        AttributeLookup.from_ruler(_ruler(spacy.blank("en"), []))


@pytest.mark.parametrize(
    "pattern",
    [
        {"patterns": [[{"LOWER": "a", "OP": "+"}]], "attrs": {"POS": "DET"}},
        {"patterns": [[{"LENGTH": 1}]], "attrs": {"POS": "DET"}},
        {"patterns": [[{"LOWER": {"IS_SUBSET": ["a"]}}]], "attrs": {"POS": "DET"}},
        {"patterns": [[{"LOWER": {"FUZZY": "harbor"}}]], "attrs": {"POS": "NOUN"}},
        {"patterns": [[{"IS_SPACE": {"REGEX": "1"}}]], "attrs": {"POS": "SPACE"}},
        {"patterns": [[{"LOWER": "a"}]], "attrs": {"NORM": "an"}},  # NORM is refused with the rest
        {"patterns": [[{"LOWER": "a"}, {"LOWER": "b"}]], "attrs": {"POS": "X"}, "index": 2},
    ],
)
def test_shapes_it_does_not_reproduce_are_refused(pattern: dict[str, Any]) -> None:
    nlp = spacy.blank("en")
    ruler = _ruler(nlp, [PATTERNS[0], pattern])
    with pytest.raises(ValueError, match="pattern 1 "):
        AttributeLookup.from_ruler(ruler)


def test_a_refused_ruler_stays_in_the_pipeline_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nlp = spacy.blank("en")
    _ruler(nlp, [{"patterns": [[{"LOWER": "a", "OP": "?"}]], "attrs": {"POS": "DET"}}])
    with caplog.at_level(logging.WARNING, logger="pipeline.nlp"):
        replace_attribute_ruler(nlp)
    assert nlp.pipe_names == ["attribute_ruler"]
    assert isinstance(nlp.get_pipe("attribute_ruler"), AttributeRuler)
    assert "kept spaCy's attribute_ruler" in caplog.text and "pattern 0" in caplog.text


def test_an_accepted_ruler_is_replaced_in_place_under_its_name() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    _ruler(nlp, PATTERNS)
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    replace_attribute_ruler(nlp)
    assert nlp.pipe_names == ["sentencizer", "attribute_ruler", "lemmatizer"]
    assert isinstance(nlp.get_pipe("attribute_ruler"), AttributeLookup)


# Sentences we wrote for the shipped ruler's kinds of pattern: tags alone, words with
# tags, labels (nsubj "I", aux, mark, expl + "are"), whitespace, "gonna" / "let's" (two
# tokens, the second one written), and main-verb "had" / "do" (AUX, then VERB wins).
SENTENCES = [
    "I told them that the harbor crane had failed.  Nobody knew why.",
    "They had a plan, but we're gonna wait because it is late.",
    "Let's see whether there are boats here.\n\nYou do your job and I do mine.",
    "She hasn't been told; he'd said it was his, and those were theirs.",
]


@pytest.fixture(scope="module")
def shipped() -> Language:
    """The small model as shipped, its own attribute ruler in place."""
    for name in DEFAULT_MODELS:
        try:
            return spacy.load(name, exclude=["ner"])
        except OSError:
            continue
    pytest.skip(f"none of {DEFAULT_MODELS} installed")


def test_the_shipped_ruler_and_its_lookup_write_the_same(shipped: Language) -> None:
    ruler = shipped.get_pipe("attribute_ruler")
    assert isinstance(ruler, AttributeRuler)
    lookup = AttributeLookup.from_ruler(ruler)
    with shipped.select_pipes(enable=["tok2vec", "tagger", "parser"]):
        parsed = list(shipped.pipe(SENTENCES))
    lemmatizer = shipped.get_pipe("lemmatizer")
    for doc in parsed:
        theirs, ours = ruler(doc.copy()), lookup(doc.copy())
        assert attributes_of(ours) == attributes_of(theirs)
        assert attributes_of(lemmatizer(ours)) == attributes_of(lemmatizer(theirs))
    # and the sentences hit every kind of pattern, and a token with two patterns setting
    # one attribute to two values (where the order of application decides)
    patterns, kinds, contested = ruler.patterns, set(), 0
    for doc in parsed:
        hits: dict[int, list[int]] = {}
        for number, _, start, end in ruler.match(doc):
            index = ruler.indices[number]
            hits.setdefault((start if index >= 0 else end) + index, []).append(number)
            specs = patterns[number]["patterns"][0]
            kinds.add((len(specs), index, tuple(sorted(k for s in specs for k in s))))
        for numbers in hits.values():
            for attr in {a for n in numbers for a in ruler.attrs[n]}:
                contested += (
                    len({ruler.attrs[n][attr] for n in numbers if attr in ruler.attrs[n]}) > 1
                )
    assert {
        (1, 0, ("TAG",)),
        (1, 0, ("LOWER", "TAG")),
        (1, 0, ("DEP", "LOWER")),
        (1, 0, ("DEP", "TAG")),
        (1, 0, ("IS_SPACE",)),
        (2, 1, ("LOWER", "LOWER")),
        (2, 1, ("DEP", "LOWER")),
    } <= kinds
    assert contested
