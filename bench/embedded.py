"""Throughput of the analyze stage and of the embedded runner on the demo corpus.

    python bench/embedded.py [--repeat N]

Prints one JSON object and writes it to bench/results/embedded.json. Both numbers
come from the same run on the same machine, so their ratio is meaningful even
when the machine is noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from pipeline.analyze import analyze_batch
from pipeline.demo.server import DemoServer, corpus, render_page
from pipeline.entities import extract_entities
from pipeline.extract import extract_html
from pipeline.models import Extracted
from pipeline.nlp import load_model
from pipeline.runner import Runner
from pipeline.settings import Settings


def demo_texts() -> list[Extracted]:
    feeds, articles = corpus()
    by_slug = {f.slug: f for f in feeds}
    out = []
    for a in articles:
        extracted = extract_html(render_page(by_slug[a.feed], a))
        assert extracted is not None
        out.append(extracted)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the 30 articles")
    args = parser.parse_args()

    nlp = load_model()
    texts = demo_texts()
    analyze_batch(nlp, texts[:4])  # warm up
    # Entities alone: the components they need (both NERs), and their normalization.
    parsing = [
        p for p in ("tagger", "attribute_ruler", "lemmatizer", "parser") if p in nlp.pipe_names
    ]
    started = time.perf_counter()
    for _ in range(args.repeat):
        with nlp.select_pipes(disable=parsing):
            for item, doc in zip(
                texts, nlp.pipe((t.body for t in texts), batch_size=16), strict=True
            ):
                extract_entities(doc, item.title)
    ner_rate = args.repeat * len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(args.repeat):
        analyze_batch(nlp, texts, batch_size=16)
    analyze_s = time.perf_counter() - started
    analyze_rate = args.repeat * len(texts) / analyze_s

    with tempfile.TemporaryDirectory() as tmp, DemoServer() as server:
        settings = Settings(
            db=Path(tmp) / "bench.db",
            allow_private_hosts=True,
            per_host_delay=0.0,
            claims_file=Path(tmp) / "none.yaml",
        )
        runner = Runner(settings, nlp=nlp)  # model load is not part of steady-state throughput
        for slug, (title, url) in server.feed_urls().items():
            runner.store.add_feed(url, title, interval=300, feed_id=f"demo-{slug}")
        started = time.perf_counter()
        report = runner.run_once()
        run_s = time.perf_counter() - started
        runner.close()

    result = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "model": f"{nlp.meta['name']} {nlp.meta['version']}",
        "articles": len(texts),
        "pipeline": nlp.pipe_names,
        "entities_only_articles_per_s": round(ner_rate, 2),
        "analyze_articles_per_s": round(analyze_rate, 2),
        # everything (parse, quotes, stances, claims) against entities alone: at most 2
        "analyze_time_over_entities_time": round(ner_rate / analyze_rate, 2),
        "embedded_run_articles": report.indexed,
        "embedded_run_seconds": round(run_s, 2),
        "embedded_run_articles_per_s": round(report.indexed / run_s, 2),
        "embedded_over_analyze": round(report.indexed / run_s / analyze_rate, 3),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "embedded.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
