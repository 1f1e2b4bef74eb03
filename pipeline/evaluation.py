"""`newswire eval`: the shipped models, as they are, scored on public corpora.

Each task reads a corpus in its own format, runs the production code path, scores
it the way the corpus's own benchmark does, and can write its raw predictions in the
corpus's shape (DESIGN, "Command line"). Nothing here trains or tunes.
"""

from __future__ import annotations

import csv
import glob
import json
import re
from pathlib import Path
from typing import Any

from spacy.language import Language

from pipeline.claim_model import holdout_bodies
from pipeline.entities import extract_entities
from pipeline.errors import InputError
from pipeline.extract import extract_html
from pipeline.quotes import extract_quotes
from pipeline.stance import claim_stances, target_polarities

Scores = dict[str, Any]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


# Quotes: PolNeAR ----------------------------------------------------------------------


def _ann_spans(value: str) -> tuple[int, int]:
    pieces = [tuple(map(int, frag.split())) for frag in value.split(";")]
    return pieces[0][0], pieces[-1][1]


_BRAT_ID = re.compile(r"[A-Z]\d+\t")


def _polnear_gold(path: Path) -> list[dict[str, tuple[int, int] | None]]:
    spans: dict[str, tuple[str, tuple[int, int]]] = {}
    out = []
    for line in _read(path).splitlines():
        # an annotation's quoted text may span lines ("3.\n\nThe number of…" in PolNeAR
        # train): only a line that starts with an id is an annotation
        if _BRAT_ID.match(line) is None:
            continue
        if line.startswith("T"):
            tid, info, _ = line.split("\t", 2)
            label, _, offsets = info.partition(" ")
            spans[tid] = (label, _ann_spans(offsets))
        elif line.startswith("E"):
            args = dict(a.split(":", 1) for a in line.split("\t")[1].split())
            if "Content" in args and args["Content"] in spans:
                out.append({k.lower(): spans[args[k]][1] if k in args and args[k] in spans else None
                            for k in ("Source", "Cue", "Content")})  # fmt: skip
    return out


_WORD = re.compile(r"\w+")


def _words(text: str, span: tuple[int, int]) -> set[int]:
    return {span[0] + m.start() for m in _WORD.finditer(text[span[0] : span[1]])}


def eval_quotes(
    nlp: Language, polnear: Path, split: str, predictions: Path | None = None
) -> Scores:
    """Attribution P/R/F1 (content spans sharing at least half of the gold words) and
    the share of matched ones whose source span overlaps the gold source."""
    texts = sorted((polnear / split / "text").glob("*.txt"))
    if not texts:
        raise InputError(f"no PolNeAR texts under {polnear / split / 'text'}")
    matched = n_pred = n_gold = source_ok = 0
    out = []
    for path in texts:
        anns = glob.glob(str(polnear / split / "attributions" / f"{path.stem}*.ann"))
        gold = _polnear_gold(Path(anns[0])) if anns else []
        text = _read(path)
        doc = nlp(text)
        quotes = extract_quotes(doc, extract_entities(doc))
        n_pred += len(quotes)
        n_gold += len(gold)
        used: set[int] = set()
        for g in gold:
            content = g["content"]
            assert content is not None
            gw = _words(text, content)
            for i, q in enumerate(quotes):
                if i in used or not gw or len(gw & _words(text, (q.start, q.end))) < 0.5 * len(gw):
                    continue
                used.add(i)
                matched += 1
                src, qs = g["source"], q.source_span
                source_ok += bool(src and qs and qs[0] < src[1] and src[0] < qs[1])
                break
        out.append({"doc": path.stem, "attributions": [
            {"source": list(q.source_span) if q.source_span else None,
             "cue": list(q.cue_span) if q.cue_span else None, "content": [q.start, q.end]}
            for q in quotes]})  # fmt: skip
    if predictions:
        predictions.write_text("".join(json.dumps(d) + "\n" for d in out), encoding="utf-8")
    scores: Scores = _prf(matched, n_pred, n_gold)
    scores["source_accuracy"] = round(source_ok / matched, 4) if matched else 0.0
    scores.update(documents=len(texts), gold=n_gold, predicted=n_pred)
    return scores


# Claim stance: FNC-1 ------------------------------------------------------------------

FNC_LABELS = ("agree", "disagree", "discuss", "unrelated")


