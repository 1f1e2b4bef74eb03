"""Delivering watch matches to their webhooks: one signed JSON POST per match.

The POST goes through the fetch guards (``pipeline.netguard``): the same address
policy as feeds and pages (public addresses, plus ``allow_private_hosts``; cloud
metadata never), checked on the address the socket connects to, and one time budget
per request. Redirects are not followed: a webhook answers where it is.

A match is taken (``claim_delivery``, a lease) before it is sent and marked delivered
after a 2xx answer, so two deliverers never send it at once and a delivered match is
never sent again. Transient failures (connection errors, timeouts, 5xx, 429) retry
with the articles' capped, jittered backoff (``RetryPolicy``); after the last attempt,
or at once for a permanent refusal (a 4xx, a blocked address), the match is a dead
letter, listed by ``watch list`` and replayable with ``watch replay``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpcore

from pipeline.errors import (
    BlockedHostError,
    ClientError,
    NetworkError,
    NewswireError,
    PermanentError,
    ServerError,
    TransientError,
    retry_delay,
)
from pipeline.fetch import checked_url, parse_retry_after
from pipeline.netguard import CURRENT_BUDGET, Budget, PinnedBackend, Resolver, parse_networks
from pipeline.policies import RetryPolicy
from pipeline.settings import Settings
from pipeline.store.base import WatchStore
from pipeline.watch_model import Watch, WatchMatch

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Newswire-Signature"
_LEASE_S = 120.0  # longer than one POST with its whole budget
_BUDGET_TIMEOUTS = 2  # a POST's whole budget is this many times http_timeout


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``
    under the watch's ``secret``. A receiver recomputes it and compares in constant time."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(watch: Watch, match: WatchMatch) -> bytes:
    """The JSON body of one delivery: which watch, which story."""
    return json.dumps(
        {
            "watch": {"id": watch.id, "query": watch.query},
            "article": {
                "id": match.article_id,
                "title": match.title,
                "url": match.url,
                "source": match.source,
                "summary": match.summary,
                "published_at": match.published_at.isoformat() if match.published_at else None,
            },
            "matched_at": match.matched_at.isoformat(),
        },
        ensure_ascii=False,
    ).encode()


class WebhookSender:
    """POSTs through the fetch guards. Thread-safe; close it when done."""

    def __init__(self, settings: Settings, *, resolver: Resolver | None = None) -> None:
        """``resolver`` replaces the system's name lookup (tests simulate DNS with it)."""
        self.settings = settings
        backend = PinnedBackend(lambda: parse_networks(settings.allow_private_hosts), resolver)
        self._pool = httpcore.ConnectionPool(network_backend=backend, max_connections=16)

    def close(self) -> None:
        self._pool.close()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body`` to ``url``; returns the 2xx status.

        Raises ``ServerError`` (5xx, 429, with ``retry_after``), ``NetworkError``
        (connection trouble, timeouts), ``ClientError`` (any other answer, redirects
        included), ``BlockedHostError`` (a refused address) and ``InputError`` (a URL
        that does not parse)."""
        checked_url(url)
        total = _BUDGET_TIMEOUTS * self.settings.http_timeout
        budget = Budget(total=total, remaining=total)
        token = CURRENT_BUDGET.set(budget)
        try:
            with budget.running(url):
                timeout = budget.timeout(self.settings.http_timeout)
                sent = [
                    ("User-Agent", self.settings.user_agent),
                    ("Content-Type", "application/json"),
                    *headers.items(),
                ]
                # streamed and never read: a receiver's answer is its status alone
                with self._pool.stream(
                    "POST",
                    url,
                    headers=sent,
                    content=body,
                    extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout}},
                ) as resp:
                    status = resp.status
                    retry_after = next(
                        (
                            v.decode("latin-1")
                            for k, v in resp.headers
                            if k.lower() == b"retry-after"
                        ),
                        None,
                    )
        except NewswireError as exc:  # the guards' refusals and the budget's end
            exc.url = exc.url or url
            raise
        except httpcore.TimeoutException as exc:
            raise NetworkError(f"timed out ({type(exc).__name__})", url=url) from exc
        except httpcore.ProtocolError as exc:
            raise NetworkError(f"broken HTTP: {exc}", url=url) from exc
        except (httpcore.NetworkError, httpcore.UnsupportedProtocol) as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}", url=url) from exc
        finally:
            CURRENT_BUDGET.reset(token)
        if 200 <= status < 300:
            return status
        if status == 429 or status >= 500:
            raise ServerError(status, url=url, retry_after=parse_retry_after(retry_after))
        raise ClientError(status, url=url)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    waiting: int = 0  # left for the next round: its webhook failed, or time ran out
    errors: dict[str, str] = field(default_factory=dict)  # "watch article" -> reason


def deliver_due(
    store: WatchStore,
    sender: WebhookSender,
    policy: RetryPolicy,
    *,
    limit: int = 100,
    seconds: float = 60.0,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send every match whose delivery is due (up to ``limit``), each once: taken,
    POSTed, then marked delivered, retrying or dead. A watch removed meanwhile has its
    matches dropped unsent. Only the store's own failure propagates.

    Bounded in time, as it runs in the runner's cycle and on a worker: no POST starts
    after ``seconds``, and a webhook that fails for a transient reason (a receiver that
    hangs, trickles or is down) gets no other POST this round. What is left waits,
    still due, for the next round."""
    report = DeliveryReport()
    now = datetime.now(UTC)
    stop_at = time.monotonic() + seconds
    watches = {w.id: w for w in store.watches()}
    failing: set[str] = set()  # webhooks that failed transiently this round
    for match in store.due_deliveries(now, limit):
        watch = watches.get(match.watch_id)
        if watch is None or not watch.webhook:
            continue
        if watch.webhook in failing or time.monotonic() >= stop_at:
            report.waiting += 1
            continue
        if not store.claim_delivery(match, now, _LEASE_S):
            continue  # another deliverer has it
        body = payload(watch, match)
        headers = {
            SIGNATURE_HEADER: sign(watch.secret, body),
            "X-Newswire-Delivery": f"{match.watch_id}:{match.article_id}",
        }
        try:
            sender.post(watch.webhook, body, headers)
        except Exception as exc:
            err = exc if isinstance(exc, NewswireError) else PermanentError(f"unexpected {exc!r}")
            if isinstance(err, TransientError):
                failing.add(watch.webhook)
            store.save_delivery(_failed(match, err, policy, rng, report))
            continue
        store.save_delivery(
            match.model_copy(
                update={"state": "delivered", "next_attempt_at": None, "last_error": None}
            )
        )
        report.delivered += 1
        log.info("delivered article_id=%s to watch %s", match.article_id, match.watch_id)
    return report


