"""The NLP limit and the analyze stage, one process per core (``bench/throughput.py``'s
reference): articles/s and CPU seconds of the analysis models alone and of the whole
``analyze_batch`` stage over the same articles, each in fresh processes."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.synchronize import Barrier
from typing import Any

from bench.services import proc_peak_rss_mb
from pipeline import claim_model, sentiment_model
from pipeline.analyze import PIPE_BATCH_SIZE, analyze_batch
from pipeline.models import Extracted
from pipeline.nlp import load_model

_nlp: Any = None
_barrier: Barrier | None = None
# One process's share of the articles and the model inputs the stage made for them
Share = tuple[list[Extracted], list[Any], list[Any]]  # items, sentiment and claim calls


def _start(barrier: Barrier) -> None:
    global _nlp, _barrier
    _nlp, _barrier = load_model(), barrier
    sentiment_model.model()
    claim_model.model()


class _Recorder:
    """Stands in for a model while the analyze stage runs once, keeping its inputs."""

    def __init__(self, model: Any, method: str) -> None:
        self.model, self.method = model, method
        self.calls: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.model, name)
        if name != self.method:
            return real

        def record(*args: Any) -> Any:
            self.calls.append(args)
            return real(*args)

        return record


def _capture(items: list[Extracted]) -> Share:
    """Run the stage once (untimed) over one share, keeping every model input."""
    assert _barrier is not None
    _barrier.wait()  # one share per process
    real_sentiment, real_claims = sentiment_model.model, claim_model.model
    sentiment = _Recorder(real_sentiment(), "proba_many")
    claims = _Recorder(real_claims(), "predict")
    sentiment_model.model, claim_model.model = (lambda: sentiment), (lambda: claims)  # type: ignore[assignment]
    try:
        analyze_batch(_nlp, items)
    finally:
        sentiment_model.model, claim_model.model = real_sentiment, real_claims
    return items, sentiment.calls, claims.calls


def _models_alone(share: Share) -> tuple[float, float, float]:
    items, sentiment_calls, claim_calls = share
    assert _barrier is not None
    _barrier.wait()
    started, cpu = time.time(), time.process_time()
    for _ in _nlp.pipe((x.body for x in items), batch_size=PIPE_BATCH_SIZE):
        pass
    for args in sentiment_calls:
        sentiment_model.model().proba_many(*args)
    for args in claim_calls:
        claim_model.model().predict(*args)
    return started, time.time(), time.process_time() - cpu


def _stage(share: Share) -> tuple[float, float, float]:
    assert _barrier is not None
    _barrier.wait()
    started, cpu = time.time(), time.process_time()
    analyze_batch(_nlp, share[0], batch_size=PIPE_BATCH_SIZE)
    return started, time.time(), time.process_time() - cpu


def per_core(items: list[Extracted], processes: int) -> dict[str, Any]:
    """Articles/s and CPU seconds of the models alone and of the analyze stage, P
    processes at once, each over texts its process has not seen: the end-to-end modes
    analyse each article once, and a text seen before costs 2–6% less (the tokenizer's
    cache and the string store hold its words). ``limit_warm``: the models alone over
    the same texts a second time, as the limit was measured before."""
    ctx = multiprocessing.get_context("spawn")
    shares = [items[n::processes] for n in range(processes)]

    def pool() -> Any:
        # Every task waits at the barrier until one runs in each process: one share each.
        barrier = ctx.Barrier(processes)
        return ctx.Pool(processes, initializer=_start, initargs=(barrier,))

    def timed(pool: Any, name: str, fn: Any, shares: list[Share]) -> dict[str, float]:
        spans = pool.map(fn, shares, chunksize=1)
        seconds = max(e for _, e, _ in spans) - min(s for s, _, _ in spans)
        return {
            name: round(len(items) / seconds, 2),
            f"{name}_cpu_s": round(sum(c for *_, c in spans), 1),
        }

    with pool() as capturing:
        captured: list[Share] = capturing.map(_capture, shares, chunksize=1)
    out: dict[str, Any] = {"sentiment_calls": sum(len(c[1]) for c in captured)}
    with pool() as limit:
        out |= timed(limit, "limit", _models_alone, captured)
        out |= timed(limit, "limit_warm", _models_alone, captured)
    with pool() as stage:
        out |= timed(stage, "analyze", _stage, captured)
        out["peak_rss_mb_per_process"] = max(stage.map(_peak_self, range(processes), chunksize=1))
    return out


def _peak_self(_: int) -> float:
    assert _barrier is not None
    _barrier.wait()
    return proc_peak_rss_mb(os.getpid())
