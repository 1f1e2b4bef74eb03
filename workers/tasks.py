"""Thin tasks over the pipeline stages: load by id, call one stage, save, enqueue the
next step, retry what is transient. The logic lives in ``pipeline/``.

    tick ──► poll_feed(feed_id) ──► fetch_article(ref) ──► analyze_article(ref) ──► index_batch()

``ref`` is an entry's short id in the Redis store; pages, texts and articles wait in
the store between steps, never in a message.
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

from pipeline.analyze import analyze_batch, load_claims, to_article
from pipeline.errors import (
    NewswireError,
    PermanentError,
    StoreUnavailableError,
    TransientError,
    retry_delay,
)
from pipeline.extract import fetch_and_extract
from pipeline.fetch import Fetcher
from pipeline.index import Index, open_index
from pipeline.models import Article, FeedEntry
from pipeline.nlp import load_model
from pipeline.poll import pick_due, poll
from pipeline.store import sync_feeds
from pipeline.store.redis import RedisHostGate, RedisStore, entry_ref
from pipeline.urls import article_id
from workers.app import QUEUES, app, settings

log = logging.getLogger(__name__)

# How long a poll may hold its feed: a fetch with its redirects and deadline, plus slack.
_POLL_LEASE = 3 * settings.http_timeout * (settings.max_redirects + 1) + 60
_HEARTBEAT_S = 5.0
# An index run waits this long after the first article asks for it, so that the
# articles analysed meanwhile go to the engine in the same bulk request.
_INDEX_LINGER_S = 1.0
_BROKER_ERRORS = (OperationalError, redis.ConnectionError, redis.TimeoutError)


class _Process:
    """What one worker process builds once and reuses: connections, the model."""

    def __init__(self) -> None:
        self._store: RedisStore | None = None
        self._fetcher: Fetcher | None = None
        self._index: Index | None = None
        self._nlp: Language | None = None
        self._claims: list[str] | None = None
        self._lock = threading.Lock()  # thread pools share one process

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        if getattr(self, name) is None:
            with self._lock:
                if getattr(self, name) is None:
                    setattr(self, name, make())
        return getattr(self, name)

    @property
    def store(self) -> RedisStore:
        store: RedisStore = self._once("_store", lambda: RedisStore.from_settings(settings))
        return store

    @property
    def fetcher(self) -> Fetcher:
        def make() -> Fetcher:
            gate = RedisHostGate(
                self.store.r,
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
    def nlp(self) -> Language:
        nlp: Language = self._once("_nlp", lambda: load_model(settings.spacy_model))
        return nlp

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
    """A fresh prefork child: new connections, and the model loaded before the first task."""
    global proc
    proc = _Process()
    if "nlp" in _consumes:
        proc.nlp  # noqa: B018 - load now, not inside the first task


@signals.worker_ready.connect
def _start_heartbeat(sender: Any, **_: Any) -> None:
    """Tell `newswire status` this worker is alive and what it consumes."""
    name = sender.hostname
    info = {"queues": sorted(_consumes), "pid": os.getpid(), "host": socket.gethostname()}

    def beat() -> None:
        store = RedisStore.from_settings(settings)
        while True:
            try:
                store.heartbeat(name, {**info, "at": time.time()}, ttl=3 * _HEARTBEAT_S)
            except NewswireError as exc:
                log.warning("heartbeat failed worker=%s: %s", name, exc.reason)
            time.sleep(_HEARTBEAT_S)

    threading.Thread(target=beat, name="newswire-heartbeat", daemon=True).start()


def _handle(task: Task[Any, Any], entry: FeedEntry | None, exc: Exception) -> None:
    """Retry a transient error with capped, jittered backoff; after the last attempt
    the entry becomes a dead letter. Permanent errors and bugs are recorded, never
    retried. Raises ``Retry`` (Celery's signal to reschedule) when retrying."""
    where = f"url={entry.url} feed_id={entry.feed_id}" if entry else f"task={task.name}"
    if isinstance(exc, _BROKER_ERRORS):  # enqueueing the next step failed: Redis is away
        exc = StoreUnavailableError(f"broker unavailable: {exc}")
    if isinstance(exc, TransientError):
        attempt = task.request.retries + 1
        if attempt >= settings.max_attempts:
            if entry is not None:
                proc.store.mark_dead(entry, exc.reason, attempt)
            log.error("gave up after %d attempts %s: %s", attempt, where, exc.reason)
            return
        delay = retry_delay(
            exc,
            task.request.retries,
            base=settings.retry_backoff_base,
            cap=settings.retry_backoff_cap,
        )
        if entry is not None:
            proc.store.touch(entry, attempt, exc.reason)
        log.warning("will retry in %.0fs %s: %s", delay, where, exc.reason)
        raise task.retry(countdown=delay, exc=exc, max_retries=settings.max_attempts)
    if isinstance(exc, PermanentError):
        reason = exc.reason
        log.warning("failed %s: %s", where, reason)
    else:  # a bug or a hostile input must not loop: record it
        reason = f"unexpected {type(exc).__name__}: {exc}"
        log.error("unexpected error %s", where, exc_info=exc)
    if entry is not None:
        proc.store.mark_failed(entry, reason)


# tasks ---------------------------------------------------------------------------------


@app.task(name="newswire.tick", bind=True)
def tick(self: Task[Any, Any]) -> dict[str, int]:
    """The one periodic task: enqueue polls of the feeds that are due (a few per host),
    replayed dead letters, entries a dead poller claimed but never enqueued, and an
    index run when articles wait for one."""
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
            entry = store.entry(ref)
            if entry is not None:
                store.touch(entry, 0, "replayed" if ref in again else "re-enqueued (stale)")
                fetch_article.delay(ref)
        if store.index_backlog() and store.request_index_run():
            index_batch.delay()
    except NewswireError as exc:
        log.warning("tick skipped: %s", exc.reason)  # the next tick does the same work
        return {}
    return {"polls": polls, "replayed": len(again), "stale": len(stale)}


@app.task(name="newswire.poll_feed", bind=True)
def poll_feed(self: Task[Any, Any], feed_id: str) -> int:
    """Poll one feed; enqueue a fetch for each entry never seen before."""
    try:
        store = proc.store
        with store.lock(f"poll:{feed_id}", _POLL_LEASE) as mine:
            if not mine:
                log.info("already being polled feed_id=%s", feed_id)
                return 0
            feed = store.feed(feed_id)
            if feed is None or feed.removed or feed.state.retired:
                return 0
            result = poll(feed.state, proc.fetcher)
            store.save_feed_state(result.state)
            new = store.add_entries(e for e in result.entries if e.url)
            for e in new:
                fetch_article.delay(entry_ref(e.feed_id, e.key))
            return len(new)
    except Exception as exc:
        _handle(self, None, exc)
        return 0


@app.task(name="newswire.fetch_article", bind=True)
def fetch_article(self: Task[Any, Any], ref: str) -> None:
    """Fetch and extract one entry's page; hand the text to the nlp queue."""
    entry = None
    try:
        store = proc.store
        found = store.entry_status(ref)
        if found is None:
            log.warning("unknown or expired entry ref=%s", ref)
            return
        entry, status = found
        if status in ("done", "failed"):
            return  # a redelivered message: the work is already recorded
        known = article_id(entry.url)
        if store.is_done(known):
            store.mark_done(entry, known, note="already indexed")
            return
        extracted, url = fetch_and_extract(entry, proc.fetcher)
        store.put_extracted(ref, extracted, url)
        store.touch(entry, self.request.retries)
        analyze_article.delay(ref)
    except Exception as exc:
        _handle(self, entry, exc)


@app.task(name="newswire.analyze_article", bind=True)
def analyze_article(self: Task[Any, Any], ref: str) -> None:
    """Entities, quotes and stances of one extracted article; hand it to the index queue."""
    entry = None
    try:
        store = proc.store
        entry = store.entry(ref)
        got = store.get_extracted(ref)
        if entry is None or got is None:
            log.info("nothing to analyse ref=%s (done already, or expired)", ref)
            return
        extracted, url = got
        [analysis] = analyze_batch(
            proc.nlp, [extracted], proc.claims, steps=settings.analysis_steps
        )
        article = to_article(extracted, analysis, url=url, feed=entry.feed_id)
        store.put_for_index(ref, article)
        if store.request_index_run():
            index_batch.apply_async(countdown=_INDEX_LINGER_S)
    except Exception as exc:
        _handle(self, entry, exc)


@app.task(name="newswire.index_batch", bind=True)
def index_batch(self: Task[Any, Any]) -> int:
    """Bulk-write every analysed article waiting in the store, batch by batch. An engine
    that is down leaves them waiting: this task retries a few times, and the
    scheduler's tick starts another run for as long as any remain, so nothing waiting
    is ever dropped."""
    store = proc.store
    written = 0
    try:
        store.index_run_started()
        while batch := store.for_index(settings.bulk_batch_size):
            try:
                proc.index.upsert_many([a for _, a in batch])
            except PermanentError:
                _index_one_by_one(batch)
            for ref, article in batch:
                found = store.entry_status(ref)
                if found is not None and found[1] == "pending":
                    store.mark_done(found[0], article.id)
            store.indexed(ref for ref, _ in batch)
            written += len(batch)
            log.info("indexed %d articles", len(batch))
    except Exception as exc:
        _handle(self, None, exc)
    return written


def _index_one_by_one(batch: list[tuple[str, Article]]) -> None:
    """The engine refused part of a batch: write the rest, record each refusal."""
    for ref, article in batch:
        try:
            proc.index.upsert_many([article])
        except PermanentError as exc:
            entry = proc.store.entry(ref)
            if entry is not None:
                proc.store.mark_failed(entry, exc.reason)
            log.warning("index refused article_id=%s: %s", article.id, exc.reason)


__all__ = ["QUEUES", "analyze_article", "fetch_article", "index_batch", "poll_feed", "tick"]