def _failed(
    match: WatchMatch,
    err: NewswireError,
    policy: RetryPolicy,
    rng: random.Random | None,
    report: DeliveryReport,
) -> WatchMatch:
    """The match after a failed attempt: due again later, or dead."""
    attempts = match.attempts + 1
    report.errors[f"{match.watch_id} {match.article_id}"] = err.reason
    if isinstance(err, TransientError) and attempts < policy.max_attempts:
        delay = retry_delay(
            err, attempts - 1, base=policy.backoff_base, cap=policy.backoff_cap, rng=rng
        )
        report.retrying += 1
        log.warning(
            "webhook of watch %s failed for article_id=%s, retry in %.0fs: %s",
            match.watch_id,
            match.article_id,
            delay,
            err.reason,
        )
        return match.model_copy(
            update={
                "state": "pending",
                "attempts": attempts,
                "next_attempt_at": datetime.now(UTC) + timedelta(seconds=delay),
                "last_error": err.reason,
            }
        )
    report.dead += 1
    kind = "refused" if isinstance(err, BlockedHostError) else "gave up"
    log.error(
        "webhook of watch %s %s for article_id=%s after %d attempts: %s",
        match.watch_id,
        kind,
        match.article_id,
        attempts,
        err.reason,
    )
    return match.model_copy(
        update={
            "state": "dead",
            "attempts": attempts,
            "next_attempt_at": None,
            "last_error": err.reason,
        }
    )
