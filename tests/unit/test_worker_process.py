"""A fresh worker-nlp process loads every model before its first task: a model loaded
inside the first task delays that story and is counted in its time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import spacy

from pipeline import claim_model, sentiment_model
from pipeline.analysis_version import artifacts_digest
from pipeline.settings import Settings


def test_a_fresh_nlp_process_loads_every_model_before_its_first_task(nlp: Any) -> None:
    from workers import tasks

    for cached in (sentiment_model.model, claim_model.model, artifacts_digest):
        cached.cache_clear()
    tasks._consumes.add("nlp")
    try:
        tasks._init_process()
    finally:
        tasks._consumes.discard("nlp")
    assert tasks.proc._nlp is nlp  # the process's pipeline, loaded once
    for cached in (sentiment_model.model, claim_model.model, artifacts_digest):
        assert cached.cache_info().currsize == 1, cached


def test_a_fresh_process_of_another_queue_loads_no_model() -> None:
    from workers import tasks

    sentiment_model.model.cache_clear()
    tasks._init_process()
    assert tasks.proc._nlp is None
    assert sentiment_model.model.cache_info().currsize == 0


# The embedded runner's analysis processes: the same, for the models of their steps.
_LOADED = (
    "[__import__('pipeline.' + m, fromlist=['model']).model.cache_info().currsize"
    " for m in ('sentiment_model', 'claim_model')]"
)


@pytest.mark.parametrize(
    ("steps", "loaded"),
    [(["entities", "quotes", "stances"], [1, 0]), (["entities", "claims"], [0, 1])],
)
def test_the_runners_analysis_processes_load_their_steps_models_at_start(
    tmp_path: Path, steps: list[str], loaded: list[int]
) -> None:
    from pipeline.runner import Analyzer

    blank = tmp_path / "blank-model"
    spacy.blank("en").to_disk(blank)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        spacy_model=str(blank),
        analysis_steps=steps,
        analysis_processes=2,
    )
    analyzer = Analyzer(settings, [], None)
    try:
        analyzer.warm_up()
        pool = analyzer._ensure_pool()
        # asked of each process's state before any batch ran there
        assert {tuple(pool.submit(eval, _LOADED).result()) for _ in range(4)} == {tuple(loaded)}
    finally:
        analyzer.close()


def test_a_single_process_runner_loads_its_steps_models_on_warm_up(nlp: Any) -> None:
    from pipeline.runner import Analyzer

    for cached in (sentiment_model.model, claim_model.model):
        cached.cache_clear()
    Analyzer(
        Settings(_env_file=None, analysis_steps=["entities", "quotes", "stances"]), [], nlp
    ).warm_up()  # type: ignore[call-arg]
    assert sentiment_model.model.cache_info().currsize == 1
    assert claim_model.model.cache_info().currsize == 0
