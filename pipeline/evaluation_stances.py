"""`newswire eval stances`: holder → target stances scored against reader annotations.

The annotations (``shared/data/stances/dev.json``, and our own train set in
``scripts/train/data/stances/``) list, per article, the stances a careful reader
would name. The matching rule is the annotation README's, implemented exactly:

a predicted favor/against stance matches a gold stance when the labels are equal,
the predicted holder (or any alias that the prediction's own entity list gives for
it) equals, contains or is contained in one of the gold holder aliases
(case-insensitive), and the predicted target (or any alias of it) contains one of
the gold target keywords (case-insensitive substring). Recall = gold stances matched
by at least one prediction / gold stances; precision = predicted favor/against
stances that match some gold stance / predicted favor/against stances.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language

from pipeline import stance_model
from pipeline.errors import InputError
from pipeline.models import Entity, Extracted, Stance

Scores = dict[str, Any]


@dataclass(frozen=True)
class GoldStance:
    holder: tuple[str, ...]  # canonical name first, then the article's aliases
    keywords: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class Predicted:
    """One article's predicted stances with the entity list that gives their aliases."""

    stances: Sequence[Stance]
    entities: Sequence[Entity]


def load_gold(path: Path) -> dict[str, list[GoldStance]]:
    """Annotations by document name, from a JSON list of ``{"doc", "stances": [...]}``.

    Raises ``InputError`` when the file is unreadable or not in that shape.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            d["doc"]: [
                GoldStance(tuple(s["holder"]), tuple(s["target_keywords"]), s["label"])
                for s in d["stances"]
            ]
            for d in data
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a stance annotation file: {exc}") from exc


def _names(name: str, entities: Iterable[Entity]) -> list[str]:
    """``name`` and the aliases its entity (same name, case-insensitive) has."""
    out = [name]
    for e in entities:
        if e.name.lower() == name.lower():
            out += e.aliases
    return [n.lower() for n in out if n.strip()]


def matches(stance: Stance, gold: GoldStance, entities: Sequence[Entity]) -> bool:
    """Whether a predicted stance matches a gold one under the README's rule."""
    if stance.stance != gold.label:
        return False
    aliases = [a.lower() for a in gold.holder if a.strip()]
    holders = _names(stance.holder, entities)
    if not any(h == a or h in a or a in h for h in holders for a in aliases):
        return False
    targets = _names(stance.target, entities)
    return any(k.lower() in t for t in targets for k in gold.keywords if k.strip())


def score(gold: dict[str, list[GoldStance]], predicted: dict[str, Predicted]) -> Scores:
    """Precision, recall and F1 over all documents of ``gold`` (a document with no
    prediction counts as predicting nothing)."""
    n_gold = sum(len(g) for g in gold.values())
    n_pred = hit_pred = hit_gold = 0
    for doc, golds in gold.items():
        pred = predicted.get(doc, Predicted([], []))
        polar = [s for s in pred.stances if s.stance in ("favor", "against")]
        n_pred += len(polar)
        hit_pred += sum(any(matches(s, g, pred.entities) for g in golds) for s in polar)
        hit_gold += sum(any(matches(s, g, pred.entities) for s in polar) for g in golds)
    p = hit_pred / n_pred if n_pred else 0.0
    r = hit_gold / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f, 4),
        "documents": len(gold),
        "gold": n_gold,
        "predicted": n_pred,
        "matched_predicted": hit_pred,
        "matched_gold": hit_gold,
    }


def predict(nlp: Language, texts: Path, docs: Iterable[str]) -> dict[str, Predicted]:
    """Each document analysed as ``newswire analyze`` does a text file (title on line 1)."""
    from pipeline.analyze import analyze_batch
    from pipeline.extract import from_text_file

    names = list(docs)
    items: list[Extracted] = []
    for name in names:
        try:
            items.append(from_text_file((texts / name).read_text(encoding="utf-8")))
        except OSError as exc:
            raise InputError(f"cannot read {texts / name}: {exc.strerror}") from exc
    analyses = analyze_batch(nlp, items, batch_size=4)
    return {n: Predicted(a.stances, a.entities) for n, a in zip(names, analyses, strict=True)}


def eval_stances(
    nlp: Language,
    gold_path: Path,
    texts: Path,
    predictions: Path | None = None,
    *,
    unseen: bool = False,
) -> Scores:
    """Analyse every annotated article under ``texts`` and score its stances; with
    ``unseen``, only those the shipped stance model was not fitted on
    (``stance_model.fitted_documents``: our train annotations as a second split).

    ``predictions`` receives one JSON object per article: its stances and the
    entities (with aliases) the matching rule reads. Raises ``InputError`` for an
    unreadable annotation file or article, or when ``unseen`` leaves none.
    """
    gold = load_gold(gold_path)
    if unseen:
        fitted = stance_model.fitted_documents()
        gold = {doc: stances for doc, stances in gold.items() if doc not in fitted}
        if not gold:
            raise InputError(f"{gold_path}: the stance model was fitted on every article")
    predicted = predict(nlp, texts, gold)
    if predictions:
        rows = [
            {
                "doc": doc,
                "stances": [s.model_dump() for s in p.stances],
                "entities": [{"name": e.name, "aliases": e.aliases} for e in p.entities],
            }
            for doc, p in predicted.items()
        ]
        predictions.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return score(gold, predicted)
