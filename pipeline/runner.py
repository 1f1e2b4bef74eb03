"""The embedded runner: the same stages as the distributed workers, on one machine.

Threads do the I/O (polls, page fetches) and extraction; batches of extracted
articles go to a pool of analysis processes, one per core, each with its own
model (or to the runner's own process when ``analysis_processes`` is 1); the runner
indexes each batch as it comes back. State and index live in SQLite. The runner can
die at any line: entries are queued in the store before any work on them, and a
restart picks up whatever is still pending.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import random
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from spacy.language import Language

from pipeline.analyze import analyze_batch, load_claims, to_article
from pipeline.errors import NewswireError, PermanentError, TransientError, retry_delay
from pipeline.extract import fetch_and_extract
from pipeline.fetch import Fetcher
from pipeline.index import Index, open_index
from pipeline.models import Analysis, Article, Extracted, FeedEntry, FeedState
from pipeline.nlp import load_model
from pipeline.poll import poll
from pipeline.settings import Settings
from pipeline.store import PendingEntry, sync_feeds
from pipeline.store.sqlite import SqliteStore
from pipeline.urls import article_id

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # stage, done, total


def _quiet(stage: str, done: int, total: int) -> None:
    pass


@dataclass
class RunReport:
    feeds_polled: int = 0
    feed_errors: dict[str, str] = field(default_factory=dict)  # feed id -> reason
    new_entries: int = 0
    indexed: int = 0
    failed: int = 0
    retrying: int = 0
    dead: int = 0
    seconds: float = 0.0

    def merge(self, other: RunReport) -> None:
        self.feeds_polled += other.feeds_polled
        self.feed_errors.update(other.feed_errors)
        for name in ("new_entries", "indexed", "failed", "retrying", "dead"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


Batch = list[tuple[FeedEntry, Extracted, str]]  # entry, its extracted page, final URL

# One analysis process's model and claims, set by _start_analysis_process.
_process_nlp: Language | None = None
_process_claims: list[str] = []


def _start_analysis_process(model: str, claims: list[str]) -> None:
    global _process_nlp, _process_claims
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    _process_nlp, _process_claims = load_model(model), claims


def _analyze_in_process(
    items: list[Extracted], batch_size: int, steps: Sequence[str]
) -> list[Analysis]:
    assert _process_nlp is not None
    return analyze_batch(_process_nlp, items, _process_claims, batch_size, steps=steps)


class Analyzer:
    """Runs ``analyze_batch`` in a pool of processes, one model each, or in this
    process (when given a loaded model or asked for one process)."""

    def __init__(self, settings: Settings, claims: list[str], nlp: Language | None) -> None:
        self.settings, self.claims, self.nlp = settings, claims, nlp
        wanted = settings.analysis_processes or os.cpu_count() or 1
        self.processes = 1 if nlp is not None else wanted
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, items: list[Extracted]) -> Future[list[Analysis]]:
        batch_size, steps = self.settings.nlp_batch_size, list(self.settings.analysis_steps)
        if self.processes > 1:
            try:
                return self._ensure_pool().submit(_analyze_in_process, items, batch_size, steps)
            except BrokenProcessPool:  # one of its processes died: start a new pool
                self.close()
                return self._ensure_pool().submit(_analyze_in_process, items, batch_size, steps)
        done: Future[list[Analysis]] = Future()
        try:
            if self.nlp is None:
                self.nlp = load_model(self.settings.spacy_model)
            done.set_result(analyze_batch(self.nlp, items, self.claims, batch_size, steps=steps))
        except Exception as exc:  # reported where the result is read, as from a pool
            done.set_exception(exc)
        return done

    def warm_up(self) -> None:
        """Start every analysis process and load its model now."""
        if self.processes > 1:
            pool = self._ensure_pool()
            wait([pool.submit(time.sleep, 0.5) for _ in range(self.processes)])
        elif self.nlp is None:
            self.nlp = load_model(self.settings.spacy_model)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),  # the runner has threads
                initializer=_start_analysis_process,
                initargs=(self.settings.spacy_model, self.claims),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class Runner:
    """Drives poll → fetch → extract → analyze → index over the store's feeds."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: SqliteStore | None = None,
        index: Index | None = None,
        nlp: Language | None = None,
        progress: Progress = _quiet,
    ) -> None:
        self.settings = settings
        self.store = store or SqliteStore(settings.db)
        self.index = index or open_index(settings)
        self.fetcher = Fetcher(settings)
        self.progress = progress
        self.claims = load_claims(settings.claims_file)
        self.analyzer = Analyzer(settings, self.claims, nlp)
        self._rng = random.Random()

    def close(self) -> None:
        self.analyzer.close()
        self.fetcher.close()
        self.index.close()
        self.store.close()

    # feeds ----------------------------------------------------------------

    def sync_feeds(self, path: Path) -> int:
        """Add the file's feeds that the store does not know; returns how many were added."""
        return sync_feeds(self.store, path, self.settings.poll_default_interval)

    def poll_feeds(self, states: Sequence[FeedState]) -> RunReport:
        """Poll feeds concurrently; queue the entries not seen before."""
        report = RunReport()
        with ThreadPoolExecutor(self.settings.fetch_threads, thread_name_prefix="poll") as pool:
            futures = [pool.submit(poll, s, self.fetcher, rng=self._rng) for s in states]
            for done, fut in enumerate(as_completed(futures), 1):
                result = fut.result()
                self.store.save_feed_state(result.state)
                report.feeds_polled += 1
                if result.error is not None:
                    report.feed_errors[result.state.feed_id] = result.error.reason
                new = self.store.add_entries(e for e in result.entries if e.url)
                report.new_entries += len(new)
                self.progress("poll", done, len(states))
        return report

    # articles ----------------------------------------------------------------

    def process_pending(self) -> RunReport:
        """Fetch, extract, analyse and index every queued entry that is due.

        Fetches run ahead of analysis in a bounded window, so a large backlog never
        holds more than a few batches of pages in memory.
        """
        report = RunReport()
        pending = self.store.pending()
        if not pending:
            return report
        window = max(4 * self.settings.fetch_threads, 2 * self.settings.nlp_batch_size)
        todo = iter(pending)
        batch: Batch = []
        analysing: deque[tuple[Batch, Future[list[Analysis]]]] = deque()
        done = 0

        def collect(keep: int) -> None:
            """Index finished batches, waiting while more than ``keep`` are in flight."""
            while analysing and (len(analysing) > keep or analysing[0][1].done()):
                self._index_analysed(*analysing.popleft(), report)

        with ThreadPoolExecutor(self.settings.fetch_threads, thread_name_prefix="fetch") as pool:
            running: dict[Future[tuple[Extracted, str] | None], PendingEntry] = {}
            while True:
                for item in itertools.islice(todo, window - len(running)):
                    running[pool.submit(self._fetch, item.entry)] = item
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    item = running.pop(fut)
                    done += 1
                    try:
                        result = fut.result()
                    except NewswireError as exc:
                        self._record_failure(item, exc, report)
                    except Exception as exc:  # a bug or hostile page must not stop the run
                        log.exception("unexpected error url=%s", item.entry.url)
                        self._record_failure(item, _unexpected(exc), report)
                    else:
                        if result is not None:
                            batch.append((item.entry, *result))
                    self.progress("articles", done, len(pending))
                if len(batch) >= self.settings.nlp_batch_size:
                    analysing.append((batch, self.analyzer.submit([x for _, x, _ in batch])))
                    batch = []
                collect(keep=self.analyzer.processes)  # one batch queued behind each process
        if batch:
            analysing.append((batch, self.analyzer.submit([x for _, x, _ in batch])))
        collect(keep=0)
        if report.indexed:
            self.index.refresh()
        return report

    def _fetch(self, entry: FeedEntry) -> tuple[Extracted, str] | None:
        # Another feed may list the same story: a cheap lookup in the store, not a
        # read from the index, on this path that every article takes.
        known = article_id(entry.url)
        if self.store.is_done(known):
            self.store.mark_done(entry, known, note="already indexed")
            return None
        return fetch_and_extract(entry, self.fetcher)

    def _record_failure(self, item: PendingEntry, exc: NewswireError, report: RunReport) -> None:
        entry = item.entry
        if isinstance(exc, TransientError):
            delay = retry_delay(
                exc,
                item.attempts,
                base=self.settings.retry_backoff_base,
                cap=self.settings.retry_backoff_cap,
                rng=self._rng,
            )
            status = self.store.retry_later(
                entry, exc.reason, delay=delay, max_attempts=self.settings.max_attempts
            )
            if status == "dead":
                report.dead += 1
                log.error("gave up url=%s feed_id=%s: %s", entry.url, entry.feed_id, exc.reason)
            else:
                report.retrying += 1
                log.warning("will retry url=%s in %.0fs: %s", entry.url, delay, exc.reason)
        else:
            self.store.mark_failed(entry, exc.reason)
            report.failed += 1
            log.warning("failed url=%s feed_id=%s: %s", entry.url, entry.feed_id, exc.reason)

    def _index_analysed(
        self, batch: Batch, analysis: Future[list[Analysis]], report: RunReport
    ) -> None:
        try:
            analyses = analysis.result()
        except Exception as exc:  # BrokenProcessPool too: an analysis process died
            if len(batch) == 1:
                entry = batch[0][0]
                log.error("analysis failed url=%s", entry.url, exc_info=exc)
                self.store.mark_failed(entry, f"analysis failed: {type(exc).__name__}")
                report.failed += 1
                return
            for one in batch:  # find the article that breaks the batch; keep the rest
                self._index_analysed([one], self.analyzer.submit([one[1]]), report)
            return
        now = datetime.now(UTC)
        articles: list[Article] = [
            to_article(x, a, url=url, feed=entry.feed_id, fetched_at=now)
            for (entry, x, url), a in zip(batch, analyses, strict=True)
        ]
        try:
            self.index.upsert_many(articles)
        except NewswireError as exc:  # engine down or refusing: nothing is marked done
            log.warning("index write failed for %d articles: %s", len(articles), exc.reason)
            for entry, _, _ in batch:
                self._record_failure(PendingEntry(entry, 0), exc, report)
            return
        for (entry, _, _), article in zip(batch, articles, strict=True):
            self.store.mark_done(entry, article.id)
        report.indexed += len(articles)

    # loops --------------------------------------------------------------------

    def run_once(self, *, all_feeds: bool = True) -> RunReport:
        """Poll every active feed (or only the due ones), then process the queue."""
        started = time.monotonic()
        now = datetime.now(UTC)
        states = (
            [f.state for f in self.store.feeds() if not f.state.retired]
            if all_feeds
            else self.store.due_feeds(now)
        )
        report = self.poll_feeds(states)
        report.merge(self.process_pending())
        report.seconds = time.monotonic() - started
        return report

    def run_forever(self, stop: threading.Event, on_cycle: Callable[[RunReport], None]) -> None:
        """Poll due feeds and process the queue until ``stop`` is set."""
        while not stop.is_set():
            report = self.run_once(all_feeds=False)
            on_cycle(report)
            upcoming = [f.state.next_check_at for f in self.store.feeds() if not f.state.retired]
            wait = (min(upcoming) - datetime.now(UTC)).total_seconds() if upcoming else 60.0
            stop.wait(min(max(wait, 1.0), 60.0))


def _unexpected(exc: Exception) -> PermanentError:
    return PermanentError(f"unexpected {type(exc).__name__}: {exc}")
