"""The embedded runner: the steps of ``pipeline/steps.py``, as the distributed workers
call them, scheduled on one machine.

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
from typing import Any

from spacy.language import Language

from pipeline import steps
from pipeline.analyze import PIPE_BATCH_SIZE, load_claims, load_models
from pipeline.errors import PermanentError, TransientError
from pipeline.fetch import Fetcher
from pipeline.index import Index, open_index
from pipeline.models import Article, FeedState
from pipeline.nlp import load_model
from pipeline.policies import ExtractPolicy, PollPolicy, RetryPolicy
from pipeline.settings import Settings
from pipeline.steps import Dead, Failed, Fetched, Outcome, Retry
from pipeline.store import PendingEntry, Store, sync_feeds
from pipeline.store.sqlite import SqliteStore
from pipeline.watch_delivery import WebhookSender, deliver_due

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

    def count(self, outcome: Outcome) -> None:
        match outcome:
            case Retry():
                self.retrying += 1
            case Dead():
                self.dead += 1
            case Failed():
                self.failed += 1


# One analysis process's model and claims, set by _start_analysis_process.
_process_nlp: Language | None = None
_process_claims: list[str] = []
_ORPHAN_CHECK_S = 0.5


def _start_analysis_process(model: str, claims: list[str], analysis_steps: Sequence[str]) -> None:
    global _process_nlp, _process_claims
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    _exit_with_parent(os.getppid())
    _process_nlp, _process_claims = load_model(model), claims
    load_models(_process_nlp, analysis_steps)


def _exit_with_parent(parent: int) -> None:
    """End this process as soon as the runner that started it is gone, even when the
    runner was killed outright (SIGKILL runs no clean-up): an orphan is re-parented, so
    its parent pid changes. A thread, not PR_SET_PDEATHSIG, because that signal fires
    when the *thread* that spawned the child ends, which may be any of the runner's."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_ORPHAN_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="newswire-orphan-watch", daemon=True).start()


def _analyze_in_process(
    batch: list[Fetched], batch_size: int, analysis_steps: Sequence[str]
) -> list[Article]:
    assert _process_nlp is not None
    return steps.analyze(_process_nlp, _process_claims, batch, batch_size, analysis_steps)


