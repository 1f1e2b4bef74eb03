"""The analyze stage's CPU per article, as a ratio to en_core_web_sm's own pipeline.

    python bench/analysis.py [--texts DIR] [--articles N] [--rounds R] [--batch-size B]
    python bench/analysis.py --memory [--batch-sizes 1,4,16] [--articles N]

Over the PolNeAR dev texts (84 news articles, ~900 words; read from ``../shared/data``,
never copied), in one process and one run, in CPU time (``time.process_time``), rounds alternating
so that a busy machine slows both alike:

- en_core_web_sm: ``spacy.load`` with every component, ``nlp.pipe`` over the texts the
  stage reads (``analysis_input`` of each body), ``--batch-size`` docs per batch;
- the analyze stage: ``analyze_batch`` over the same articles (our pipeline, entity
  normalization, quotes, stances with the sentiment model's calls, claims).

Each spaCy component is timed by wrapping it (its own time only: the time its input
generator spends upstream is taken off), and each of our steps by wrapping its
function. Prints one table and writes bench/results/analysis.json.

``--memory`` starts one fresh process per batch size (documents per ``nlp.pipe``
batch, ``analyze.PIPE_BATCH_SIZE`` in the stage; each ``analyze_batch`` call gets that
many articles) and reports the process's RSS after each model load, its peak over the articles, and its
articles/s: what an analysis process's peak consists of. Written under "memory" in
the same JSON file (the timing keys are kept, and the other way round).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throughput import load_texts  # noqa: E402
from pipeline import analyze, claim_model, sentiment_model  # noqa: E402
from pipeline.analyze import PIPE_BATCH_SIZE, analysis_input, analyze_batch  # noqa: E402
from pipeline.models import Extracted  # noqa: E402
from pipeline.nlp import DEFAULT_MODELS, load_model  # noqa: E402

RESULT = ROOT / "bench" / "results" / "analysis.json"
# CPU time, not wall time: on a shared machine a wall clock also counts the time the
# process waited for a core, and that wait is not the stage's cost
CLOCK = time.process_time
DEFAULT_TEXTS = ROOT.parent / "shared" / "data" / "polnear" / "dev" / "text"


class Timed:
    """A pipeline component (or the tokenizer) that adds its own time to ``spent[name]``."""

    def __init__(self, proc: Any, name: str, spent: dict[str, float]) -> None:
        self.proc, self.name, self.spent = proc, name, spent

    def __call__(self, doc: Any) -> Any:
        started = CLOCK()
        try:
            return self.proc(doc)
        finally:
            self.spent[self.name] += CLOCK() - started

    def __getattr__(self, name: str) -> Any:  # labels, cfg… as the component has them
        return getattr(self.proc, name)

    def pipe(self, docs: Iterable[Doc], **kwargs: Any) -> Iterator[Doc]:
        upstream = 0.0  # time spent pulling docs through the components before this one

        def feed() -> Iterator[Doc]:
            nonlocal upstream
            it = iter(docs)
            while True:
                started = CLOCK()
                doc = next(it, None)
                upstream += CLOCK() - started
                if doc is None:
                    return
                yield doc

        inner = self.proc.pipe if hasattr(self.proc, "pipe") else None
        out = iter(inner(feed(), **kwargs) if inner else (self.proc(d) for d in feed()))
        while True:
            started, before = CLOCK(), upstream
            doc = next(out, None)
            self.spent[self.name] += CLOCK() - started - (upstream - before)
            if doc is None:
                return
            yield doc


def time_components(nlp: Language, spent: dict[str, float]) -> None:
    """Wrap ``nlp``'s tokenizer and each component in ``Timed``. Language has no public
    way to swap a component for a wrapper of itself, hence ``_components``."""
    nlp.tokenizer = Timed(nlp.tokenizer, "tokenizer", spent)
    nlp._components = [(name, Timed(proc, name, spent)) for name, proc in nlp._components]


def time_steps(spent: dict[str, float]) -> None:
    """Wrap our steps (as ``analyze`` calls them) and the two models they call."""

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*a: Any, **k: Any) -> Any:
            started = CLOCK()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += CLOCK() - started

        return run

    sentiment, claims = sentiment_model.model(), claim_model.model()
    object.__setattr__(sentiment, "proba_many", timed("sentiment model", sentiment.proba_many))
    object.__setattr__(claims, "predict", timed("claim model", claims.predict))
    for name, fn in (
        ("entities (normalization)", "extract_entities"),
        ("quotes", "extract_quotes"),
        ("stances (incl. sentiment model)", "extract_stances"),
        ("claims (incl. claim model)", "claim_stances"),
    ):
        setattr(analyze, fn, timed(name, getattr(analyze, fn)))


def small_model() -> Language:
    """en_core_web_sm as shipped, every component (or its byte-identical re-upload)."""
    for name in DEFAULT_MODELS:
        try:
            return spacy.load(name)
        except (ImportError, OSError):
            continue
    raise SystemExit(f"none of {', '.join(DEFAULT_MODELS)} is installed")


def timing(items: list[Extracted], rounds: int, batch_size: int) -> dict[str, Any]:
    ours, base = load_model(), small_model()
    texts = [analysis_input(ours, x.body) for x in items]
    analyze_batch(ours, items[:4], batch_size=batch_size)  # warm up
    list(base.pipe(texts[:4]))
    ours_spent: dict[str, float] = defaultdict(float)
    base_spent: dict[str, float] = defaultdict(float)
    time_components(ours, ours_spent)
    time_components(base, base_spent)
    time_steps(ours_spent)
    stage_s = base_s = 0.0
    for _ in range(rounds):  # alternating: both see the same share of a busy machine
        started = CLOCK()
        for _doc in base.pipe(texts, batch_size=batch_size):
            pass
        base_s += CLOCK() - started
        started = CLOCK()
        analyze_batch(ours, items, batch_size=batch_size)
        stage_s += CLOCK() - started
    n = rounds * len(items)

    def ms(seconds: float) -> float:
        return round(1000 * seconds / n, 1)

    spacy_names = ["tokenizer", *ours.pipe_names]
    ours_ms = {k: ms(ours_spent[k]) for k in spacy_names}
    steps_ms = {k: ms(v) for k, v in ours_spent.items() if k not in spacy_names}
    nested = ("sentiment model", "claim model")  # inside stances and claims
    accounted = sum(ours_spent[k] for k in spacy_names) + sum(
        v for k, v in ours_spent.items() if k not in spacy_names and k not in nested
    )
    return {
        "model": f"{ours.meta['name']} {ours.meta['version']} + news NER + sentiment (int8 ONNX)",
        "baseline": f"{base.meta['name']} {base.meta['version']}: {', '.join(base.pipe_names)}",
        "rounds": rounds,
        "batch_size": batch_size,
        "stage_ms_per_article": ms(stage_s),
        "en_core_web_sm_ms_per_article": ms(base_s),
        "stage_over_en_core_web_sm": round(stage_s / base_s, 2),
        "spacy_ms_per_article": ours_ms,
        "en_core_web_sm_components_ms_per_article": {
            k: ms(base_spent[k]) for k in ["tokenizer", *base.pipe_names]
        },
        "steps_ms_per_article": steps_ms,
        "other_ms_per_article": ms(stage_s - accounted),  # batching, records, glue
    }


def print_table(result: dict[str, Any]) -> None:
    ours, base = result["spacy_ms_per_article"], result["en_core_web_sm_components_ms_per_article"]
    sm_ms = result["en_core_web_sm_ms_per_article"]
    rows = [(k, ours.get(k), base.get(k)) for k in dict.fromkeys([*base, *ours])]
    rows += [(k, v, None) for k, v in result["steps_ms_per_article"].items()]
    rows += [("other (glue)", result["other_ms_per_article"], None)]
    print(f"{'ms per article':34} {'stage':>8} {'sm':>8} {'stage/sm':>9}")
    for name, a, b in rows:
        cells = [f"{v:8.1f}" if v is not None else f"{'-':>8}" for v in (a, b)]
        print(
            f"{name:34} {cells[0]} {cells[1]} {a / sm_ms:9.2f}"
            if a
            else f"{name:34} {cells[0]} {cells[1]}"
        )
    stage = result["stage_ms_per_article"]
    print(f"{'total':34} {stage:8.1f} {sm_ms:8.1f} {result['stage_over_en_core_web_sm']:9.2f}")


# Memory ------------------------------------------------------------------------------


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _memory_run(texts: Path, articles: int, batch_size: int) -> dict[str, Any]:
    """In a fresh process: RSS after each load, then the peak over the articles
    analysed ``batch_size`` at a time, and the rate."""
    items = [Extracted(title=t, body=b) for t, b in load_texts(texts)][:articles]
    rss = {"imports": _status_mb("VmRSS")}
    nlp = load_model()
    rss["+ spaCy pipeline (both NER models)"] = _status_mb("VmRSS")
    sentiment_model.model()
    rss["+ sentiment model"] = _status_mb("VmRSS")
    claim_model.model()
    rss["+ claim model"] = _status_mb("VmRSS")
    analyze_batch(nlp, items[:1], batch_size=1)  # first call: lazy allocations
    rss["after one article"] = _status_mb("VmRSS")
    peak_loading = _status_mb("VmHWM")
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    started = time.perf_counter()
    for n in range(0, len(items), batch_size):
        analyze_batch(nlp, items[n : n + batch_size], batch_size=batch_size)
    seconds = time.perf_counter() - started
    return {
        "batch_size": batch_size,
        "rss_mb": rss,
        "peak_rss_while_loading_mb": peak_loading,
        "peak_rss_over_the_batches_mb": _status_mb("VmHWM"),
        "rss_after_mb": _status_mb("VmRSS"),
        "articles_per_s": round(len(items) / seconds, 2),
    }


def memory(texts: Path, articles: int, batch_sizes: list[int]) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    out = []
    for size in batch_sizes:
        with ctx.Pool(1) as pool:
            run = pool.apply(_memory_run, (texts, articles, size))
        print(json.dumps(run), flush=True)
        out.append(run)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=Path, default=DEFAULT_TEXTS, help="a folder of .txt")
    parser.add_argument("--articles", type=int, default=0, help="the first N only (0: all)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating passes of each")
    parser.add_argument(
        "--batch-size", type=int, default=PIPE_BATCH_SIZE, help="docs per nlp.pipe batch"
    )
    parser.add_argument("--memory", action="store_true", help="RSS per batch size instead")
    parser.add_argument("--batch-sizes", default="1,4,16", help="with --memory")
    args = parser.parse_args()

    loaded = load_texts(args.texts)
    count = args.articles or len(loaded)
    # one mode's run keeps the other mode's last numbers
    previous: dict[str, Any] = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    result: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "python": platform.python_version(),
    }
    if args.memory:
        sizes = [int(s) for s in args.batch_sizes.split(",")]
        kept = {k: v for k, v in previous.items() if k != "memory" and k not in result}
        runs = memory(args.texts, count, sizes)
        result |= kept | {"memory": {"articles": count, "runs": runs}}
    else:
        items = [Extracted(title=t, body=b) for t, b in loaded][:count]
        result |= {"articles": len(items), **timing(items, args.rounds, args.batch_size)}
        # when, and how busy the machine was as the timing ended (1/5/15-minute load)
        result |= {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
        }
        if "memory" in previous:
            result["memory"] = previous["memory"]
        print_table(result)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
