"""The stance step asks the sentiment model only about candidates it may keep (issue 17),
and decides exactly as it would with every reading; on sentences written for these tests."""

from __future__ import annotations

import numpy as np
import pytest
from spacy.language import Language

from pipeline.entities import extract_entities
from pipeline.quotes import extract_quotes
from pipeline.stance import candidates
from pipeline.stance_model import (
    FEATURES,
    SENTIMENT_AT,
    Candidate,
    StanceModel,
    feature_rows,
    model,
    polarity,
)

TEXTS = [
    'Senator Laura Pike toured the harbor on Monday. "Tom Reyes has ruined this city, and the '
    'harbor tunnel plan is a disgrace," Pike said.',
    'Governor Tom Reyes answered on Tuesday. "Laura Pike is a fine senator and the Harbor '
    'Workers Union deserves better," Reyes said. He praised the ferry subsidy.',
    'Mayor Elena Vasquez urged councillors to approve the project. "Every month we wait, the '
    'old bridge gets more dangerous, and Marcus Hale knows it," Vasquez said.',
]


def _cands(nlp: Language, text: str) -> list[Candidate]:
    doc = nlp(text)
    index = extract_entities(doc)
    return candidates(doc, extract_quotes(doc, index), index)


def _with_every_reading(m: StanceModel, cands: list[Candidate]) -> list[tuple[str, float]]:
    """What ``decide`` gave before it skipped readings: the sentiment of every candidate."""
    sentiments = m.sentiments(cands)
    probs = m.probability(feature_rows(cands, sentiments))
    return [
        (polarity(c, s) if p >= m.threshold else "neutral", float(p))
        for c, s, p in zip(cands, sentiments, probs, strict=True)
    ]


def _models() -> list[StanceModel]:
    rng = np.random.default_rng(7)
    out = [model()]
    for threshold in (0.2, 0.4, 0.6, 0.8):
        weights = rng.normal(0.0, 1.5, FEATURES)
        out.append(StanceModel(weights.tolist(), threshold))
    return out


@pytest.mark.parametrize("text", TEXTS)
def test_skipped_readings_change_no_decision(nlp: Language, text: str) -> None:
    cands = _cands(nlp, text)
    assert any(c.prior == 0 for c in cands), "the quotes give candidates the model must read"
    for m in _models():
        got = m.decide(cands)
        want = _with_every_reading(m, cands)
        assert [label for label, _ in got] == [label for label, _ in want]
        for (label, p), (_, q) in zip(got, want, strict=True):
            if label != "neutral":  # an emitted stance keeps its confidence
                assert p == pytest.approx(q)


def test_hopeless_candidates_get_no_reading(nlp: Language) -> None:
    cands = _cands(nlp, TEXTS[0])
    readable = {i for i, c in enumerate(cands) if c.prior == 0}
    pairs = [(c.holder.name, c.target.name) for c in cands]
    lone = {i for i in readable if pairs.count(pairs[i]) == 1}
    # a bias no reading can overcome: every lone candidate is hopeless, and asked nothing
    never = StanceModel([-10.0] + [0.0] * (FEATURES - 1), threshold=0.5)
    assert never.hopeless(cands) == lone
    sentiments = never.sentiments(cands, never.hopeless(cands))
    shared = {(cands[i].target.name, cands[i].sent.start_char) for i in readable - lone}
    for i in lone:
        key = (cands[i].target.name, cands[i].sent.start_char)
        assert (sentiments[i] is None) == (key not in shared)
    # a lean the reading may give lifts any candidate: none is hopeless
    lean = [-2.0] + [0.0] * (FEATURES - 1)
    lean[SENTIMENT_AT + 1] = 5.0  # the lean feature (max of favor and against)
    assert StanceModel(lean, threshold=0.5).hopeless(cands) == set()
    assert all(s is not None for i, s in enumerate(never.sentiments(cands)) if i in readable)
