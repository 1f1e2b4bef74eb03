"""Thin tasks over the steps of ``pipeline/steps.py``: load by id, call one step, save,
enqueue the next, and map a failure's outcome (``Retry`` becomes a delayed message).
The logic, the retry policy included, lives in ``pipeline/``.

    tick ──► poll_feed(feed_id) ──► fetch_article(ref) ──► analyze_article(ref) ──► index_batch()

``ref`` is an entry's short id in the Redis store; pages, texts and articles wait in
the store between steps, never in a message. An entry's attempts are counted in the
store (``PendingEntry.attempts``), as the embedded runner counts them; a task with no
entry (a poll whose store is away, an index run whose engine is down) counts its
message's retries instead.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from celery import Task, signals
from kombu.exceptions import OperationalError
from spacy.language import Language

from pipeline import steps
from pipeline.analysis_version import analysis_version
from pipeline.analyze import load_claims, load_models
from pipeline.errors import NewswireError, StoreUnavailableError
from pipeline.fetch import Fetcher
from pipeline.hostgate import RedisHostGate
from pipeline.index import Index, open_index
from pipeline.nlp import load_model
from pipeline.policies import ExtractPolicy, PollPolicy, RetryPolicy
from pipeline.poll import pick_due
from pipeline.reanalyze import revise_articles
from pipeline.steps import Fetched, Outcome, Retry
from pipeline.store import DistributedStore, PendingEntry, open_distributed_store, sync_feeds
from pipeline.store.redis import connect
from pipeline.store.redis.reanalysis import RedisReanalysis
from pipeline.watch_delivery import WebhookSender, deliver_due
from workers.app import QUEUES, app, settings

log = logging.getLogger(__name__)

# How long a poll may hold its feed: a fetch with its redirects and deadline, plus slack.
_POLL_LEASE = 3 * settings.http_timeout * (settings.max_redirects + 1) + 60
_HEARTBEAT_S = 5.0
# An index run waits this long after the first article asks for it, so that the
# articles analysed meanwhile go to the engine in the same bulk request; only while
# more analyses wait in the nlp queue: the last of a burst, or a lone story, has no
# batchmates coming and is indexed at once.
_INDEX_LINGER_S = 1.0
_BROKER_ERRORS = (OperationalError, redis.ConnectionError, redis.TimeoutError)
# New entries wait in the store, in a line per host, and go to the fetch queue a few at
# a time, in turns across hosts: the queue holds at most this many, so a feed of 100k
# items cannot fill it ahead of every other site.
_FETCH_WINDOW = 4 * settings.fetch_threads
_POLL_POLICY = PollPolicy.from_settings(settings)
_EXTRACT_POLICY = ExtractPolicy.from_settings(settings)
_RETRY_POLICY = RetryPolicy.from_settings(settings)


class _Process:
    """What one worker process builds once and reuses: connections, the model."""

    def __init__(self) -> None:
        self._store: DistributedStore | None = None
        self._fetcher: Fetcher | None = None
        self._index: Index | None = None
        self._webhooks: WebhookSender | None = None
        self._nlp: Language | None = None
        self._claims: list[str] | None = None
        self._reanalysis: RedisReanalysis | None = None
        self._lock = threading.Lock()  # thread pools share one process

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        if getattr(self, name) is None:
            with self._lock:
                if getattr(self, name) is None:
                    setattr(self, name, make())
        return getattr(self, name)

    @property
    def store(self) -> DistributedStore:
        store: DistributedStore = self._once("_store", lambda: open_distributed_store(settings))
        return store

    @property
    def fetcher(self) -> Fetcher:
        def make() -> Fetcher:
            gate = RedisHostGate(
                connect(settings.state_redis_url),
                settings.per_host_concurrency,
                settings.per_host_delay,
                lease=3 * settings.http_timeout + 10,
            )
            return Fetcher(settings, gate=gate)

        fetcher: Fetcher = self._once("_fetcher", make)
        return fetcher

    @property
    def index(self) -> Index:
        index: Index = self._once("_index", lambda: open_index(settings))
        return index

    @property
    def webhooks(self) -> WebhookSender:
        sender: WebhookSender = self._once("_webhooks", lambda: WebhookSender(settings))
        return sender

    @property
    def nlp(self) -> Language:
        nlp: Language = self._once("_nlp", lambda: load_model(settings.spacy_model))
        return nlp

    @property
    def reanalysis(self) -> RedisReanalysis:
        made: RedisReanalysis = self._once(
            "_reanalysis", lambda: RedisReanalysis(connect(settings.state_redis_url))
        )
        return made

    @property
    def claims(self) -> list[str]:
        claims: list[str] = self._once("_claims", lambda: load_claims(settings.claims_file))
        return claims


proc = _Process()
_consumes: set[str] = set()


@signals.celeryd_after_setup.connect
def _remember_queues(sender: str, instance: Any, **_: Any) -> None:
    _consumes.update(instance.app.amqp.queues.consume_from)


@signals.worker_process_init.connect
def _init_process(**_: Any) -> None:
    """A fresh prefork child: new connections, and the models loaded before the first task."""
    global proc
    proc = _Process()
    if "nlp" in _consumes:
        load_models(proc.nlp, settings.analysis_steps)


@signals.worker_ready.connect
def _start_heartbeat(sender: Any, **_: Any) -> None:
    """Tell `newswire status` this worker is alive and what it consumes."""
    name = sender.hostname
    info = {"queues": sorted(_consumes), "pid": os.getpid(), "host": socket.gethostname()}

    def beat() -> None:
        store = open_distributed_store(settings)
        while True:
            try:
                store.heartbeat(name, {**info, "at": time.time()}, ttl=3 * _HEARTBEAT_S)
            except NewswireError as exc:
                log.warning("heartbeat failed worker=%s: %s", name, exc.reason)
            time.sleep(_HEARTBEAT_S)

    threading.Thread(target=beat, name="newswire-heartbeat", daemon=True).start()


def _outcome_of_task(task: Task[Any, Any], exc: Exception) -> Outcome:
    """A failure of a task that has no entry (or whose store is away): counted by the
    message's own retries."""
    return steps.failure_outcome(_broker_is_store(exc), task.request.retries + 1, _RETRY_POLICY)


