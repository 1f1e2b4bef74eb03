"""The stance scorer implements the annotation README's matching rule, on records
written for these tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spacy.language import Language

from pipeline import stance_model
from pipeline.errors import InputError
from pipeline.evaluation_stances import (
    GoldStance,
    Predicted,
    eval_stances,
    load_gold,
    matches,
    score,
)
from pipeline.models import Entity, Stance

# our stance annotations: train.json (fitted on) and heldout.json (measured only)
ANNOTATIONS = Path(__file__).parents[2] / "scripts" / "train" / "data" / "stances"
PIKE = Entity(name="Laura Pike", type="PERSON", mentions=3, salience=1.0, aliases=["Pike"])
TUNNEL = Entity(name="Harbor Tunnel", type="LOC", mentions=1, salience=0.2, aliases=["tunnel"])


def stance(holder: str, target: str, label: str = "against") -> Stance:
    return Stance(holder=holder, target=target, stance=label, confidence=0.9, evidence="…")  # type: ignore[arg-type]


GOLD = GoldStance(("Laura Pike", "Pike", "the senator"), ("tunnel plan", "Tunnel"), "against")


@pytest.mark.parametrize(
    ("pred", "entities", "expected"),
    [
        (stance("Laura Pike", "the harbor tunnel plan"), [], True),
        (stance("laura pike", "TUNNEL PLAN"), [], True),  # case-insensitive
        (stance("Pike", "tunnel plan"), [], True),  # contained in a gold alias
        (stance("Senator Laura Pike", "tunnel plan"), [], True),  # contains a gold alias
        (stance("the senator's office", "tunnel plan"), [], True),  # contains "the senator"
        (stance("Lara Pine", "tunnel plan"), [], False),
        (stance("Laura Pike", "tunnel plan", "favor"), [], False),  # labels differ
        (stance("Laura Pike", "plan"), [], False),  # the target must contain a keyword
        (stance("Laura Pike", "Harbor Tunnel"), [TUNNEL], True),  # "tunnel" ⊂ the name
        (stance("Senator P.", "tunnel plan"), [], False),
        # an alias from the prediction's own entity list
        (stance("L.P.", "tunnel plan"), [PIKE.model_copy(update={"name": "L.P."})], True),
    ],
)
def test_matching_rule(pred: Stance, entities: list[Entity], expected: bool) -> None:
    assert matches(pred, GOLD, entities) is expected


def test_precision_counts_predictions_and_recall_counts_gold() -> None:
    other = GoldStance(("Tom Reyes", "Reyes"), ("water tax",), "favor")
    gold = {"a.txt": [GOLD, other], "b.txt": [GoldStance(("Ines Baro",), ("port",), "favor")]}
    predicted = {
        "a.txt": Predicted(
            [
                stance("Laura Pike", "tunnel plan"),  # matches GOLD
                stance("Pike", "the tunnel plan"),  # matches GOLD again: recall counts it once
                stance("Tom Reyes", "water tax", "against"),  # wrong label
                stance("Tom Reyes", "Ines Baro", "neutral"),  # neutral: not scored
            ],
            [PIKE],
        ),
        # b.txt predicts nothing
    }
    s = score(gold, predicted)
    assert (s["predicted"], s["matched_predicted"], s["matched_gold"], s["gold"]) == (3, 2, 1, 3)
    assert s["precision"] == round(2 / 3, 4)
    assert s["recall"] == round(1 / 3, 4)
    assert s["f1"] == round(2 * (2 / 3) * (1 / 3) / (2 / 3 + 1 / 3), 4)


def test_load_gold_reads_the_annotation_format(tmp_path: Path) -> None:
    path = tmp_path / "gold.json"
    record = {"holder": ["Laura Pike", "Pike"], "target_keywords": ["tunnel"], "label": "favor"}
    path.write_text(json.dumps([{"doc": "a.txt", "stances": [record]}]), encoding="utf-8")
    assert load_gold(path) == {"a.txt": [GoldStance(("Laura Pike", "Pike"), ("tunnel",), "favor")]}
    path.write_text('{"doc": 1}', encoding="utf-8")
    with pytest.raises(InputError):
        load_gold(path)


def test_the_shipped_model_names_the_train_articles_it_was_fitted_on() -> None:
    shipped = json.loads(stance_model.MODEL_PATH.read_text(encoding="utf-8"))
    train = ANNOTATIONS / "train.json"
    annotated = {d["doc"] for d in json.loads(train.read_text(encoding="utf-8"))}
    fitted = stance_model.fitted_documents()
    assert len(fitted) == shipped["articles"] and fitted <= annotated


def test_unseen_scores_only_the_articles_the_model_was_not_fitted_on(
    nlp: Language, tmp_path: Path
) -> None:
    record = {"holder": ["Laura Pike"], "target_keywords": ["water tax"], "label": "against"}
    fitted = sorted(stance_model.fitted_documents())[0]  # its text is not here: never read
    gold = tmp_path / "gold.json"
    gold.write_text(
        json.dumps([{"doc": fitted, "stances": [record]}, {"doc": "new.txt", "stances": [record]}]),
        encoding="utf-8",
    )
    (tmp_path / "new.txt").write_text(
        "Tax vote\nCouncillor Laura Pike rejected the water tax on Monday.", encoding="utf-8"
    )
    scores = eval_stances(nlp, gold, tmp_path, unseen=True)
    assert (scores["documents"], scores["gold"]) == (1, 1)
    with pytest.raises(InputError, match="cannot read"):  # without it the fitted one counts
        eval_stances(nlp, gold, tmp_path)
    gold.write_text(json.dumps([{"doc": fitted, "stances": [record]}]), encoding="utf-8")
    with pytest.raises(InputError, match="fitted on every"):
        eval_stances(nlp, gold, tmp_path, unseen=True)


def test_the_shipped_model_file_has_a_weight_per_feature_and_its_cv_threshold() -> None:
    shipped = json.loads(stance_model.MODEL_PATH.read_text(encoding="utf-8"))
    assert len(shipped["weights"]) == stance_model.FEATURES
    assert shipped["threshold"] == shipped["cv"]["threshold"] and 0.0 < shipped["threshold"] < 1.0
    loaded = stance_model.model()
    assert loaded.weights.shape == (stance_model.FEATURES,)
    assert loaded.threshold == shipped["threshold"]


def test_the_held_out_annotations_are_apart_from_training_and_hold_no_text() -> None:
    """heldout.json measures only: fitting on it, or on an article it shares with
    train.json, would make it a train split; and the publishers' text stays out."""
    held = json.loads((ANNOTATIONS / "heldout.json").read_text(encoding="utf-8"))
    train = json.loads((ANNOTATIONS / "train.json").read_text(encoding="utf-8"))
    names = {d["doc"] for d in held}
    assert len(names) == len(held) > 0
    assert not names & {d["doc"] for d in train}
    assert not names & stance_model.fitted_documents()
    keys = {"holder", "target_keywords", "label", "evidence_start", "evidence_end"}
    assert all(set(s) == keys for d in held for s in d["stances"])
