"""The analyze stage: entities, quotes, stances and claim stances of extracted
articles, batched; the steps to run are an ordered list of names (``STEPS``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.entities import EntityIndex, extract_entities
from pipeline.errors import InputError
from pipeline.models import Analysis, Article, ClaimStance, Extracted, Quote, Stance
from pipeline.quotes import extract_quotes
from pipeline.settings import ANALYSIS_STEPS, AnalysisStep, check_analysis_steps
from pipeline.stance import claim_stances, extract_stances
from pipeline.urls import article_id, host_of, normalize_url

log = logging.getLogger(__name__)


def load_claims(path: Path) -> list[str]:
    """Tracked claims from ``config/claims.yaml`` (a list under ``claims:``); none if absent."""
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from exc
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
        raise InputError(f"{path}: expected 'claims:' followed by a list of strings")
    return [c.strip() for c in claims if c.strip()]


def _claims(extracted: Extracted, claims: Sequence[str]) -> list[ClaimStance]:
    out = []
    if extracted.title and extracted.body:  # does the body bear out its own headline?
        out += claim_stances([extracted.title], "", extracted.body)
    if claims:
        out += [
            v
            for v in claim_stances(claims, extracted.title, extracted.body)
            if v.stance != "unrelated"
        ]
    return out


@dataclass
class _Work:
    """One article while its analysis steps run: each step reads what the steps before
    it wrote and writes its own part."""

    item: Extracted
    doc: Doc
    entities: EntityIndex
    tracked_claims: Sequence[str]
    quotes: list[Quote] = field(default_factory=list)
    stances: list[Stance] = field(default_factory=list)
    claims: list[ClaimStance] = field(default_factory=list)


def _quotes(work: _Work) -> None:
    work.quotes = extract_quotes(work.doc, work.entities)


def _stances(work: _Work) -> None:
    work.stances = extract_stances(work.doc, work.quotes, work.entities)


def _claims_step(work: _Work) -> None:
    work.claims = _claims(work.item, work.tracked_claims)


# The steps after entities (which always run first: every other step reads them), by
# the names ``Settings.analysis_steps`` lists; a step that is not listed never runs.
STEPS: dict[AnalysisStep, Callable[[_Work], None]] = {
    "quotes": _quotes,
    "stances": _stances,
    "claims": _claims_step,
}


def analyze_batch(
    nlp: Language,
    items: Sequence[Extracted],
    claims: Sequence[str] = (),
    batch_size: int = 16,
    *,
    steps: Sequence[str] = ANALYSIS_STEPS,
) -> list[Analysis]:
    """Analyse many articles in one ``nlp.pipe`` pass (order preserved), running the
    named ``steps`` in their order (``Settings.analysis_steps``); the parts of a step
    that is off stay empty. ``ValueError`` when ``steps`` is not a valid order."""
    run = [STEPS[name] for name in check_analysis_steps(steps) if name != "entities"]
    limit = nlp.max_length - 1
    texts = (item.body[:limit] for item in items)
    results = []
    for item, doc in zip(items, nlp.pipe(texts, batch_size=batch_size), strict=True):
        work = _Work(item, doc, extract_entities(doc, item.title), claims)
        for step in run:
            step(work)
        results.append(
            Analysis(
                entities=work.entities.entities,
                quotes=work.quotes,
                stances=work.stances,
                claims=work.claims,
            )
        )
    return results


def to_article(
    extracted: Extracted,
    analysis: Analysis,
    *,
    url: str,
    feed: str | None = None,
    fetched_at: datetime | None = None,
) -> Article:
    """The contract record of an analysed article; its id derives from the canonical URL."""
    canonical = normalize_url(extracted.canonical_url or url)
    return Article(
        id=article_id(canonical),
        url=normalize_url(url),
        canonical_url=canonical,
        source=host_of(canonical) or "local",
        feed=feed,
        title=extracted.title,
        summary=extracted.summary or _lead(extracted.body),
        body=extracted.body,
        language=extracted.language,
        authors=list(extracted.authors),
        published_at=extracted.published_at,
        fetched_at=fetched_at or datetime.now(UTC),
        entities=analysis.entities,
        quotes=analysis.quotes,
        stances=analysis.stances,
        claims=analysis.claims,
    )


def _lead(body: str, limit: int = 300) -> str:
    first = body.strip().split("\n", 1)[0]
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"