def _settle(task: Task[Any, Any], item: PendingEntry | None, exc: Exception) -> None:
    """Record the failed attempt's outcome (the same one the runner would record) and,
    for ``Retry``, reschedule the task: raises Celery's ``Retry`` then."""
    exc = _broker_is_store(exc)
    where = f"url={item.entry.url} feed_id={item.entry.feed_id}" if item else f"task={task.name}"
    outcome: Outcome
    if item is None:
        outcome = _outcome_of_task(task, exc)
        log.warning("task failed %s: %s", where, steps.as_error(exc).reason)
    else:
        try:
            outcome = steps.settle_failure(proc.store, item, exc, _RETRY_POLICY)
        except NewswireError as store_error:  # the store is away too
            log.warning("could not record the failure %s: %s", where, store_error.reason)
            outcome = _outcome_of_task(task, exc)
    if isinstance(outcome, Retry):
        raise task.retry(countdown=outcome.delay, exc=exc)


def _dispatch_fetches() -> int:
    """Top the fetch queue up to its window with the next entries, in turns across
    hosts; returns how many were enqueued."""
    store = proc.store
    room = _FETCH_WINDOW - store.queue_depths(["fetch"])["fetch"]
    refs = store.next_to_fetch(room)
    for ref in refs:
        fetch_article.delay(ref)
    return len(refs)


def _broker_is_store(exc: Exception) -> Exception:
    if isinstance(exc, _BROKER_ERRORS):  # enqueueing the next step failed: Redis is away
        return StoreUnavailableError(f"broker unavailable: {exc}")
    return exc


# tasks ---------------------------------------------------------------------------------


