"""The shipped claim-stance network on texts written for this test."""

from __future__ import annotations

import numpy as np

from pipeline.claim_model import extra_features, holdout_bodies, model, tokens
from pipeline.stance import claim_stances

CLAIM = "Mayor Ortega resigns after the harbor contract scandal"
ABOUT = (
    "Mayor Luis Ortega resigned on Monday, days after the harbor contract scandal broke. "
    "Ortega said the harbor contract had been signed without a vote of the council and "
    "that he would resign to let an inquiry work. The council will choose an acting mayor."
)
DENIAL = (
    "Mayor Luis Ortega has not resigned, his office said, calling reports that he would resign "
    "over the harbor contract false. A spokesman denied any scandal and said the harbor "
    "contract was approved by the council. Ortega dismissed the rumors as a hoax."
)
ELSEWHERE = (
    "The regional orchestra opened its winter season with a program of Sibelius and Grieg. "
    "Tickets sold out within hours, and the conductor thanked volunteers for the new hall."
)


def test_model_shapes_agree() -> None:
    m = model()
    features = m.features(CLAIM, ABOUT)
    assert (
        features.shape
        == (m.w1.shape[0],)
        == (2 * len(m.vocab) + 1 + len(extra_features("a", "b")),)
    )
    proba = m.predict_proba(features[None, :])
    assert proba.shape == (1, 4) and np.isclose(proba.sum(), 1.0)


def claim_stance(claim: str, text: str) -> str:
    [verdict] = claim_stances([claim], "", text)
    return verdict.stance


def test_unrelated_and_related_texts() -> None:
    assert claim_stance(CLAIM, ELSEWHERE) == "unrelated"
    assert claim_stance(CLAIM, ABOUT) != "unrelated"
    assert claim_stance(CLAIM, DENIAL) != "unrelated"


def test_batch_equals_one_by_one() -> None:
    claims = [CLAIM, "Orchestra opens winter season with Sibelius"]
    assert claim_stances(claims, "", ABOUT) == [claim_stances([c], "", ABOUT)[0] for c in claims]


def test_negations_are_kept_as_features() -> None:
    assert {"not", "no", "never"} <= set(tokens("It is not true, no, never."))


def test_holdout_is_a_tenth_of_the_bodies() -> None:
    assert 150 <= len(holdout_bodies()) <= 180
