"""`newswire eval ner`: entity-level exact match on two sets.

``conll``: CoNLL-2003 (1996 Reuters), one whole document per analysis, our types
collapsed to CoNLL's four. ``news``: our current-news set (``bench/data/ner-news.json``,
see ``bench/data/README.md``), annotated with our own nine types as character spans
over texts of the shared corpora and the demo corpus; scored with those types and
collapsed to CoNLL's four, so the two sets compare. Nothing here trains or tunes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language

from pipeline.entities import extract_entities
from pipeline.errors import InputError
from pipeline.evaluation import Scores, _prf, _read

Span3 = tuple[int, int, str]  # start, end (characters or tokens), type

REPO = Path(__file__).resolve().parents[1]
NEWS_SET = REPO / "bench" / "data" / "ner-news.json"
SHARED_DATA = REPO.parent / "shared" / "data"  # like scripts/accuracy-gate's ../shared/data
TYPES = ("PERSON", "ORG", "LOC", "NORP", "EVENT", "LAW", "WORK", "PRODUCT", "MISC")
_CONLL_TYPE = {"PERSON": "PER", "ORG": "ORG", "LOC": "LOC"}


def conll_type(etype: str) -> str:
    """CoNLL's name for one of our types: PERSON→PER, ORG, LOC, every other type→MISC."""
    return _CONLL_TYPE.get(etype, "MISC")


def score_spans(gold: Iterable[set[Span3]], predicted: Iterable[set[Span3]]) -> Scores:
    """Exact-match P/R/F1 over paired units (documents or sentences): a predicted span
    counts when its start, end and type all equal a gold span's. Overall and per type
    (every type either side names)."""
    tp: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for g, p in zip(gold, predicted, strict=True):
        for s in g & p:
            tp[s[2]] += 1
        n_gold.update(s[2] for s in g)
        n_pred.update(s[2] for s in p)
    scores: Scores = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    scores["per_type"] = {k: _prf(tp[k], n_pred[k], n_gold[k]) for k in sorted(n_gold | n_pred)}
    return scores


def predict(nlp: Language, text: str) -> list[Span3]:
    """The production path's entity mentions of ``text``: character spans, our types."""
    return [(m.start, m.end, m.type) for m in extract_entities(nlp(text)).mentions]


# CoNLL-2003 -------------------------------------------------------------------------


@dataclass
class _Sentence:
    tokens: list[str]
    gold: list[str]
    offsets: list[tuple[int, int]]  # of each token in the document's text


@dataclass
class ConllDoc:
    """One CoNLL document as the text we analyse: tokens joined by spaces, a sentence
    a line."""

    text: str
    sentences: list[_Sentence]


def _conll_sentences(path: Path) -> Iterator[list[tuple[list[str], list[str]]]]:
    doc: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*_read(path).splitlines(), ""]:
        if line.startswith("-DOCSTART-") or not line.strip():
            if tokens:
                doc.append((tokens, tags))
            tokens, tags = [], []
            if line.startswith("-DOCSTART-") and doc:
                yield doc
                doc = []
        else:
            parts = line.split()
            tokens.append(parts[0])
            tags.append(parts[-1])
    if doc:
        yield doc


def conll_documents(path: Path) -> list[ConllDoc]:
    """The documents of a CoNLL-2003 file (e.g. ``eng.testa``)."""
    docs = []
    for raw in _conll_sentences(path):
        text, sentences = "", []
        for tokens, tags in raw:
            offsets = []
            for tok in tokens:
                offsets.append((len(text), len(text) + len(tok)))
                text += tok + " "
            text = text[:-1] + "\n"
            sentences.append(_Sentence(tokens, tags, offsets))
        docs.append(ConllDoc(text, sentences))
    return docs


def tag_spans(tags: list[str]) -> set[Span3]:
    """Entity spans of an IOB1/IOB2 tag sequence: (start, end, type), in tokens."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        if start is not None and (tag == "O" or prefix == "B" or label != kind):
            spans.add((start, i, kind or ""))
            start, kind = None, None
        if tag != "O" and start is None:
            start, kind = i, label
    return spans


def _tags(sent: _Sentence, mentions: Sequence[Span3]) -> list[str]:
    """IOB1 CoNLL tags of the tokens that mentions (our types) cover whole."""
    tags = ["O"] * len(sent.offsets)
    for start, end, etype in mentions:
        label = conll_type(etype)
        covered = [i for i, (s, e) in enumerate(sent.offsets) if s >= start and e <= end]
        if covered and not any(tags[i] != "O" for i in covered):
            for n, i in enumerate(covered):
                adjacent = n == 0 and i > 0 and tags[i - 1].endswith(label)
                tags[i] = f"{'B' if adjacent else 'I'}-{label}"
    return tags


def score_conll(docs: Sequence[ConllDoc], predicted: Iterable[Sequence[Span3]]) -> Scores:
    """Entity F1 of each document's predicted mentions against CoNLL's tags, sentence
    by sentence; ``lines`` holds the predictions in CoNLL's shape (token gold predicted)."""
    gold: list[set[Span3]] = []
    pred: list[set[Span3]] = []
    lines: list[str] = []
    for doc, mentions in zip(docs, predicted, strict=True):
        for sent in doc.sentences:
            tags = _tags(sent, mentions)
            gold.append(tag_spans(sent.gold))
            pred.append(tag_spans(tags))
            lines += [f"{t} {g} {p}" for t, g, p in zip(sent.tokens, sent.gold, tags, strict=True)]
            lines.append("")
    scores = score_spans(gold, pred)
    scores["lines"] = lines
    return scores


