"""Target-dependent sentiment: is a sentence positive, neutral or negative toward the
person or thing written at [start, end)?

all-MiniLM-L6-v2 fine-tuned on NewsMTSC train by ``scripts/train/target_sentiment.py``,
reading the target as its first segment and the words around it (target marked with
« ») as its second. It ships as int8 ONNX with its tokenizer in
``pipeline/data/sentiment/`` and runs on onnxruntime, one target per call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime
from numpy.typing import NDArray
from tokenizers import Tokenizer

from pipeline.models import StanceLabel

MODEL_DIR = Path(__file__).parent / "data" / "sentiment"
LABELS: tuple[StanceLabel, ...] = ("against", "neutral", "favor")  # NewsMTSC 2.0, 4.0, 6.0
CONTEXT_WORDS = 32  # each side of the target
MAX_TOKENS = 128
_SPACE = re.compile(r"\s+")


def pair(text: str, start: int, end: int) -> tuple[str, str]:
    """The model's two input segments for the target at [start, end) of ``text``."""
    left = text[:start].split()[-CONTEXT_WORDS:]
    right = text[end:].split()[:CONTEXT_WORDS]
    target = _SPACE.sub(" ", text[start:end]).strip()
    return target, " ".join([*left, "«", target, "»", *right])


@dataclass(frozen=True)
class TargetSentimentModel:
    session: onnxruntime.InferenceSession
    tokenizer: Tokenizer

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> TargetSentimentModel:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one process per core: scale with processes
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
        tokenizer.no_padding()  # one input per call: nothing to pad
        return cls(session, tokenizer)

    def proba_many(self, targets: Sequence[tuple[str, int, int]]) -> NDArray[np.float32]:
        """P(against), P(neutral), P(favor) for each (text, start, end), one row each.

        One model call per distinct input: the int8 model scales each call's
        activations together, so in a batch a target's score would depend on its
        batchmates (and their padding); single calls are also the faster here."""
        pairs = [pair(*t) for t in targets]
        unique = list(dict.fromkeys(pairs))
        scores: dict[tuple[str, str], NDArray[np.float32]] = {}
        for text_pair, e in zip(unique, self.tokenizer.encode_batch(unique), strict=True):
            feed = {
                "input_ids": np.array([e.ids], np.int64),
                "attention_mask": np.array([e.attention_mask], np.int64),
                "token_type_ids": np.array([e.type_ids], np.int64),
            }
            logits: NDArray[np.float32] = self.session.run(["logits"], feed)[0][0]
            exp = np.exp(logits - logits.max())
            scores[text_pair] = exp / exp.sum()
        out = np.zeros((len(targets), len(LABELS)), np.float32)
        for row, text_pair in enumerate(pairs):
            out[row] = scores[text_pair]
        return out


@cache
def model() -> TargetSentimentModel:
    """The shipped model, loaded once per process."""
    return TargetSentimentModel.load()
