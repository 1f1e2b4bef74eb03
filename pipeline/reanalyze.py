"""Re-analysis: stored stories get the current models' entities, quotes, stances and
claim stances, from the text kept with them; everything else about a story (its url
and ids, dates, feed, ``duplicate_of``, ``cluster_id``) stays as it is.

``revise_articles`` is the analysis of a batch of stored articles; ``reanalyze`` runs
it over the stories an ``Outdated`` selects through the index's ``revise`` (a new
version behind the alias on the engines, a transaction per batch on SQLite), so that
searches keep working throughout and a killed run resumes where it stopped.
``on_workers`` analyses on the distributed mode's nlp workers instead of here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from spacy.language import Language

from pipeline.analyze import analyze_batch
from pipeline.errors import TransientError
from pipeline.index import Index, Outdated
from pipeline.models import Analysis, Article, Extracted

log = logging.getLogger(__name__)


def as_extracted(article: Article) -> Extracted:
    """What the analyze stage read of a stored ``article`` (title and body, with the
    page's facts the analysis may use)."""
    return Extracted(
        title=article.title,
        body=article.body,
        summary=article.summary,
        authors=article.authors,
        published_at=article.published_at,
        language=article.language,
    )


def with_analysis(article: Article, analysis: Analysis, version: str) -> Article:
    """``article`` with the analysis parts of ``analysis``, stamped ``version``."""
    return article.model_copy(
        update={
            "entities": analysis.entities,
            "quotes": analysis.quotes,
            "stances": analysis.stances,
            "claims": analysis.claims,
            "analyzed_with": version,
        }
    )


def revise_articles(
    nlp: Language,
    articles: Sequence[Article],
    *,
    version: str,
    steps: Sequence[str],
    claims: Sequence[str] = (),
    batch_size: int = 16,
) -> list[Article]:
    """``articles`` analysed again (order kept), stamped ``version``. When the batch
    fails, each article is analysed alone, and one that still fails is returned as it
    was (logged; still outdated, so the next run tries it again)."""
    items = [as_extracted(a) for a in articles]
    try:
        analyses = analyze_batch(nlp, items, claims, batch_size, steps=steps)
        return [with_analysis(a, an, version) for a, an in zip(articles, analyses, strict=True)]
    except Exception:
        log.warning("a batch of %d failed to analyse; one by one", len(articles))
    out = []
    for article, item in zip(articles, items, strict=True):
        try:
            [analysis] = analyze_batch(nlp, [item], claims, batch_size, steps=steps)
        except Exception as exc:
            log.error("cannot reanalyse article_id=%s url=%s: %r", article.id, article.url, exc)
            out.append(article)
            continue
        out.append(with_analysis(article, analysis, version))
    return out


def reanalyze(
    index: Index,
    outdated: Outdated,
    analyse: Callable[[list[Article]], list[Article]],
    *,
    batch_size: int,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Replace each story ``outdated`` selects in ``index`` by ``analyse`` of it,
    ``batch_size`` stories per call, telling ``progress`` how many each call did.
    Returns how many stories were re-analysed. Raises what the index or ``analyse``
    raise; what was written before stays written, and running again continues."""

    def revise(articles: list[Article]) -> list[Article]:
        revised = analyse(articles)
        progress(len(revised))
        return revised

    return index.revise(outdated, revise, batch_size)


class BatchHandOff(Protocol):
    """Where batches wait for the nlp workers and come back
    (``pipeline.store.redis.reanalysis.RedisReanalysis``)."""

    def submit(self, articles: Sequence[Article]) -> str: ...
    def collect(self, key: str, timeout: float) -> list[Article] | None: ...


def on_workers(
    handoff: BatchHandOff, batch_size: int, timeout: float, version: str
) -> Callable[[list[Article]], list[Article]]:
    """An ``analyse`` for ``reanalyze`` that leaves its articles to the nlp workers,
    ``batch_size`` per task, all at once (the workers share them out), and waits for
    every batch back (order kept); warns when a worker stamped another ``version``
    (other models deployed there). ``TransientError`` when a batch is not back within
    ``timeout`` seconds (no worker, or one that died): running again continues."""

    def analyse(articles: list[Article]) -> list[Article]:
        keys = [
            handoff.submit(articles[start : start + batch_size])
            for start in range(0, len(articles), batch_size)
        ]
        out: list[Article] = []
        for key in keys:
            got = handoff.collect(key, timeout)
            if got is None:
                raise TransientError(f"no nlp worker returned batch {key} within {timeout:.0f}s")
            out += got
        if [a.id for a in out] != [a.id for a in articles]:
            raise TransientError("the nlp workers returned other articles than were sent")
        others = {a.analyzed_with for a in out} - {version}
        if others:  # such stories stay outdated here: the next run sends them again
            log.warning("nlp workers analyse with %s, not %s", sorted(map(str, others)), version)
        return out

    return analyse
