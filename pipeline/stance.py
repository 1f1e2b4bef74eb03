"""Stances: who is for or against whom or what, with the evidence; and how an
article stands toward tracked claims and its own headline.

Holder → target polarity comes from the target-sentiment model trained on NewsMTSC
(``pipeline.sentiment_model``), scored on the sentence around each target a quote
names; claim stance from the FNC-1 model (``pipeline.claim_model``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from spacy.tokens import Doc, Span, Token

from pipeline import claim_model, sentiment_model
from pipeline.entities import EntityIndex
from pipeline.models import ClaimStance, Quote, Stance, StanceLabel
from pipeline.nlp import doc_text

_STANCE_TYPES = ("PERSON", "ORG", "LOC", "NORP", "EVENT", "LAW", "PRODUCT", "WORK")


@dataclass(frozen=True)
class _Target:
    name: str
    type: str
    root: Token
    start: int  # where this mention is written in the document
    end: int


_ROLES = frozenset({"nsubj", "nsubjpass", "dobj", "attr", "appos", "conj"})


def _targets(span: Span, quote: Quote, entities: EntityIndex) -> list[_Target]:
    found: dict[str, _Target] = {}
    for m in entities.mentions:
        if m.start >= span.end_char or m.end <= span.start_char:
            continue
        if m.name == quote.speaker or m.type not in _STANCE_TYPES or m.name in found:
            continue
        ent = span.doc.char_span(m.start, m.end, alignment_mode="expand")
        if ent is None:
            continue
        # A place is a target only as an actor ("Israel will delay"), not a setting ("in Gaza").
        if m.type == "LOC" and ent.root.dep_ not in _ROLES:
            continue
        found[m.name] = _Target(m.name, m.type, ent.root, m.start, m.end)
    if not found:  # no named target: the main noun phrase the quote is about
        for chunk in span.noun_chunks:
            if chunk.root.pos_ == "PRON" or chunk.root.dep_ not in ("nsubj", "nsubjpass", "dobj"):
                continue
            words = [t for t in chunk if t.dep_ not in ("det", "poss", "predet") and not t.is_punct]
            if words:
                start, end = words[0].idx, words[-1].idx + len(words[-1].text)
                name = doc_text(span.doc)[start:end]
                found[name] = _Target(name, "TOPIC", chunk.root, start, end)
                break
    return list(found.values())


def extract_stances(doc: Doc, quotes: list[Quote], entities: EntityIndex) -> list[Stance]:
    """Holder → target stances from the article's attributed quotes.

    A target is an entity a quote names (other than its speaker; places only as
    actors), else the noun phrase the quote is about. The target-sentiment model
    scores the sentence toward each mention (all of an article's mentions in one
    call); one holder's scores toward one target add up across quotes, and the
    evidence is the sentence that leaned most. Neutral stances are kept for people
    and organisations only.
    """
    pairs: list[tuple[Quote, Span, _Target]] = []
    for quote in quotes:
        span = doc.char_span(quote.start, quote.end, alignment_mode="expand")
        if span is not None:
            pairs += [(quote, span, target) for target in _targets(span, quote, entities)]
    probas = sentiment_model.model().proba_many(
        [
            (sent.text, t.start - sent.start_char, t.end - sent.start_char)
            for _, _, t in pairs
            for sent in (t.root.sent,)
        ]
    )
    totals: dict[tuple[str, str], tuple[NDArray[np.float32], int, float, str, str]] = {}
    for (quote, span, target), proba in zip(pairs, probas, strict=True):
        lean = float(max(proba[0], proba[2]))
        key = (quote.speaker, target.name)
        summed, n, strongest, evidence, ttype = totals.get(
            key, (np.zeros(3, np.float32), 0, -1.0, "", target.type)
        )
        if lean > strongest:
            strongest, evidence = lean, _evidence(span)
        totals[key] = (summed + proba, n + 1, strongest, evidence, ttype)
    stances = []
    for (holder, target_name), (summed, n, _, evidence, ttype) in totals.items():
        label = sentiment_model.LABELS[int(summed.argmax())]
        if label == "neutral" and ttype not in ("PERSON", "ORG"):
            continue
        stances.append(
            Stance(
                holder=holder,
                target=target_name,
                stance=label,
                confidence=round(float(summed.max()) / n, 2),
                evidence=evidence,
            )
        )
    return stances


def target_polarities(targets: Sequence[tuple[str, int, int]]) -> list[StanceLabel]:
    """The polarity of each (sentence, start, end) toward the target written at [start, end)."""
    probas = sentiment_model.model().proba_many(targets)
    return [sentiment_model.LABELS[int(i)] for i in probas.argmax(axis=1)]


def _evidence(quote: Span) -> str:
    """The sentence(s) holding the quote, trimmed to a readable length (only those:
    walking every sentence of the article, once per quote, is a hot path)."""
    text = " ".join(s.text.strip() for s in quote.sents)  # type: ignore[attr-defined]  # stubs lack it
    return text if len(text) <= 600 else text[:597] + "…"


# Claims ------------------------------------------------------------------------


def claim_stances(claims: Sequence[str], title: str, body: str) -> list[ClaimStance]:
    """Whether an article (title and body) agrees with, disputes, discusses or is
    unrelated to each claim: the FNC-1 model of ``pipeline.claim_model``."""
    text = f"{title}\n{body}" if title else body
    return [
        ClaimStance(claim=claim, stance=label, confidence=round(p, 2))
        for claim, (label, p) in zip(claims, claim_model.model().predict(claims, text), strict=True)
    ]
