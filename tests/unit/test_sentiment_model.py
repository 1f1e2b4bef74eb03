"""The shipped target-sentiment model: its inputs, and batching that changes no score."""

from __future__ import annotations

import numpy as np

from pipeline import sentiment_model

SENTENCES = [
    ("Critics said Marcus Hale had wrecked the harbor budget and misled voters.", "Marcus Hale"),
    ("Elena Vasquez was praised for a careful, honest and widely admired reform.", "Elena Vasquez"),
    ("Tom Becker will speak at noon.", "Tom Becker"),
    ("The council, which Amara Nwosu chairs, met on Tuesday to discuss the plan.", "Amara Nwosu"),
]


def _targets() -> list[tuple[str, int, int]]:
    return [(s, s.index(name), s.index(name) + len(name)) for s, name in SENTENCES]


def test_pair_marks_the_target_and_bounds_its_context() -> None:
    words = " ".join(f"w{i}" for i in range(100))
    text = f"{words} Hale {words}"
    target, context = sentiment_model.pair(text, len(words) + 1, len(words) + 5)
    assert target == "Hale"
    left, right = context.split(" « Hale » ")
    assert len(left.split()) == len(right.split()) == sentiment_model.CONTEXT_WORDS
    assert left.split()[-1] == "w99" and right.split()[0] == "w0"


def test_batched_scores_equal_one_at_a_time() -> None:
    model = sentiment_model.model()
    targets = _targets()
    together = model.proba_many([*targets, targets[0]])
    alone = np.stack([model.proba_many([t])[0] for t in targets])
    assert together.shape == (5, 3)
    np.testing.assert_allclose(together[:4], alone, atol=1e-4)
    np.testing.assert_array_equal(together[4], together[0])  # a repeat is scored once
    np.testing.assert_allclose(together.sum(axis=1), 1.0, atol=1e-5)
    assert model.proba_many([]).shape == (0, 3)


def test_polarity_follows_the_words_about_the_target() -> None:
    labels = sentiment_model.LABELS
    proba = sentiment_model.model().proba_many(_targets()[:2])
    assert labels[int(proba[0].argmax())] == "against"
    assert labels[int(proba[1].argmax())] == "favor"