@app.task(name="newswire.tick", bind=True)
def tick(self: Task[Any, Any]) -> dict[str, int]:
    """The one periodic task: enqueue polls of the feeds that are due (a few per host),
    replayed dead letters, entries dispatched but lost on the way (stale), fetches up
    to the window, and an index run when articles wait for one."""
    store = proc.store
    try:
        path = settings.feeds_file
        if path.exists():
            st = path.stat()
            if store.feeds_file_changed(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"):
                added = sync_feeds(store, path, settings.poll_default_interval)
                log.info("feeds file %s read: %d new feeds", path, added)
        now = datetime.now(UTC)
        polls = 0
        for state in pick_due(store.due_feeds(now), settings.poll_host_batch):
            if store.claim_feed(state.feed_id, now, _POLL_LEASE):
                poll_feed.delay(state.feed_id)
                polls += 1
        again = store.take_replayed()
        stale = store.stale_pending(older_than=2 * settings.broker_visibility_timeout)
        for ref in [*again, *stale]:
            found = store.entry(ref)
            if found is not None:  # due now, its attempts kept; its stale clock restarts
                note = "replayed" if ref in again else "re-enqueued (stale)"
                store.retry_later(found.entry, note, attempts=found.attempts, delay=0)
                fetch_article.delay(ref)
        fetches = _dispatch_fetches()
        for key in proc.reanalysis.take_submitted():  # `newswire reanalyze` batches
            reanalyze_batch.delay(key)
        if store.index_backlog() and store.request_index_run():
            index_batch.delay()
        if store.due_deliveries(now, limit=1):  # retries whose time has come
            deliver_watches.delay()
    except (NewswireError, *_BROKER_ERRORS) as exc:
        log.warning("tick skipped: %s", exc)  # the next tick does the same work
        return {}
    return {"polls": polls, "fetches": fetches, "replayed": len(again), "stale": len(stale)}


@app.task(name="newswire.poll_feed", bind=True, max_retries=None)
def poll_feed(self: Task[Any, Any], feed_id: str) -> int:
    """Refresh one feed; its new entries join their hosts' lines in the store, and the
    fetch queue is topped up from those lines."""
    try:
        store = proc.store
        with store.lock(f"poll:{feed_id}", _POLL_LEASE) as mine:
            if not mine:
                log.info("already being polled feed_id=%s", feed_id)
                return 0
            feed = store.feed(feed_id)
            if feed is None or feed.removed or feed.state.retired:
                return 0
            refreshed = steps.refresh_feed(store, feed.state, proc.fetcher, _POLL_POLICY)
        _dispatch_fetches()
        return len(refreshed.new)
    except Exception as exc:
        _settle(self, None, exc)
        return 0


@app.task(name="newswire.fetch_article", bind=True, max_retries=None)
def fetch_article(self: Task[Any, Any], ref: str) -> None:
    """Fetch and extract one entry's page; hand the text to the nlp queue."""
    item = None
    try:
        store = proc.store
        item = store.entry(ref)
        if item is None:
            log.warning("unknown or expired entry ref=%s", ref)
            return
        if item.status in ("done", "failed"):
            return  # a redelivered message: the work is already recorded
        fetched = steps.fetch_entry(store, item, proc.fetcher, _EXTRACT_POLICY)
        if fetched is not None:
            store.put_extracted(ref, fetched.extracted, fetched.url)
            analyze_article.delay(ref)
        _dispatch_fetches()  # one out, the next in
    except Exception as exc:
        _settle(self, item, exc)


@app.task(name="newswire.analyze_article", bind=True, max_retries=None)
def analyze_article(self: Task[Any, Any], ref: str) -> None:
    """Entities, quotes and stances of one extracted article; hand it to the index queue."""
    item = None
    try:
        store = proc.store
        item = store.entry(ref)
        got = store.get_extracted(ref)
        if item is None or got is None:
            log.info("nothing to analyse ref=%s (done already, or expired)", ref)
            return
        fetched = Fetched(item, *got)
        [article] = steps.analyze(
            proc.nlp, proc.claims, [fetched], settings.nlp_batch_size, settings.analysis_steps
        )
        store.put_for_index(ref, article)
        if store.request_index_run():
            more = store.queue_depths(["nlp"])["nlp"] > 0
            index_batch.apply_async(countdown=_INDEX_LINGER_S if more else 0)
    except Exception as exc:
        _settle(self, item, exc)


@app.task(name="newswire.index_batch", bind=True, max_retries=None)
def index_batch(self: Task[Any, Any]) -> int:
    """Bulk-write every analysed article waiting in the store, batch by batch; an article
    the engine refuses is recorded as failed and the others are written. An engine
    that is down leaves them waiting: this task retries a few times, and the
    scheduler's tick starts another run for as long as any remain, so nothing waiting
    is ever dropped."""
    store = proc.store
    written = 0
    try:
        store.index_run_started()
        while batch := store.for_index(settings.bulk_batch_size):
            pairs = []
            for ref, article in batch:
                item = store.entry(ref)
                if item is not None and item.status == "pending":  # else written already
                    pairs.append((item, article))
            indexed = steps.index(proc.index, store, pairs, _RETRY_POLICY)
            store.indexed(ref for ref, _ in batch)
            written += indexed.written
            if indexed.matched:
                deliver_watches.delay()
            log.info("indexed %d articles (%d refused)", indexed.written, len(indexed.refused))
    except Exception as exc:
        _settle(self, None, exc)
    return written


@app.task(name="newswire.deliver_watches")
def deliver_watches() -> int:
    """Send the watch matches whose delivery is due (each once: ``deliver_due`` takes a
    lease on a match before sending it); returns how many were delivered."""
    return deliver_due(proc.store, proc.webhooks, _RETRY_POLICY).delivered


@app.task(name="newswire.reanalyze_batch", bind=True, max_retries=None)
def reanalyze_batch(self: Task[Any, Any], key: str) -> int:
    """Analyse a batch of stored stories again (``newswire reanalyze`` left them in the
    store under ``key``) and hand them back to it; a batch already done is skipped."""
    try:
        handoff = proc.reanalysis
        articles = handoff.batch(key)
        if articles is None:
            log.info("nothing to reanalyse key=%s (done already, or expired)", key)
            return 0
        revised = revise_articles(
            proc.nlp,
            articles,
            version=analysis_version(proc.nlp.meta, settings.analysis_steps),
            steps=settings.analysis_steps,
            claims=proc.claims,
            batch_size=settings.nlp_batch_size,
        )
        handoff.finish(key, revised)
        return len(revised)
    except Exception as exc:
        _settle(self, None, exc)
        return 0


__all__ = [
    "QUEUES",
    "analyze_article",
    "deliver_watches",
    "fetch_article",
    "index_batch",
    "poll_feed",
    "reanalyze_batch",
    "tick",
]
