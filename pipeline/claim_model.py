"""Claim stance (FNC-1): does a text agree with, disagree with, discuss, or not
concern a claim (a headline)? A one-hidden-layer network over bag-of-words features,
the UCL Machine Reading design: the claim's and the text's L2-normalized term
frequencies (one shared vocabulary) and the TF-IDF cosine between them.

The weights are trained by ``scripts/train/claim_stance.py`` on FNC-1 train (bodies
outside a fixed hold-out) and ship in ``pipeline/data/claim_stance.npz`` (numpy, no
pickle); inference is numpy only. The hold-out's body ids ship beside it so
``newswire eval stance --holdout`` scores only bodies the model never saw.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pipeline.models import ClaimLabel

DATA = Path(__file__).parent / "data"
MODEL = DATA / "claim_stance.npz"
HOLDOUT = DATA / "claim_stance.holdout.json"
LABELS: tuple[ClaimLabel, ...] = ("agree", "disagree", "discuss", "unrelated")

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# A short English stop list: function words carry no topic, and the vocabulary is
# capped, so every slot should go to a word that can tell stories apart. Negations
# ("not", "no", "never", "against") stay: they are what a disagreeing text says.
STOP = frozenset(
    """a about above after again all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves also said says""".split()
)


REFUTING = frozenset(
    """fake fraud hoax false deny denies denied refute refutes refuted not despite nope doubt
    doubts bogus debunk debunked debunks prank pranks retract retracted retracts untrue
    misleading rumor rumour rumors rumours unconfirmed no never""".split()
)
HEDGING = frozenset(
    """reportedly allegedly alleged claims claim claimed according unverified may might could
    appears apparently rumored purportedly supposedly possibly suggest suggests""".split()
)
CONFIRMING = frozenset(
    "confirmed confirms confirm official officially announced revealed shows".split()
)
INTRO_CHARS = 400
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of two or more characters, stop words removed."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOP]


def extra_features(claim: str, text: str) -> list[float]:
    """Overlap and refutation cues the bag of words misses (the official FNC-1
    baseline's hand features, condensed): how much of the claim the text and its
    opening repeat, word pairs too, and refuting words in each."""
    c, t, intro = tokens(claim), tokens(text), tokens(text[:INTRO_CHARS])
    cs, ts, its = set(c), set(t), set(intro)
    c2 = set(itertools.pairwise(c))
    t2 = set(itertools.pairwise(t))
    i2 = set(itertools.pairwise(intro))
    share = len(cs & ts) / len(cs) if cs else 0.0
    return [
        len(cs & ts) / len(cs | ts) if cs | ts else 0.0,
        share,
        len(cs & its) / len(cs) if cs else 0.0,
        len(c2 & t2) / len(c2) if c2 else 0.0,
        len(c2 & i2) / len(c2) if c2 else 0.0,
        1.0 if cs & REFUTING else 0.0,
        min(1.0, sum(w in REFUTING for w in t) / 10),
        1.0 if its & REFUTING else 0.0,
        *_closest_sentences(cs, text),
        min(1.0, sum(w in HEDGING for w in t) / 10),
        1.0 if its & HEDGING else 0.0,
        min(1.0, sum(w in CONFIRMING for w in t) / 5),
    ]


def _closest_sentences(claim_words: set[str], text: str) -> list[float]:
    """How much of the claim the best-matching sentence repeats, and whether the two
    best-matching sentences carry refuting or hedging words: stance sits where the
    claim is taken up, not anywhere in the text."""
    if not claim_words:
        return [0.0, 0.0, 0.0]
    scored = sorted(
        (
            (len(claim_words & set(ws)) / len(claim_words), ws)
            for ws in map(tokens, _SENTENCE.split(text))
        ),
        key=lambda x: -x[0],
    )[:2]
    if not scored:
        return [0.0, 0.0, 0.0]
    near = {w for _, ws in scored for w in ws}
    return [scored[0][0], 1.0 if near & REFUTING else 0.0, 1.0 if near & HEDGING else 0.0]


@dataclass(frozen=True)
class ClaimStanceModel:
    vocab: dict[str, int]
    idf: NDArray[np.float32]
    w1: NDArray[np.float32]
    b1: NDArray[np.float32]
    w2: NDArray[np.float32]
    b2: NDArray[np.float32]

    @classmethod
    def load(cls, path: Path = MODEL) -> ClaimStanceModel:
        with np.load(path, allow_pickle=False) as npz:
            words = [str(w) for w in npz["vocab"]]
            return cls(
                vocab={w: i for i, w in enumerate(words)},
                idf=npz["idf"].astype(np.float32),
                w1=npz["w1"].astype(np.float32),
                b1=npz["b1"].astype(np.float32),
                w2=npz["w2"].astype(np.float32),
                b2=npz["b2"].astype(np.float32),
            )

    def _counts(self, text: str) -> NDArray[np.float32]:
        v = np.zeros(len(self.vocab), dtype=np.float32)
        for word, n in Counter(tokens(text)).items():
            i = self.vocab.get(word)
            if i is not None:
                v[i] = n
        return v

    def features(
        self, claim: str, text: str, text_counts: NDArray[np.float32] | None = None
    ) -> NDArray[np.float32]:
        """[tf(claim), tf(text), cosine(tfidf(claim), tfidf(text)), extra_features] as the
        network reads them."""
        c = self._counts(claim)
        t = self._counts(text) if text_counts is None else text_counts
        cosine = float(_l2(c * self.idf) @ _l2(t * self.idf))
        return np.concatenate([_l2(c), _l2(t), [cosine], extra_features(claim, text)]).astype(
            np.float32
        )

    def predict_proba(self, features: NDArray[np.float32]) -> NDArray[np.float32]:
        hidden = np.maximum(features @ self.w1 + self.b1, 0.0)
        logits = hidden @ self.w2 + self.b2
        logits -= logits.max(axis=-1, keepdims=True)
        e = np.exp(logits)
        out: NDArray[np.float32] = e / e.sum(axis=-1, keepdims=True)
        return out

    def predict(self, claims: Sequence[str], text: str) -> list[tuple[ClaimLabel, float]]:
        """The stance of ``text`` toward each claim, with its probability."""
        if not claims:
            return []
        counts = self._counts(text)
        proba = self.predict_proba(np.stack([self.features(c, text, counts) for c in claims]))
        return [
            (LABELS[int(i)], float(p[i])) for p, i in zip(proba, proba.argmax(axis=1), strict=True)
        ]


def _l2(v: NDArray[np.float32]) -> NDArray[np.float32]:
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


@cache
def model() -> ClaimStanceModel:
    """The shipped model, loaded once per process."""
    return ClaimStanceModel.load()


def holdout_bodies() -> frozenset[str]:
    """FNC-1 body ids held out of training (for an honest ``eval stance --holdout``)."""
    return frozenset(json.loads(HOLDOUT.read_text())["body_ids"])


def vocabulary(texts: Iterable[str], size: int) -> list[str]:
    """The ``size`` most frequent words over ``texts`` (ties by word), for training."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(tokens(text))
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]