def fnc_score(gold: str, pred: str) -> float:
    """The FNC-1 pair score: 0.25 for the related/unrelated call, 0.75 more for the label."""
    score = 0.25 if gold == pred else 0.0
    if gold != "unrelated" and pred != "unrelated":
        score += 0.25 + (0.5 if gold == pred else 0.0)
    return score


def eval_stance(
    bodies: Path, stances: Path, predictions: Path | None = None, holdout: bool = False
) -> Scores:
    """FNC-1 score of the shipped claim-stance model; with ``holdout``, only on the
    bodies its training held out (the honest number on FNC-1 train)."""
    with bodies.open(encoding="utf-8", newline="") as f:
        body_text = {row["Body ID"]: row["articleBody"] for row in csv.DictReader(f)}
    with stances.open(encoding="utf-8", newline="") as f:
        pairs = list(csv.DictReader(f))
    if holdout:
        held = holdout_bodies()
        pairs = [p for p in pairs if p["Body ID"] in held]
    by_body: dict[str, list[int]] = {}
    for n, pair in enumerate(pairs):
        by_body.setdefault(pair["Body ID"], []).append(n)
    predicted: dict[int, str] = {}
    for body_id, rows_of_body in by_body.items():  # one body at a time: its words once
        verdicts = claim_stances(
            [pairs[n]["Headline"] for n in rows_of_body], "", body_text[body_id]
        )
        for n, verdict in zip(rows_of_body, verdicts, strict=True):
            predicted[n] = verdict.stance
    score = best = 0.0
    confusion = {g: dict.fromkeys(FNC_LABELS, 0) for g in FNC_LABELS}
    rows = []
    for n, pair in enumerate(pairs):
        gold, pred = pair["Stance"], predicted[n]
        score += fnc_score(gold, pred)
        best += fnc_score(gold, gold)
        confusion[gold][pred] += 1
        rows.append((pair["Headline"], pair["Body ID"], pred))
    if predictions:
        with predictions.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["Headline", "Body ID", "Stance"])
            writer.writerows(rows)
    correct = sum(confusion[g][g] for g in FNC_LABELS)
    return {"fnc_score": round(score, 2), "fnc_max": round(best, 2), "fnc_pct": round(100 * score / best, 2),
            "accuracy": round(correct / len(pairs), 4), "confusion": confusion, "pairs": len(pairs)}  # fmt: skip


# Target sentiment: NewsMTSC --------------------------------------------------------------

_POLARITY = {"against": 2.0, "neutral": 4.0, "favor": 6.0}


def eval_sentiment(newsmtsc: Path, predictions: Path | None = None) -> Scores:
    records = [json.loads(line) for line in _read(newsmtsc).splitlines() if line.strip()]
    targets = [(r["sentence_normalized"], t) for r in records for t in r["targets"]]
    labels = target_polarities([(text, t["from"], t["to"]) for text, t in targets])
    for (_, target), label in zip(targets, labels, strict=True):
        target["predicted"] = _POLARITY[label]
    gold = [float(t["polarity"]) for _, t in targets]
    pred = [t["predicted"] for _, t in targets]
    if predictions:
        predictions.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    f1s = []
    for cls in (2.0, 4.0, 6.0):
        tp = sum(g == p == cls for g, p in zip(gold, pred, strict=True))
        f1s.append(_prf(tp, pred.count(cls), gold.count(cls))["f1"])
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    return {
        "f1_macro": round(sum(f1s) / 3, 4),
        "accuracy": round(accuracy, 4),
        "targets": len(gold),
    }


# Extraction: article-extraction-benchmark ---------------------------------------------------


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


def eval_extract(html_dir: Path, ground_truth: Path, predictions: Path | None = None) -> Scores:
    """Word 4-gram shingles; precision and recall per page, averaged; F1 from the means."""
    truth = json.loads(_read(ground_truth))
    precisions, recalls, out = [], [], {}
    for page_id, item in sorted(truth.items()):
        path = html_dir / f"{page_id}.html"
        html = path.read_bytes() if path.exists() else b""
        extracted = extract_html(html, item.get("url")) if html else None
        body = extracted.body if extracted else ""
        out[page_id] = {"articleBody": body}
        got, want = _shingles(body), _shingles(item["articleBody"])
        both = len(got & want)
        precisions.append(both / len(got) if got else 0.0)
        recalls.append(both / len(want) if want else 0.0)
    if predictions:
        predictions.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return {"f1": round(2 * p * r / (p + r), 4) if p + r else 0.0, "precision": round(p, 4),
            "recall": round(r, 4), "pages": len(truth)}  # fmt: skip