class Analyzer:
    """Runs ``analyze_batch`` in a pool of processes, one model each, or in this
    process (when given a loaded model or asked for one process)."""

    def __init__(self, settings: Settings, claims: list[str], nlp: Language | None) -> None:
        self.settings, self.claims, self.nlp = settings, claims, nlp
        wanted = settings.analysis_processes or os.cpu_count() or 1
        self.processes = 1 if nlp is not None else wanted
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, items: list[Fetched]) -> Future[list[Article]]:
        # the articles go to spaCy one document at a time, whatever the batch holds
        batch_size, enabled = PIPE_BATCH_SIZE, list(self.settings.analysis_steps)
        if self.processes > 1:
            try:
                return self._ensure_pool().submit(_analyze_in_process, items, batch_size, enabled)
            except BrokenProcessPool:  # one of its processes died: start a new pool
                self.close()
                return self._ensure_pool().submit(_analyze_in_process, items, batch_size, enabled)
        done: Future[list[Article]] = Future()
        try:
            if self.nlp is None:
                self.nlp = load_model(self.settings.spacy_model)
            done.set_result(steps.analyze(self.nlp, self.claims, items, batch_size, enabled))
        except Exception as exc:  # reported where the result is read, as from a pool
            done.set_exception(exc)
        return done

    def warm_up(self) -> None:
        """Start every analysis process and load its models now."""
        if self.processes > 1:
            pool = self._ensure_pool()
            wait([pool.submit(time.sleep, 0.5) for _ in range(self.processes)])
            return
        if self.nlp is None:
            self.nlp = load_model(self.settings.spacy_model)
        load_models(self.nlp, self.settings.analysis_steps)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),  # the runner has threads
                initializer=_start_analysis_process,
                initargs=(
                    self.settings.spacy_model,
                    self.claims,
                    list(self.settings.analysis_steps),
                ),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class Runner:
    """Drives the steps (refresh feeds, fetch, analyse, index) over the store's feeds."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        index: Index | None = None,
        nlp: Language | None = None,
        fetcher: Fetcher | None = None,
        progress: Progress = _quiet,
    ) -> None:
        """Defaults come from ``settings``; a given ``fetcher`` (the demo's, with its own
        name lookup) is the runner's to close, like the rest."""
        self.settings = settings
        self.store: Store = store or SqliteStore(settings.db)
        self.index = index or open_index(settings)
        self.fetcher = fetcher or Fetcher(settings)
        self.webhooks = WebhookSender(settings)
        self.progress = progress
        self.claims = load_claims(settings.claims_file)
        self.analyzer = Analyzer(settings, self.claims, nlp)
        self.poll_policy = PollPolicy.from_settings(settings)
        self.extract_policy = ExtractPolicy.from_settings(settings)
        self.retry_policy = RetryPolicy.from_settings(settings)
        self._rng = random.Random()

    def close(self) -> None:
        self.analyzer.close()
        self.fetcher.close()
        self.webhooks.close()
        self.index.close()
        self.store.close()

    # feeds ----------------------------------------------------------------

    def sync_feeds(self, path: Path) -> int:
        """Add the file's feeds that the store does not know; returns how many were added."""
        return sync_feeds(self.store, path, self.settings.poll_default_interval)

    def poll_feeds(self, states: Sequence[FeedState]) -> RunReport:
        """Refresh feeds concurrently, each saved with its new entries; one feed's
        failure, whatever it is, is that feed's and never ends the run."""
        report = RunReport()
        with ThreadPoolExecutor(self.settings.fetch_threads, thread_name_prefix="poll") as pool:
            futures = {
                pool.submit(
                    steps.refresh_feed,
                    self.store,
                    s,
                    self.fetcher,
                    self.poll_policy,
                    rng=self._rng,
                ): s
                for s in states
            }
            for done, fut in enumerate(as_completed(futures), 1):
                fid = futures[fut].feed_id
                report.feeds_polled += 1
                try:
                    refreshed = fut.result()
                except Exception as exc:  # the store failed to save it: the next cycle retries
                    log.exception("could not save the poll of feed_id=%s", fid)
                    report.feed_errors[fid] = steps.as_error(exc).reason
                else:
                    if refreshed.error is not None:
                        report.feed_errors[fid] = refreshed.error
                    report.new_entries += len(refreshed.new)
                self.progress("poll", done, len(states))
        return report

    # articles ----------------------------------------------------------------

    def process_pending(self) -> RunReport:
        """Fetch, extract, analyse and index every queued entry that is due.

        Fetches run ahead of analysis in a bounded window, so a large backlog never
        holds more than a few batches of pages in memory. The cadence sets how soon a
        fetched story is searchable: a batch goes to analysis when it holds
        ``nlp_batch_size`` articles, or at once when an analysis process is idle (a
        story never waits for others to fill its batch); a batch is indexed as soon as
        its analysis ends, each write one SQLite commit. Under load every process is
        busy, so batches fill and throughput is that of full batches.
        """
        report = RunReport()
        pending = self.store.pending()
        if not pending:
            return report
        window = max(4 * self.settings.fetch_threads, 2 * self.settings.nlp_batch_size)
        todo = iter(pending)
        batch: list[Fetched] = []
        analysing: list[tuple[list[Fetched], Future[list[Article]]]] = []
        done = 0

        def collect(keep: int) -> None:
            """Index every finished batch, then wait while more than ``keep`` are in flight."""
            for finished in [a for a in analysing if a[1].done()]:
                analysing.remove(finished)
                self._index_analysed(*finished, report)
            while len(analysing) > keep:
                self._index_analysed(*analysing.pop(0), report)

        with ThreadPoolExecutor(self.settings.fetch_threads, thread_name_prefix="fetch") as pool:
            running: dict[Future[Fetched | None], PendingEntry] = {}
            while True:
                for item in itertools.islice(todo, window - len(running)):
                    running[pool.submit(self._fetch, item)] = item
                if not running:
                    break
                # a finished analysis wakes the loop too: its batch is indexed at once
                wake: list[Future[Any]] = [*running, *(a[1] for a in analysing)]
                for fut in wait(wake, return_when=FIRST_COMPLETED).done:
                    if fut not in running:
                        continue  # an analysis: collect indexes it
                    item = running.pop(fut)
                    done += 1
                    try:
                        fetched = fut.result()
                    except Exception as exc:  # a bug or hostile page fails its article only
                        self._settle(item, exc, report)
                    else:
                        if fetched is not None:
                            batch.append(fetched)
                    self.progress("articles", done, len(pending))
                collect(keep=self.analyzer.processes)  # one batch queued behind each process
                idle = len(analysing) < self.analyzer.processes
                if batch and (idle or len(batch) >= self.settings.nlp_batch_size):
                    analysing.append((batch, self.analyzer.submit(batch)))
                    batch = []
        if batch:
            analysing.append((batch, self.analyzer.submit(batch)))
        collect(keep=0)
        if report.indexed:
            self.index.refresh()
        return report

    def _fetch(self, item: PendingEntry) -> Fetched | None:
        return steps.fetch_entry(self.store, item, self.fetcher, self.extract_policy)

    def _settle(self, item: PendingEntry, exc: BaseException, report: RunReport) -> None:
        report.count(steps.settle_failure(self.store, item, exc, self.retry_policy, self._rng))

    def _index_analysed(
        self,
        batch: list[Fetched],
        analysis: Future[list[Article]],
        report: RunReport,
        alone: bool = False,
    ) -> None:
        """Index an analysed batch. A batch whose analysis failed (BrokenProcessPool too:
        an analysis process died, maybe killed from outside) is analysed again one
        article at a time, so that only an article that fails on its own (``alone``)
        is recorded as failed, and a killed process loses nothing."""
        try:
            articles = analysis.result()
        except Exception as exc:
            if alone:
                log.error("analysis failed url=%s", batch[0].item.entry.url, exc_info=exc)
                failed = PermanentError(f"analysis failed: {type(exc).__name__}")
                self._settle(batch[0].item, failed, report)
                return
            for one in batch:  # find the article that breaks the batch; keep the rest
                self._index_analysed([one], self.analyzer.submit([one]), report, alone=True)
            return
        pairs = [(f.item, article) for f, article in zip(batch, articles, strict=True)]
        try:
            indexed = steps.index(self.index, self.store, pairs, self.retry_policy)
        except TransientError as exc:  # engine down: nothing is marked done, all wait
            log.warning("index write failed for %d articles: %s", len(pairs), exc.reason)
            for f in batch:
                self._settle(f.item, exc, report)
            return
        report.indexed += indexed.written
        for outcome in indexed.refused:
            report.count(outcome)

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
        # after indexing, never in its way: a slow webhook delays only its own alerts
        deliver_due(self.store, self.webhooks, self.retry_policy, rng=self._rng)
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
