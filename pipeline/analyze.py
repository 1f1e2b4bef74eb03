"""The analyze stage: entities, quotes, stances and claim stances of extracted
articles, batched; the steps to run are an ordered list of names (``STEPS``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from spacy.language import Language
from spacy.tokens import Doc

from pipeline import claim_model, sentiment_model
from pipeline.analysis_version import analysis_version
from pipeline.entities import EntityIndex, extract_entities
from pipeline.errors import InputError
from pipeline.models import (
    MAX_TOKEN_CHARS,
    Analysis,
    Article,
    ClaimStance,
    Extracted,
    Quote,
    Stance,
)
from pipeline.quotes import extract_quotes
from pipeline.settings import ANALYSIS_STEPS, AnalysisStep, check_analysis_steps
from pipeline.stance import claim_stances, extract_stances
from pipeline.urls import article_id, host_of, normalize_url, same_site

log = logging.getLogger(__name__)

# What the models read of a body, at most: 100,000 characters, then 10,000 tokens (about
# 7,500 words, more than all but the longest features). Tokens are what costs: the worst
# texts we could write (every character a token; a quote, entities and a stance in every
# sentence) took up to 19 s and 620 MB for a whole `newswire analyze` at this cap, where
# 100,000 characters of one of them took 56 s and 2.3 GB. The stored body may be longer.
ANALYSIS_MAX_CHARS = 100_000
ANALYSIS_MAX_TOKENS = 10_000
_LONG_TOKEN = re.compile(rf"\S{{{MAX_TOKEN_CHARS + 1},}}")
# Documents per ``nlp.pipe`` batch. An analysis process's peak memory is its models
# (~345 MB loaded) plus the activations of one batch, which grow with its tokens (tok2vec
# and the two NER models, ~25 kB a token: +105 MB for a 4,346-token article). Over the same
# 40 articles the peak was 460 MB one document at a time, 494 with 2, 500 with 4 and 699
# with 16, at the same articles/s (bench/analysis.py --memory): batching gains no time.
PIPE_BATCH_SIZE = 1


def analysis_text(body: str) -> str:
    """``body`` bounded in characters: its first ``ANALYSIS_MAX_CHARS``, with every run
    of more than ``MAX_TOKEN_CHARS`` non-space characters blanked to spaces (spaCy's
    tokenizer is quadratic in a token's length, and such a run is no word). The length
    is kept, so offsets into the text are offsets into the body."""
    text = body[:ANALYSIS_MAX_CHARS]
    return _LONG_TOKEN.sub(lambda m: " " * len(m.group()), text)


def analysis_input(nlp: Language, body: str) -> str:
    """What the models read of ``body``: ``analysis_text``, cut before its token number
    ``ANALYSIS_MAX_TOKENS`` (the tokenizer alone is cheap once long tokens are gone)."""
    text = analysis_text(body)
    if len(text) <= ANALYSIS_MAX_TOKENS:  # a token has a character at least: no need to count
        return text
    tokens = nlp.tokenizer(text)
    return text if len(tokens) <= ANALYSIS_MAX_TOKENS else text[: tokens[ANALYSIS_MAX_TOKENS].idx]


def load_models(nlp: Language, analysis_steps: Sequence[str]) -> None:
    """Load now what an analysis process would otherwise load inside its first analysis
    (which would delay that story and count in its time): the digest of the model files,
    and the models of the steps switched on (the sentiment model for stances, the claim
    model for claims). ``nlp`` is the process's loaded pipeline."""
    analysis_version(nlp.meta, analysis_steps)
    if "stances" in analysis_steps:
        sentiment_model.model()
    if "claims" in analysis_steps:
        claim_model.model()


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


def _claims(extracted: Extracted, body: str, claims: Sequence[str]) -> list[ClaimStance]:
    out = []
    if extracted.title and body:  # does the body bear out its own headline?
        out += claim_stances([extracted.title], "", body)
    if claims:
        out += [v for v in claim_stances(claims, extracted.title, body) if v.stance != "unrelated"]
    return out


@dataclass
class _Work:
    """One article while its analysis steps run: each step reads what the steps before
    it wrote and writes its own part."""

    item: Extracted
    text: str  # what the models read of the body (``analysis_input``)
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
    work.claims = _claims(work.item, work.text, work.tracked_claims)


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
    batch_size: int = PIPE_BATCH_SIZE,
    *,
    steps: Sequence[str] = ANALYSIS_STEPS,
) -> list[Analysis]:
    """Analyse many articles in one ``nlp.pipe`` pass of ``batch_size`` documents a
    batch (order preserved), running the named ``steps`` in their order
    (``Settings.analysis_steps``); the parts of a step that is off stay empty. Each reads ``analysis_input`` of its body, so its cost is
    bounded whatever the body holds. ``ValueError`` when ``steps`` is not a valid order."""
    run = [STEPS[name] for name in check_analysis_steps(steps) if name != "entities"]
    texts = [analysis_input(nlp, item.body) for item in items]
    results = []
    for item, text, doc in zip(items, texts, nlp.pipe(texts, batch_size=batch_size), strict=True):
        work = _Work(item, text, doc, extract_entities(doc, item.title), claims)
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
    analyzed_with: str | None = None,
) -> Article:
    """The contract record of an analysed article; its id derives from the canonical URL.
    ``analyzed_with`` names what analysed it (``analysis_version.analysis_version``).

    The page's canonical URL counts only when it is on the site the page came from
    (``urls.same_site``: same host or registrable domain); a page claiming another
    site's story would otherwise take that story's id and overwrite it. Else the id
    derives from ``url``, the page's final URL."""
    claimed = extracted.canonical_url
    if claimed and not same_site(claimed, url):
        log.warning("ignored canonical url=%s: %s is another site", url, claimed)
        claimed = None
    canonical = normalize_url(claimed or url)
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
        analyzed_with=analyzed_with,
    )


def _lead(body: str, limit: int = 300) -> str:
    first = body.strip().split("\n", 1)[0]
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"
