"""A fresh worker-nlp process loads every model before its first task: a model loaded
inside the first task delays that story and is counted in its time."""

from __future__ import annotations

from typing import Any

from pipeline import claim_model, sentiment_model
from pipeline.analysis_version import artifacts_digest


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
