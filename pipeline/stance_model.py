"""Which stance candidates a reader would list, and with what confidence.

A candidate (``pipeline.stance`` finds them) carries its polarity from its cue — a
stance verb or noun, negation flipping it — or, for an entity in a holder's direct
quote, from the target-sentiment model (NewsMTSC). A logistic regression over the
candidate's construction, types, negation, quote context and the sentiment model's
probabilities decides whether the text supports it; its weights were fitted on our
annotated PolNeAR train articles (``scripts/train/stances.py``) and its threshold
chosen there by 5-fold cross-validation by article. Pairs below the threshold are
"neutral": never emitted.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from spacy.tokens import Span

from pipeline import sentiment_model
from pipeline.stance_lexicon import GUIDE_CUES
from pipeline.stance_targets import Actor

MODEL_PATH = Path(__file__).parent / "data" / "stance_model.json"
KINDS = ("verb", "prep", "noun", "copula", "passive", "quote", "call")
TYPES = ("PERSON", "ORG", "LOC", "NORP", "ISSUE", "DESCRIBED")


@dataclass(frozen=True)
class Candidate:
    """A holder → target pair the text may support, with where it is written."""

    holder: Actor
    target: Actor
    prior: int  # +1 favor, -1 against, 0 unknown (quote candidates: the model says)
    kind: str  # one of KINDS
    cue: str  # the stance word's lemma
    negated: bool
    in_quote: bool  # written inside a direct quotation
    sent: Span
    target_start: int  # the target's characters in the document
    target_end: int


def features(cand: Candidate, sentiment: NDArray[np.float32] | None) -> list[float]:
    """The model's input for one candidate; ``sentiment`` is the target-sentiment
    model's (against, neutral, favor) probabilities, when it was run on it."""
    sent = sentiment if sentiment is not None else np.zeros(3, np.float32)
    lean = float(sent[2] - sent[0])
    sign = cand.prior if cand.prior else (1 if lean > 0 else -1)
    return [
        1.0,
        *(float(cand.kind == k) for k in KINDS),
        *(float(cand.holder.type == t) for t in TYPES),
        *(float(cand.target.type == t) for t in TYPES),
        float(cand.negated),
        float(cand.in_quote),
        float(sign > 0),
        float(sentiment is not None) * max(float(sent[0]), float(sent[2])),
        float(sentiment is not None) * float(sent[1]),
        float(cand.cue in GUIDE_CUES),
        min(len(cand.target.name.split()), 8) / 8,
    ]


def feature_rows(
    cands: Sequence[Candidate], sentiments: Sequence[NDArray[np.float32] | None]
) -> NDArray[np.float64]:
    """``features`` of every candidate of one article, plus what the article says
    elsewhere about the same pair: how often the holder leans that way on that
    target, and whether a stance word says so somewhere."""
    labels = [polarity(c, s) for c, s in zip(cands, sentiments, strict=True)]
    count: Counter[tuple[str, str, str]] = Counter()
    worded: set[tuple[str, str, str]] = set()
    for c, label in zip(cands, labels, strict=True):
        key = (c.holder.name, c.target.name, label)
        count[key] += 1
        if c.prior:
            worded.add(key)
    rows = []
    for c, s, label in zip(cands, sentiments, labels, strict=True):
        key = (c.holder.name, c.target.name, label)
        rows.append([*features(c, s), float(np.log1p(count[key] - 1)), float(key in worded)])
    return np.array(rows, np.float64).reshape(len(cands), FEATURES)


def polarity(cand: Candidate, sentiment: NDArray[np.float32] | None) -> str:
    """``favor`` or ``against``: the cue's polarity, else the sentiment model's lean."""
    sign = cand.prior
    if sign == 0 and sentiment is not None:
        sign = 1 if sentiment[2] > sentiment[0] else -1
    return "favor" if sign > 0 else "against"


FEATURES = 1 + len(KINDS) + 2 * len(TYPES) + 9
# where ``features`` puts what the sentiment model sets: the sign, the lean, neutrality
SENTIMENT_AT = 1 + len(KINDS) + 2 * len(TYPES) + 2


