"""The journey of a feed and its articles, written once: refresh a feed, fetch an
entry, analyse, index, and decide what a failure means. The embedded runner
(``pipeline/runner.py``) and the Celery tasks (``workers/tasks.py``) are drivers:
they call these steps and differ only in how they schedule them.

Guards: a step fails for its own feed or article only. ``refresh_feed`` turns any
exception of a poll into that feed's recorded error; an article's unexpected
exception becomes its ``Failed`` outcome (``failure_outcome``); an index write that
raises for one article is split until that article alone is refused and recorded.

Attempts: ``attempts`` is the number of attempts of an entry that failed so far, kept
in the store (``PendingEntry.attempts``); ``settle_failure`` counts the one that just
failed, asks ``failure_outcome`` and stores the answer, for both drivers alike.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from spacy.language import Language

from pipeline import watches
from pipeline.analysis_version import analysis_version
from pipeline.analyze import analyze_batch, to_article
from pipeline.clusters import find, fingerprint, place, story_time
from pipeline.errors import NewswireError, PermanentError, TransientError, retry_delay
from pipeline.extract import fetch_and_extract
from pipeline.fetch import Fetcher
from pipeline.index import Index
from pipeline.models import Article, Extracted, FeedEntry, FeedState
from pipeline.policies import ExtractPolicy, PollPolicy, RetryPolicy
from pipeline.poll import PollResult, next_state_error, poll
from pipeline.store import Groups, PendingEntry, Store
from pipeline.urls import article_id

log = logging.getLogger(__name__)


# outcomes of a failure -----------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """Try again after ``delay`` seconds; ``attempts`` have failed so far."""

    reason: str
    attempts: int
    delay: float


@dataclass(frozen=True)
class Dead:
    """Transient failures outlasted every attempt: a dead letter, kept for replay."""

    reason: str
    attempts: int


@dataclass(frozen=True)
class Failed:
    """A permanent failure (or a bug, or hostile input): recorded, never retried."""

    reason: str


Outcome = Retry | Dead | Failed


def as_error(exc: BaseException) -> NewswireError:
    """``exc`` itself when the pipeline raised it on purpose; anything else (a bug, a
    library choking on hostile input) as a permanent error, so it cannot loop."""
    if isinstance(exc, NewswireError):
        return exc
    return PermanentError(f"unexpected {type(exc).__name__}: {exc}")


def failure_outcome(
    error: BaseException, attempts: int, policy: RetryPolicy, rng: random.Random | None = None
) -> Outcome:
    """What to do after an attempt failed with ``error``. Pure.

    ``attempts`` counts the attempts made so far, the failed one included (1 after a
    first failure). Transient errors retry with capped, jittered backoff (never
    sooner than a server's ``Retry-After``) until ``policy.max_attempts``, then are
    dead; everything else is failed.
    """
    err = as_error(error)
    if not isinstance(err, TransientError):
        return Failed(err.reason)
    if attempts >= policy.max_attempts:
        return Dead(err.reason, attempts)
    delay = retry_delay(
        err, attempts - 1, base=policy.backoff_base, cap=policy.backoff_cap, rng=rng
    )
    return Retry(err.reason, attempts, delay)


def settle_failure(
    store: Store,
    item: PendingEntry,
    error: BaseException,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> Outcome:
    """Count the attempt of ``item`` that failed with ``error``, decide, and record the
    decision in the store; returns it (the Celery driver turns ``Retry`` into a
    delayed message, the runner finds the entry due again in ``pending``)."""
    entry = item.entry
    outcome = failure_outcome(error, item.attempts + 1, policy, rng)
    if not isinstance(error, NewswireError):  # a bug: keep its traceback in the log
        log.error("unexpected error url=%s feed_id=%s", entry.url, entry.feed_id, exc_info=error)
    match outcome:
        case Retry(reason, attempts, delay):
            store.retry_later(entry, reason, attempts=attempts, delay=delay)
            log.warning("will retry url=%s in %.0fs: %s", entry.url, delay, reason)
        case Dead(reason, attempts):
            store.mark_dead(entry, reason, attempts)
            log.error(
                "gave up after %d attempts url=%s feed_id=%s: %s",
                attempts,
                entry.url,
                entry.feed_id,
                reason,
            )
        case Failed(reason):
            store.mark_failed(entry, reason)
            log.warning("failed url=%s feed_id=%s: %s", entry.url, entry.feed_id, reason)
    return outcome


# the steps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Refreshed:
    """A feed after one refresh: its saved state, its entries never seen before, and
    the reason its poll failed (None when it did not)."""

    state: FeedState
    new: list[FeedEntry]
    error: str | None


def refresh_feed(
    store: Store,
    state: FeedState,
    fetcher: Fetcher,
    policy: PollPolicy,
    *,
    rng: random.Random | None = None,
) -> Refreshed:
    """Poll one feed and save its new state with its new entries in one transaction.

    Whatever the poll raises (a bug, a parser choking) is this feed's error: counted,
    backed off and saved like any failed poll, never the caller's exception. Only the
    store's own failure (``StoreUnavailableError``) propagates.
    """
    rng = rng or random.Random()
    try:
        result = poll(state, fetcher, policy, rng=rng)
    except Exception as exc:
        log.exception("poll crashed feed_id=%s url=%s", state.feed_id, state.url)
        err = as_error(exc)
        now = datetime.now(UTC)
        result = PollResult(next_state_error(state, err, now=now, policy=policy, rng=rng), [], err)
    new = store.save_poll(result.state, [e for e in result.entries if e.url])
    return Refreshed(result.state, new, result.error.reason if result.error else None)


@dataclass(frozen=True)
class Fetched:
    """An entry's page, extracted, and the URL it was finally fetched from."""

    item: PendingEntry
    extracted: Extracted
    url: str


def fetch_entry(
    store: Store, item: PendingEntry, fetcher: Fetcher, policy: ExtractPolicy
) -> Fetched | None:
    """Fetch and extract an entry's page. None when another feed's entry already
    produced this story (then this entry is marked done). Raises what the fetch
    raises; the driver passes it to ``settle_failure``."""
    # A cheap lookup in the store, not a read from the index, on this path that every
    # article takes.
    known = article_id(item.entry.url)
    if store.is_done(known):
        store.mark_done(item.entry, known, note="already indexed")
        return None
    extracted, url = fetch_and_extract(item.entry, fetcher, policy)
    return Fetched(item, extracted, url)


def analyze(
    nlp: Language,
    claims: Sequence[str],
    batch: Sequence[Fetched],
    batch_size: int,
    analysis_steps: Sequence[str],
) -> list[Article]:
    """Entities, quotes and stances (the ``analysis_steps`` switched on) of each fetched
    article, as index records (order kept). Raises whatever analysis raises, for the
    whole batch."""
    pages = [Page(f.extracted, f.url, f.item.entry.feed_id) for f in batch]
    return analyze_pages(nlp, claims, pages, batch_size, analysis_steps)


@dataclass(frozen=True)
class Page:
    """Extracted text to analyse, the URL it came from and its feed (if any): a fetched
    entry's page, or a file given to ``newswire ingest``."""

    extracted: Extracted
    url: str
    feed: str | None = None


def analyze_pages(
    nlp: Language,
    claims: Sequence[str],
    pages: Sequence[Page],
    batch_size: int,
    analysis_steps: Sequence[str],
) -> list[Article]:
    """``analyze`` for pages that are not (or not yet) entries of a feed."""
    analyses = analyze_batch(
        nlp, [p.extracted for p in pages], claims, batch_size, steps=analysis_steps
    )
    version = analysis_version(nlp.meta, analysis_steps)
    return [
        to_article(p.extracted, a, url=p.url, feed=p.feed, analyzed_with=version)
        for p, a in zip(pages, analyses, strict=True)
    ]


@dataclass(frozen=True)
class Indexed:
    """An index step's result: how many articles were written, and the outcomes of
    the ones the engine refused."""

    written: int
    refused: list[Outcome]
    matched: int = 0  # new (watch, story) matches, some waiting for delivery


def index(
    engine: Index,
    store: Store,
    batch: Sequence[tuple[PendingEntry, Article]],
    policy: RetryPolicy,
) -> Indexed:
    """Group a batch of articles (each gets ``duplicate_of`` and ``cluster_id`` from the
    store, ``group``), write them, mark their entries done, and record each article the
    engine refuses (the batch is split until the refused one stands alone, so one bad
    article never fails the others forever).

    The store's grouping is held throughout, so batches of several workers are placed
    and written one after the other. Raises ``TransientError`` when the engine or the
    store is unavailable: nothing is marked then, and the driver decides how the batch
    waits (a story already placed keeps its place when it comes again).
    """
    with store.grouping():
        grouped = group(engine, store, [article for _, article in batch])
        refused = _write(engine, grouped)
    batch = [(item, a) for (item, _), a in zip(batch, grouped, strict=True)]
    outcomes = []
    for item, article in batch:
        error = refused.get(article.id)
        if error is None:
            store.mark_done(item.entry, article.id)
        else:
            log.warning("index refused article_id=%s url=%s", article.id, item.entry.url)
            outcomes.append(settle_failure(store, item, error, policy))
    written = [article for _, article in batch if article.id not in refused]
    try:  # a missed alert must not fail the write it follows
        matched = len(watches.match_batch(engine, store, written))
    except Exception:
        log.exception("watch matching failed for a batch of %d articles", len(written))
        matched = 0
    return Indexed(len(batch) - len(outcomes), outcomes, matched)


def _write(engine: Index, articles: list[Article]) -> dict[str, NewswireError]:
    """Upsert ``articles``; returns the refused ones' errors by article id. Halves a
    refused batch until each refusal is one article's."""
    try:
        engine.upsert_many(articles)
        return {}
    except TransientError:
        raise
    except Exception as exc:
        if len(articles) == 1:
            return {articles[0].id: as_error(exc)}
    half = len(articles) // 2
    return _write(engine, articles[:half]) | _write(engine, articles[half:])


def group(engine: Index, groups: Groups, articles: Sequence[Article]) -> list[Article]:
    """The articles with ``duplicate_of`` and ``cluster_id`` from the store's groups
    (``clusters.place``, oldest story first, so that within a batch the earliest story of
    a text or an event is its original; across batches arrival order decides). When an
    article merges clusters, the absorbed clusters' stories already in the index are
    relabelled with the surviving id; the batch's own articles get their final cluster
    ids. Order kept. The caller holds ``groups.grouping()``."""
    order = sorted(range(len(articles)), key=lambda i: (story_time(articles[i]), articles[i].id))
    placed = {i: place(groups, fingerprint(articles[i])) for i in order}
    for old in sorted({old for p in placed.values() for old in p.absorbed}):
        new = find(groups, old)
        moved = engine.relabel_cluster(old, new)
        log.info("clusters merged: %s into %s (%d stories relabelled)", old, new, moved)
    return [
        a.model_copy(
            update={
                "duplicate_of": placed[i].duplicate_of,
                "cluster_id": find(groups, placed[i].cluster_id),
            }
        )
        for i, a in enumerate(articles)
    ]
