"""The analyze stage: its ordered steps (each but entities can be off, and an off step
costs nothing), the setting that lists them, tracked claims, the contract record.
The article is written for this test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline import claim_model, sentiment_model
from pipeline.analyze import analyze_batch, load_claims, to_article
from pipeline.errors import InputError
from pipeline.models import Analysis, Extracted
from pipeline.settings import ANALYSIS_STEPS, Settings, check_analysis_steps

ARTICLE = Extracted(
    title="Mayor backs tram extension to the airport",
    body=(
        "Mayor Elena Vasquez said on Friday that the city would extend the tram line to the "
        "airport by 2030.\n"
        "“This line will change how people live and work here,” Vasquez said.\n"
        "Councillor Marcus Hale criticised the plan, saying the city could not afford it.\n"
        "“Marcus Hale is wrong about the tram and wrong about the budget,” Vasquez told "
        "reporters at City Hall."
    ),
)


def _run(nlp: Any, steps: tuple[str, ...] | list[str], claims: tuple[str, ...] = ()) -> Analysis:
    [analysis] = analyze_batch(nlp, [ARTICLE], claims, steps=steps)
    return analysis


def test_every_step_by_default(nlp: Any) -> None:
    [analysis] = analyze_batch(nlp, [ARTICLE])  # the call shape every driver uses
    names = {e.name for e in analysis.entities}
    assert {"Elena Vasquez", "Marcus Hale"} <= names
    assert analysis.quotes and any(q.speaker == "Elena Vasquez" for q in analysis.quotes)
    assert [c.claim for c in analysis.claims] == [ARTICLE.title], "the headline's own stance"
    assert analysis.stances, "Vasquez on Hale"


@pytest.mark.parametrize(
    ("steps", "empty"),
    [
        (["entities"], {"quotes", "stances", "claims"}),
        (["entities", "quotes"], {"stances", "claims"}),
        (["entities", "claims"], {"quotes", "stances"}),
        (["entities", "quotes", "claims"], {"stances"}),
        (["entities", "quotes", "stances"], {"claims"}),
    ],
)
def test_a_step_that_is_off_leaves_its_part_empty(
    nlp: Any, steps: list[str], empty: set[str]
) -> None:
    full = _run(nlp, ANALYSIS_STEPS)
    some = _run(nlp, steps)
    assert some.entities == full.entities, "entities always run, the same way"
    for part in ("quotes", "stances", "claims"):
        expected = [] if part in empty else getattr(full, part)
        assert getattr(some, part) == expected, part


def test_steps_that_are_off_cost_nothing(nlp: Any) -> None:
    """Stances off: the sentiment model is never loaded; claims off: nor the claim model."""
    sentiment_model.model.cache_clear()
    claim_model.model.cache_clear()
    _run(nlp, ["entities", "quotes"], claims=("The tram will reach the airport",))
    assert sentiment_model.model.cache_info().currsize == 0
    assert claim_model.model.cache_info().currsize == 0
    _run(nlp, ANALYSIS_STEPS)  # and the probe does see a load when the steps are on
    assert sentiment_model.model.cache_info().currsize == 1
    assert claim_model.model.cache_info().currsize == 1


def test_steps_run_in_batches_in_order(nlp: Any) -> None:
    other = Extracted(title="Ferry fares frozen", body="The ferry operator froze fares on Monday.")
    analyses = analyze_batch(nlp, [ARTICLE, other, ARTICLE], steps=["entities"], batch_size=2)
    assert len(analyses) == 3 and analyses[0] == analyses[2] != analyses[1]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (["quotes"], "needs entities"),
        (["entities", "stances"], "needs quotes"),
        (["entities", "stances", "quotes"], "needs quotes"),
        (["entities", "claims", "entities"], "listed twice"),
        (["claims"], "cannot be switched off"),
        ([], "cannot be switched off"),
        (["entities", "sarcasm"], "unknown analysis step 'sarcasm'"),
    ],
)
def test_invalid_steps_are_refused(nlp: Any, steps: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_analysis_steps(steps)
    with pytest.raises(ValueError, match=message):
        analyze_batch(nlp, [ARTICLE], steps=steps)


@pytest.mark.parametrize(
    ("env", "steps"),
    [
        (None, ["entities", "quotes", "stances", "claims"]),
        ("entities", ["entities"]),
        ("entities,quotes", ["entities", "quotes"]),
        (" entities , claims ", ["entities", "claims"]),
        ('["entities", "quotes", "stances"]', ["entities", "quotes", "stances"]),
        ("entities,claims,quotes,stances", ["entities", "claims", "quotes", "stances"]),
    ],
)
def test_setting_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: str | None, steps: list[str]
) -> None:
    if env is not None:
        monkeypatch.setenv("NEWSWIRE_ANALYSIS_STEPS", env)
    assert Settings().analysis_steps == steps


@pytest.mark.parametrize("env", ["quotes,stances", "entities,stances", "entities,,nope", "[1"])
def test_bad_setting_is_a_validation_error(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("NEWSWIRE_ANALYSIS_STEPS", env)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert caught.value.errors()[0]["loc"][0] == "analysis_steps"


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        (None, []),  # no file: no tracked claims
        (
            "claims:\n  - The tram will reach the airport\n  - '  '\n",
            ["The tram will reach the airport"],
        ),
        ("claims: []\n", []),
        ("", None),  # an empty file is not a list of claims
        ("claims: one\n", None),
        ("claims:\n  - 3\n", None),
        ("claims: [unclosed\n", None),
    ],
)
def test_load_claims(tmp_path: Path, text: str | None, claims: list[str] | None) -> None:
    path = tmp_path / "claims.yaml"
    if text is not None:
        path.write_text(text)
    if claims is None:
        with pytest.raises(InputError, match=str(path)):
            load_claims(path)
    else:
        assert load_claims(path) == claims


def test_to_article_keys_on_the_canonical_url() -> None:
    canonical = ARTICLE.model_copy(update={"canonical_url": "https://news.example.com/tram"})
    when = datetime(2026, 11, 2, tzinfo=UTC)
    a = to_article(
        canonical, Analysis(), url="https://news.example.com/tram?utm_source=x", fetched_at=when
    )
    # the mobile site is the same site (registrable domain example.com): its canonical counts
    b = to_article(canonical, Analysis(), url="https://m.example.com/tram", fetched_at=when)
    assert a.id == b.id and a.canonical_url == "https://news.example.com/tram"
    assert a.source == "news.example.com" and a.fetched_at == when
    assert a.summary == ARTICLE.body.split("\n", 1)[0], "no summary: the lead"
    long = Extracted(title="t", body="word " * 200)
    lead = to_article(long, Analysis(), url="file:///tmp/x.txt").summary
    assert len(lead) <= 300 and lead.endswith("…")