def eval_ner(nlp: Language, conll: Path, predictions: Path | None = None) -> Scores:
    """Entity-level exact match on CoNLL-2003, one whole document per analysis."""
    docs = conll_documents(conll)
    scores = score_conll(docs, (predict(nlp, d.text) for d in docs))
    lines = scores.pop("lines")
    if predictions:
        predictions.write_text("\n".join(lines), encoding="utf-8")
    return scores


# The current-news set -------------------------------------------------------------------


@dataclass
class NewsItem:
    """One annotated text: where it comes from, the text, and its gold entities."""

    source: str  # extraction | article | demo
    id: str
    text: str
    gold: list[Span3]


def _texts(shared: Path) -> dict[str, Callable[[str], str]]:
    """How each source's text is found by its id (the annotated string, exactly)."""
    truth: dict[str, Any] = {}

    def extraction(page_id: str) -> str:
        if not truth:
            truth.update(json.loads(_read(shared / "extraction" / "ground-truth.json")))
        if page_id not in truth:
            raise InputError(f"no page {page_id} in {shared / 'extraction' / 'ground-truth.json'}")
        return str(truth[page_id]["articleBody"])

    def demo(slug: str) -> str:
        from pipeline.demo.server import corpus

        for article in corpus()[1]:
            if article.slug == slug:
                return article.body
        raise InputError(f"no article {slug} in the demo corpus")

    return {
        "extraction": extraction,
        "article": lambda name: _read(shared / "articles" / Path(name).name),
        "demo": demo,
    }


def news_items(annotations: Path, shared: Path) -> list[NewsItem]:
    """The annotated texts of ``annotations`` (``{"items": [{"source", "id",
    "entities": [[start, end, type], …]}, …]}``, see ``bench/data/README.md``), each
    text read from ``shared`` (the shared corpora) or the demo corpus.

    Raises ``InputError`` when a text is missing, a source unknown or a span falls
    outside its text or has a type not ours.
    """
    data = json.loads(_read(annotations))
    texts = _texts(shared)
    items = []
    for raw in data["items"]:
        source, item_id = raw["source"], raw["id"]
        if source not in texts:
            raise InputError(f"{annotations}: unknown source {source!r}")
        text = texts[source](item_id)
        gold = []
        for start, end, etype in raw["entities"]:
            if not 0 <= start < end <= len(text) or etype not in TYPES:
                raise InputError(f"{annotations}: bad entity {start, end, etype} in {item_id}")
            gold.append((int(start), int(end), str(etype)))
        items.append(NewsItem(source, item_id, text, gold))
    return items


def score_news(items: Sequence[NewsItem], predicted: Sequence[Sequence[Span3]]) -> Scores:
    """Exact match with our nine types, the same collapsed to CoNLL's four
    (``conll4``), on boundaries alone (``spans``), and the share of the spans found
    with the right boundaries that have the right type (``typed``)."""
    gold = [set(i.gold) for i in items]
    pred = [set(p) for p in predicted]
    scores = score_spans(gold, pred)

    def collapse(sets: list[set[Span3]]) -> list[set[Span3]]:
        return [{(s, e, conll_type(t)) for s, e, t in spans} for spans in sets]

    def untyped(sets: list[set[Span3]]) -> list[set[Span3]]:
        return [{(s, e, "") for s, e, _ in spans} for spans in sets]

    scores["conll4"] = score_spans(collapse(gold), collapse(pred))
    spans = score_spans(untyped(gold), untyped(pred))
    spans.pop("per_type")
    scores["spans"] = spans
    found = sum(len(untyped([g])[0] & untyped([p])[0]) for g, p in zip(gold, pred, strict=True))
    right = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    scores["typed"] = round(right / found, 4) if found else 0.0
    scores.update(texts=len(items), gold=sum(map(len, gold)), predicted=sum(map(len, pred)))
    return scores


def eval_ner_news(
    nlp: Language, annotations: Path, shared: Path, predictions: Path | None = None
) -> Scores:
    """Entity-level exact match on the current-news set; ``predictions`` gets the
    predicted spans (with their text) in the annotations' shape."""
    items = news_items(annotations, shared)
    predicted = [predict(nlp, item.text) for item in items]
    if predictions:
        out = [
            {"source": i.source, "id": i.id, "entities": [
                {"start": s, "end": e, "type": t, "text": i.text[s:e]} for s, e, t in p]}
            for i, p in zip(items, predicted, strict=True)
        ]  # fmt: skip
        predictions.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return score_news(items, predicted)
