"""What quotes and stances cost on top of entities, in one process.

    python bench/analysis.py [--texts DIR] [--repeat N]

Over the PolNeAR dev texts (84 news articles; read from ``../shared/data``, never
copied): entities alone (the components they need, both NER models, and our
normalization), then the whole analyze stage (parse, quotes, target sentiment,
stances, claims), with the time of each spaCy component and of each of our steps. Prints one JSON object
and writes it to bench/results/analysis.json; both numbers come from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throughput import load_texts  # noqa: E402
from pipeline import analyze, claim_model, sentiment_model  # noqa: E402
from pipeline.analyze import analyze_batch  # noqa: E402
from pipeline.entities import extract_entities  # noqa: E402
from pipeline.models import Extracted  # noqa: E402
from pipeline.nlp import load_model  # noqa: E402

PARSING = ("tagger", "attribute_ruler", "lemmatizer", "parser", "newline_sentences")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default_texts = ROOT.parent / "shared" / "data" / "polnear" / "dev" / "text"
    parser.add_argument("--texts", type=Path, default=default_texts, help="a folder of .txt")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the articles")
    args = parser.parse_args()

    nlp = load_model()
    items = [Extracted(title=t, body=b) for t, b in load_texts(args.texts)]
    analyze_batch(nlp, items[:4])  # warm up
    parsing = [p for p in PARSING if p in nlp.pipe_names]
    started = time.perf_counter()
    for _ in range(args.repeat):
        with nlp.select_pipes(disable=parsing):
            docs = nlp.pipe((x.body for x in items), batch_size=16)
            for item, doc in zip(items, docs, strict=True):
                extract_entities(doc, item.title)
    entities_rate = args.repeat * len(items) / (time.perf_counter() - started)

    # Each spaCy component's time, one component at a time over the same articles
    per_component: dict[str, float] = {}
    docs = [nlp.make_doc(x.body) for x in items]
    for name, proc in nlp.pipeline:
        t = time.perf_counter()
        docs = (
            list(proc.pipe(docs, batch_size=16))
            if hasattr(proc, "pipe")
            else [proc(d) for d in docs]
        )
        per_component[name] = time.perf_counter() - t

    # The stage, with the time spent in our steps and in the two other models
    spent: dict[str, float] = defaultdict(float)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t

        return run

    sentiment, claims = sentiment_model.model(), claim_model.model()
    object.__setattr__(sentiment, "proba_many", timed("sentiment model", sentiment.proba_many))
    object.__setattr__(claims, "predict", timed("claim model", claims.predict))
    for name in ("extract_entities", "extract_quotes", "extract_stances"):
        setattr(analyze, name, timed(name, getattr(analyze, name)))
    started = time.perf_counter()
    for _ in range(args.repeat):
        analyze_batch(nlp, items, batch_size=16)
    stage_s = time.perf_counter() - started
    stage_rate = args.repeat * len(items) / stage_s
    n = len(items)

    result = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "model": f"{nlp.meta['name']} {nlp.meta['version']} + news NER + sentiment (int8 ONNX)",
        "articles": len(items),
        "entities_only_articles_per_s": round(entities_rate, 2),
        "analyze_articles_per_s": round(stage_rate, 2),
        # everything (parse, quotes, stances, claims) against entities alone: at most 2
        "analyze_time_over_entities_time": round(entities_rate / stage_rate, 2),
        "stage_ms_per_article": round(1000 * stage_s / (args.repeat * n), 1),
        # spaCy, one component at a time (one pass)
        "spacy_ms_per_article": {k: round(1000 * v / n, 1) for k, v in per_component.items()},
        # our steps in the stage (extract_stances includes the sentiment model)
        "steps_ms_per_article": {
            k: round(1000 * v / (args.repeat * n), 1) for k, v in sorted(spent.items())
        },
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results" / "analysis.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
