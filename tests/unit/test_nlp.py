"""The spaCy pipeline's own parts: the cached text, line breaks as sentence ends, the
merge of the two entity models (table-driven on hand-made docs), the packed vectors
key map, and loading."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import spacy
import srsly
from spacy.tokens import Doc, Span

from pipeline.attributes import AttributeLookup
from pipeline.errors import InputError
from pipeline.nlp import NER_MODEL, NEWS_NER, NewsEntities, PackedRows, doc_text, load_model

WORDS = ["Vice", "President", "Mike", "Pence", "met", "Hezbollah", "envoys", "in", "Beirut",
         "on", "Friday", "about", "the", "Paris", "Agreement", "and", "Norwegian", "fish"]  # fmt: skip


def _doc(conll: list[tuple[int, int, str]], onto: list[tuple[int, int, str]]) -> Doc:
    """A doc whose news-NER entities are ``conll`` and small-model entities ``onto``,
    as ``NewsEntities`` sees them after both models ran."""
    doc = Doc(spacy.blank("en").vocab, words=WORDS)
    doc.spans["ontonotes"] = [Span(doc, s, e, label=label) for s, e, label in onto]
    doc.ents = [Span(doc, s, e, label=label) for s, e, label in conll]
    return doc


@pytest.mark.parametrize(
    ("conll", "onto", "expected"),
    [
        # CoNLL labels in our terms: PER → PERSON, LOC → GPE
        ([(8, 9, "LOC")], [], [("Beirut", "GPE", True)]),
        ([(2, 4, "PER")], [], [("Mike Pence", "PERSON", True)]),
        # MISC gets the small model's finer type when both mark the same words
        ([(13, 15, "MISC")], [(13, 15, "LAW")], [("Paris Agreement", "LAW", True)]),
        ([(16, 17, "MISC")], [(16, 17, "NORP")], [("Norwegian", "NORP", True)]),
        ([(16, 17, "MISC")], [(16, 17, "GPE")], [("Norwegian", "MISC", True)]),
        # person or organisation: the small model decides when the two disagree
        ([(5, 6, "PER")], [(5, 6, "ORG")], [("Hezbollah", "ORG", True)]),
        # a person's longer name around the news NER's one is taken
        ([(3, 4, "PER")], [(2, 4, "PERSON")], [("Mike Pence", "PERSON", True)]),
        # the small model's other types stay where they overlap nothing taken
        ([(8, 9, "LOC")], [(10, 11, "DATE")], [("Beirut", "GPE", True), ("Friday", "DATE", False)]),
        ([(10, 11, "MISC")], [(10, 11, "DATE")], [("Friday", "MISC", True)]),
        # and its people, organisations and places never: the news NER is the judge of those
        ([], [(8, 9, "GPE"), (2, 4, "PERSON")], []),
    ],
)
def test_entity_merge(
    conll: list[tuple[int, int, str]],
    onto: list[tuple[int, int, str]],
    expected: list[tuple[str, str, bool]],
) -> None:
    doc = NewsEntities._merge(_doc(conll, onto))
    assert [(e.text, e.label_, e.kb_id_ == NEWS_NER) for e in doc.ents] == expected


def test_stash_moves_the_small_models_entities_aside() -> None:
    doc = Doc(spacy.blank("en").vocab, words=WORDS)
    doc.ents = [Span(doc, 8, 9, label="GPE")]
    NewsEntities._stash(doc)
    assert list(doc.ents) == [] and [s.text for s in doc.spans["ontonotes"]] == ["Beirut"]


def test_doc_text_is_built_once() -> None:
    doc = spacy.blank("en")("The bridge opened.")
    first = doc_text(doc)
    assert first == doc.text and doc_text(doc) is first


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("Harbor news\nThe bridge opened today.", ["The"]),
        ("Title\n\nBody here.\nSecond line", ["Body", "Second"]),
        ("One line. Two sentences, one line.", []),  # the parser's job, not this one's
    ],
)
def test_a_line_break_ends_a_sentence(text: str, starts: list[str]) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("newline_sentences")
    doc = nlp(text)
    assert [t.text for t in doc[1:] if t.is_sent_start] == starts


def test_unknown_model_is_an_input_error_naming_it() -> None:
    with pytest.raises(InputError, match="no_such_model_4d1f"):
        load_model("no_such_model_4d1f")


def test_default_model_is_loaded_once_with_our_components(nlp: Any) -> None:
    assert load_model() is nlp
    names = nlp.pipe_names
    assert names.index("newline_sentences") < names.index("parser")
    assert names.index("ner") < names.index("news_entities")
    # the ruler's patterns as lookups, in its place (tests/unit/test_attributes.py)
    assert names.index("parser") < names.index("attribute_ruler") < names.index("lemmatizer")
    assert isinstance(nlp.get_pipe("attribute_ruler"), AttributeLookup)
    doc = nlp("Councillor Marcus Hale spoke in Oslo.\nNew heading")
    assert {e.text for e in doc.ents} >= {"Marcus Hale", "Oslo"}
    assert [s.text.strip() for s in doc.sents][-1] == "New heading"


def test_a_loaded_pipeline_leaves_one_blas_thread() -> None:
    """Analysis scales with processes, one per core: a second BLAS thread per process
    only spins (bench/analysis.py measured ~85 ms of CPU per article). In a fresh
    process whose BLAS was set to four threads first, whatever the machine and environment."""
    script = (
        "import json\n"
        "import numpy\n"
        "from threadpoolctl import threadpool_info as info, threadpool_limits\n"
        "from pipeline.nlp import load_model\n"
        "threadpool_limits(4, user_api='blas')\n"
        "blas = lambda: sorted({p['num_threads'] for p in info() if p['user_api'] == 'blas'})\n"
        "before = blas()\n"
        "load_model()\n"
        "print(json.dumps([before, blas()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert (before, after) == ([4], [1])


def test_packed_rows_answer_as_the_dict_they_pack() -> None:
    rows = {0: 3, 1: 0, 7: 0, 2**63 + 5: 1, 2**64 - 1: 19_999}  # preshed's reserved keys too
    packed = PackedRows(rows)
    assert len(packed) == len(rows)
    assert sorted(packed) == sorted(rows)
    assert dict(packed.items()) == rows
    for key, row in rows.items():
        assert packed[key] == packed.get(key, -1) == row
        assert key in packed
    for absent in (2, 2**63, -1, 2**64, "7", None):
        assert packed.get(absent, -1) == -1
        assert absent not in packed
        with pytest.raises(KeyError):
            packed[absent]


def test_the_news_ner_vectors_find_every_shipped_key_and_no_other(nlp: Any) -> None:
    """The loaded pipeline's vectors give each key of the shipped map its row, and -1
    (a zero vector for the model) to any other key, as spaCy's own dict did."""
    shipped: dict[int, int] = srsly.read_msgpack(NER_MODEL / "vocab" / "key2row")
    vectors = nlp.vocab.vectors
    assert isinstance(vectors.key2row, PackedRows)
    keys = np.fromiter(shipped, dtype=np.uint64, count=len(shipped))
    assert vectors.find(keys=keys).tolist() == list(shipped.values())
    unknown = [k for k in range(2, 2_000) if k not in shipped][:100]
    assert vectors.find(keys=unknown).tolist() == [-1] * len(unknown)
    assert vectors.n_keys == len(shipped)