class StanceModel:
    """Logistic regression over ``features``; ``threshold`` on its probability."""

    def __init__(self, weights: Sequence[float], threshold: float) -> None:
        self.weights = np.asarray(weights, np.float64)
        self.threshold = threshold
        if self.weights.shape != (FEATURES,):
            raise ValueError(f"stance model has {self.weights.shape[0]} weights, not {FEATURES}")

    @staticmethod
    def sentiments(
        cands: Sequence[Candidate], skip: Collection[int] = ()
    ) -> list[NDArray[np.float32] | None]:
        """The sentiment model's probabilities for the candidates that need them:
        those whose cue carries no polarity (12 ms a target), once per target and
        sentence (its first mention there stands for the others); not for the
        candidates in ``skip`` (None) unless another one reads the same target there."""
        asks: dict[tuple[str, int], int] = {}
        needed: set[tuple[str, int]] = set()
        for i, c in enumerate(cands):
            if c.prior == 0:
                key = (c.target.name, c.sent.start_char)
                asks.setdefault(key, i)
                if i not in skip:
                    needed.add(key)
        out: list[NDArray[np.float32] | None] = [None] * len(cands)
        if not needed:
            return out
        keys = [k for k in asks if k in needed]
        probas = sentiment_model.model().proba_many(
            [
                (
                    cands[asks[k]].sent.text,
                    cands[asks[k]].target_start - cands[asks[k]].sent.start_char,
                    cands[asks[k]].target_end - cands[asks[k]].sent.start_char,
                )
                for k in keys
            ]
        )
        by_key = dict(zip(keys, probas, strict=True))
        for i, c in enumerate(cands):
            if c.prior == 0:
                out[i] = by_key.get((c.target.name, c.sent.start_char))
        return out

    def hopeless(self, cands: Sequence[Candidate]) -> set[int]:
        """The candidates no sentiment reading can lift to the threshold (issue 17: the
        sentiment model only on the pairs the stance step may keep). Only those whose
        polarity the model would give and whose holder → target pair is theirs alone:
        the pair features of the others count their label. Their score with every
        sentiment feature at its most favourable value stays below the threshold."""
        if not 0.0 < self.threshold < 1.0:
            return set()
        pairs = Counter((c.holder.name, c.target.name) for c in cands)
        lift = sum(max(0.0, float(w)) for w in self.weights[SENTIMENT_AT : SENTIMENT_AT + 3])
        cutoff = float(np.log(self.threshold / (1.0 - self.threshold))) - lift
        return {
            i
            for i, c in enumerate(cands)
            if c.prior == 0
            and pairs[(c.holder.name, c.target.name)] == 1
            # a lone pair's own count and worded features are 0 whatever its label
            and float(np.dot([*features(c, None), 0.0, 0.0], self.weights)) < cutoff - 1e-9
        }

    def probability(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        result: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-(rows @ self.weights)))
        return result

    def decide(self, cands: Sequence[Candidate]) -> list[tuple[str, float]]:
        """For each candidate: ``favor``, ``against`` or ``neutral`` (not supported),
        and the model's probability that a reader would list it."""
        if not cands:
            return []
        # a candidate left without a reading scores below the threshold anyway
        sentiments = self.sentiments(cands, self.hopeless(cands))
        rows = feature_rows(cands, sentiments)
        return [
            (polarity(c, s) if p >= self.threshold else "neutral", float(p))
            for c, s, p in zip(cands, sentiments, self.probability(rows), strict=True)
        ]


_lock = threading.Lock()


@cache
def _load(path: Path) -> StanceModel:
    data = json.loads(path.read_text(encoding="utf-8"))
    return StanceModel(data["weights"], data["threshold"])


def fitted_documents(path: Path = MODEL_PATH) -> frozenset[str]:
    """The annotated articles the shipped model was fitted on (``documents`` in its
    file): what an evaluation off its training data leaves out."""
    return frozenset(json.loads(path.read_text(encoding="utf-8")).get("documents", ()))


def model(path: Path = MODEL_PATH) -> StanceModel:
    """The shipped stance model, loaded once per process."""
    with _lock:
        return _load(path)
