"""Target-dependent sentiment: is a sentence positive, neutral or negative toward the
person or thing written at [start, end)? A logistic regression over the words on
each side of the target (six each way, with word pairs), and the sentence's words.

Trained by ``scripts/train/target_sentiment.py`` on NewsMTSC train; the weights ship
in ``pipeline/data/target_sentiment.npz`` (numpy, no pickle); inference is numpy only.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pipeline.models import StanceLabel

MODEL = Path(__file__).parent / "data" / "target_sentiment.npz"
LABELS: tuple[StanceLabel, ...] = ("against", "neutral", "favor")  # NewsMTSC 2.0, 4.0, 6.0
WINDOW = 6
_WORD = re.compile(r"[\w'’-]+|[!?]")


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def features(text: str, start: int, end: int) -> list[str]:
    """The named features of the target at [start, end) of ``text``."""
    left, right = _words(text[:start])[-WINDOW:], _words(text[end:])[:WINDOW]
    out = [f"L:{w}" for w in left] + [f"R:{w}" for w in right]
    out += [f"L2:{a}_{b}" for a, b in itertools.pairwise(left)]
    out += [f"R2:{a}_{b}" for a, b in itertools.pairwise(right)]
    out += [f"S:{w}" for w in set(_words(text[:start]) + _words(text[end:]))]
    return out


@dataclass(frozen=True)
class TargetSentimentModel:
    index: dict[str, int]
    coef: NDArray[np.float32]  # (labels, features)
    intercept: NDArray[np.float32]

    @classmethod
    def load(cls, path: Path = MODEL) -> TargetSentimentModel:
        with np.load(path, allow_pickle=False) as npz:
            names = [str(n) for n in npz["features"]]
            return cls(
                index={n: i for i, n in enumerate(names)},
                coef=npz["coef"].astype(np.float32),
                intercept=npz["intercept"].astype(np.float32),
            )

    def proba(self, text: str, start: int, end: int) -> NDArray[np.float32]:
        """P(against), P(neutral), P(favor) toward the target at [start, end)."""
        cols = sorted(
            {i for f in features(text, start, end) if (i := self.index.get(f)) is not None}
        )
        logits = self.coef[:, cols].sum(axis=1) + self.intercept
        e = np.exp(logits - logits.max())
        out: NDArray[np.float32] = e / e.sum()
        return out


@cache
def model() -> TargetSentimentModel:
    """The shipped model, loaded once per process."""
    return TargetSentimentModel.load()
