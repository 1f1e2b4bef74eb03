"""The analysis version, the selection of outdated stories, and the re-analysis of a
stored article (its analysis recomputed, everything else kept)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.analysis_version import analysis_version, artifacts_digest, model_meta
from pipeline.analyze import analyze_batch, to_article
from pipeline.index import Outdated
from pipeline.models import Article, Entity, Extracted
from pipeline.reanalyze import as_extracted, revise_articles
from pipeline.settings import ANALYSIS_STEPS

META = {"lang": "en", "name": "core_web_sm", "version": "3.8.0"}


def _data_dir(root: Path, model_bytes: bytes = b"weights v1") -> Path:
    (root / "ner").mkdir(parents=True)
    (root / "ner" / "model").write_bytes(model_bytes)
    (root / "stance_model.json").write_text('{"w": [1, 2]}')
    (root / "claim_stance.holdout.json").write_text("[]")
    return root


def test_version_is_stable_and_names_the_model(tmp_path: Path) -> None:
    data = _data_dir(tmp_path / "a")
    first = analysis_version(META, ANALYSIS_STEPS, data_dir=data)
    assert first == analysis_version(dict(META), list(ANALYSIS_STEPS), data_dir=data)
    model, digest = first.split("/")
    assert model == "en_core_web_sm-3.8.0" and len(digest) == 12


def test_version_changes_with_an_artifact_a_step_or_the_model(tmp_path: Path) -> None:
    base = analysis_version(META, ANALYSIS_STEPS, data_dir=_data_dir(tmp_path / "a"))
    retrained = _data_dir(tmp_path / "b", model_bytes=b"weights v2")
    assert analysis_version(META, ANALYSIS_STEPS, data_dir=retrained) != base
    fewer = ["entities", "quotes"]
    assert analysis_version(META, fewer, data_dir=tmp_path / "a") != base
    newer = {**META, "version": "3.9.0"}
    assert analysis_version(newer, ANALYSIS_STEPS, data_dir=tmp_path / "a") != base


def test_version_ignores_mtimes_place_and_holdout_sets(tmp_path: Path) -> None:
    base = analysis_version(META, ANALYSIS_STEPS, data_dir=_data_dir(tmp_path / "a"))
    moved = tmp_path / "installed" / "data"
    shutil.copytree(tmp_path / "a", moved)  # a fresh install: new place, new mtimes
    os.utime(moved / "ner" / "model", (1, 1))
    (moved / "claim_stance.holdout.json").write_text('["an evaluation item"]')
    assert analysis_version(META, ANALYSIS_STEPS, data_dir=moved) == base


def test_shipped_artifacts_digest_is_computed_once() -> None:
    artifacts_digest.cache_clear()
    artifacts_digest()
    artifacts_digest()
    assert artifacts_digest.cache_info().hits == 1


def test_model_meta_is_the_loaded_models(nlp: Any) -> None:
    meta = model_meta()
    assert (meta["name"], meta["version"]) == (nlp.meta["name"], nlp.meta["version"])
    assert analysis_version(meta, ANALYSIS_STEPS) == analysis_version(nlp.meta, ANALYSIS_STEPS)


def _story(**fields: Any) -> Article:
    base: dict[str, Any] = {
        "id": "s1",
        "url": "https://news.example/s1",
        "canonical_url": "https://news.example/s1",
        "source": "news.example",
        "published_at": datetime(2026, 11, 10, tzinfo=UTC),
        "analyzed_with": "old",
    }
    return Article(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "since", "source", "selected"),
    [
        ({}, None, None, True),
        ({"analyzed_with": "now"}, None, None, False),
        ({"analyzed_with": None}, None, None, True),
        ({}, datetime(2026, 11, 10, tzinfo=UTC), None, True),
        ({}, datetime(2026, 11, 11), None, False),  # naive means UTC
        (
            {"published_at": None, "fetched_at": datetime(2026, 11, 12, tzinfo=UTC)},
            datetime(2026, 11, 11, tzinfo=UTC),
            None,
            True,
        ),
        ({"published_at": None}, datetime(2026, 11, 11, tzinfo=UTC), None, False),
        ({}, None, "news.example", True),
        ({}, None, "www.News.example", True),
        ({"source": "world.news.example"}, None, "news.example", True),
        ({"source": "badnews.example"}, None, "news.example", False),
    ],
)
def test_outdated_selects(
    fields: dict[str, Any], since: datetime | None, source: str | None, selected: bool
) -> None:
    assert Outdated("now", since=since, source=source).matches(_story(**fields)) is selected


TEXT = Extracted(
    title="Council backs the tram plan",
    body=(
        "Mayor Elena Vasquez said on Monday that the council would fund the tram line. "
        '"We will build it this year," Vasquez told reporters in Lyon.\n'
        "Opposition leader Marcus Hale criticised the plan."
    ),
    published_at=datetime(2026, 11, 3, tzinfo=UTC),
    language="en",
)


def test_revise_recomputes_the_analysis_and_keeps_the_rest(nlp: Any) -> None:
    [fresh] = analyze_batch(nlp, [TEXT])
    current = to_article(TEXT, fresh, url="https://news.example/tram", analyzed_with="now")
    stored = current.model_copy(
        update={
            "entities": [Entity(name="Stale Name", type="ORG", mentions=9, salience=1.0)],
            "quotes": [],
            "stances": [],
            "claims": [],
            "analyzed_with": "old",
            "feed": "city-desk",
            "duplicate_of": "first-copy",
            "cluster_id": "tram-event",
            "fetched_at": datetime(2026, 11, 4, tzinfo=UTC),
            "summary": "A summary the page gave.",
        }
    )
    [revised] = revise_articles(nlp, [stored], version="now", steps=ANALYSIS_STEPS)
    assert revised.analyzed_with == "now"
    assert revised.entities == current.entities and revised.quotes == current.quotes
    assert revised.stances == current.stances and revised.claims == current.claims
    assert "Stale Name" not in {e.name for e in revised.entities}
    analysis = {"entities", "quotes", "stances", "claims", "analyzed_with"}
    assert revised.model_dump(exclude=analysis) == stored.model_dump(exclude=analysis)
    assert as_extracted(stored).body == TEXT.body


def test_revise_keeps_an_article_that_cannot_be_analysed(nlp: Any) -> None:
    good = _story(id="good", title="Vasquez speaks", body="Elena Vasquez spoke in Lyon.")
    bad = _story(id="bad", title="x", body="y")
    # steps in an invalid order make every analysis raise: both stay as they were
    kept = revise_articles(nlp, [good, bad], version="now", steps=["quotes", "entities"])
    assert [a.analyzed_with for a in kept] == ["old", "old"]
