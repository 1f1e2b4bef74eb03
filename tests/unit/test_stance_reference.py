"""The shared reference article (../shared/data/articles, present in CI): the stances a
careful reader lists there (issue 12) come out, and the pair it warned about does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from spacy.language import Language

from pipeline.analyze import analyze_batch
from pipeline.extract import from_text_file
from pipeline.models import Stance

READER = [
    # (holder, words of the target, label)
    ("Makati", "proposal", "favor"),  # Beirut responded "positively", per Makati
    ("Bezalel Smotrich", "arrangement", "against"),  # "We will not agree to any arrangement"
    ("Bezalel Smotrich", "operational freedom", "favor"),  # "a non-negotiable condition"
    ("Nabih Berri", "demand", "against"),  # such a demand would be "unacceptable"
    ("Makati", "reports", "against"),  # dismissed reports of demands … as "speculation"
    ("Trump", "negotiations track", "favor"),  # has endorsed Hochstein's … track
    ("a senior US official", "Hamas", "against"),  # "come down like a ton of bricks on Hamas"
]


@pytest.fixture(scope="module")
def reference(nlp: Language) -> list[Stance]:
    from tests.conftest import SHARED_DATA

    path = Path(SHARED_DATA) / "articles" / "beirut-ceasefire.txt"
    if not path.exists():
        pytest.skip(f"shared corpora not found at {SHARED_DATA}")
    return analyze_batch(nlp, [from_text_file(path.read_text(encoding="utf-8"))])[0].stances


@pytest.mark.parametrize(("holder", "target", "label"), READER)
def test_reader_stances_are_found(
    reference: list[Stance], holder: str, target: str, label: str
) -> None:
    assert any(
        holder in s.holder and target in s.target and s.stance == label for s in reference
    ), [(s.holder, s.target, s.stance) for s in reference]


def test_no_sentiment_of_a_mention_taken_for_a_stance(reference: list[Stance]) -> None:
    assert not any("Nasrallah" in s.target for s in reference)
    assert len(reference) <= 15, "a reader lists about a dozen, not every co-mentioned pair"
