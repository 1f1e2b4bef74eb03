"""Poll a feed: conditional GET, parse, and decide when to look again.

``parse_feed`` is pure (bytes in, entries out); ``next_state_*`` are pure schedule
rules bounded by a ``PollPolicy``; ``poll`` ties them to the polite client and returns
the new feed state with every entry the feed lists (the caller filters the ones it
has seen).
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
from calendar import timegm
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser

from pipeline.errors import ClientError, FeedParseError, NewswireError, TransientError
from pipeline.fetch import Fetcher
from pipeline.models import FeedEntry, FeedState
from pipeline.policies import PollPolicy
from pipeline.urls import entry_key, host_of

log = logging.getLogger(__name__)

# After this many 304s in a row, ask once without validators: some servers
# answer 304 while the feed has changed.
DISTRUST_304_AFTER = 8
_MAX_ENTRY_TEXT = 100_000
_MAX_AGE = re.compile(r"(?:s-)?max-age\s*=\s*(\d+)", re.I)


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    ttl_seconds: int | None = None


@dataclass(frozen=True)
class PollResult:
    state: FeedState
    entries: list[FeedEntry]
    error: NewswireError | None = None


def _when(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(timegm(struct), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _entry(
    feed_id: str,
    guid: Any,
    link: Any,
    title: Any,
    published: datetime | None,
    summary: Any,
    content: Any,
    authors: list[Any],
) -> FeedEntry:
    """One entry from a parser's raw fields: keyed, trimmed, text capped."""
    link_s, title_s = str(link or "").strip(), str(title or "").strip()
    key = entry_key(
        str(guid or "") or None,
        link_s or None,
        title_s,
        published.isoformat() if published else None,
    )
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return FeedEntry(
        key=key,
        feed_id=feed_id,
        url=link_s,
        title=title_s,
        summary=str(summary or "")[:_MAX_ENTRY_TEXT],
        content=str(content or "")[:_MAX_ENTRY_TEXT],
        published_at=published,
        authors=names,
    )


def _unique(entries: list[FeedEntry]) -> list[FeedEntry]:
    """First of each key: feeds repeat items."""
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.key not in seen:
            seen.add(e.key)
            out.append(e)
    return out


def _entry_text(entry: Any) -> str:
    for item in entry.get("content") or []:
        value = item.get("value")
        if value:
            return str(value)
    return ""


def parse_feed(
    body: bytes, url: str, feed_id: str, headers: dict[str, str] | None = None
) -> ParsedFeed:
    """Parse RSS, Atom, RDF or JSON Feed bytes into entries with dedup keys.

    Relative links resolve against ``url``. Raises ``FeedParseError`` with the
    parser's reason when the body holds no feed at all; a feed with minor
    faults (feedparser's *bozo* flag) still yields its entries.
    """
    if body.lstrip()[:1] == b"{":  # feedparser 6 reads XML feeds only
        return _parse_json_feed(body, url, feed_id)
    response_headers = {"content-location": url, **(headers or {})}
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except Exception as exc:  # feedparser should not raise, but hostile input finds ways
        raise FeedParseError(f"feed parser failed: {type(exc).__name__}: {exc}", url=url) from exc
    feed = parsed.get("feed") or {}
    if not parsed.get("entries") and not parsed.get("version") and not feed.get("title"):
        reason = parsed.get("bozo_exception") or "no RSS, Atom or JSON feed found"
        raise FeedParseError(f"not a feed: {reason}", url=url)
    entries = [
        _entry(
            feed_id,
            item.get("id"),
            item.get("link"),
            item.get("title"),
            # dict.get skips feedparser's deprecated updated->published key mapping
            _when(dict.get(item, "published_parsed")) or _when(dict.get(item, "updated_parsed")),
            item.get("summary"),
            _entry_text(item),
            item.get("authors") or [],
        )
        for item in parsed.get("entries") or []
    ]
    ttl = str(feed.get("ttl") or "").strip()
    return ParsedFeed(
        title=str(feed.get("title") or "").strip(),
        entries=_unique(entries),
        ttl_seconds=int(ttl) * 60 if ttl.isdigit() else None,
    )


def _json_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_json_feed(body: bytes, url: str, feed_id: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"not a feed: invalid JSON: {exc}", url=url) from exc
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")):
        raise FeedParseError("not a feed: JSON without a JSON Feed version", url=url)
    entries = [
        _entry(
            feed_id,
            item.get("id"),
            urljoin(url, str(link))
            if (link := item.get("url") or item.get("external_url"))
            else "",
            item.get("title"),
            _json_date(item.get("date_published")) or _json_date(item.get("date_modified")),
            item.get("summary"),
            item.get("content_html") or item.get("content_text"),
            item.get("authors") or ([item["author"]] if item.get("author") else []),
        )
        for item in data.get("items") or []
        if isinstance(item, dict)
    ]
    return ParsedFeed(title=str(data.get("title") or "").strip(), entries=_unique(entries))


# Schedule rules (pure) ---------------------------------------------------------


def _clamp(value: float, policy: PollPolicy) -> int:
    return int(min(max(value, policy.min_interval), policy.max_interval))


def rate_interval(dates: list[datetime], policy: PollPolicy) -> int:
    """Interval from the feed's observed item rate: half the mean gap between its
    newest items, within the configured bounds (default when dates are missing)."""
    stamps = sorted((d for d in dates if d is not None), reverse=True)[:20]
    if len(stamps) < 2:
        return _clamp(policy.default_interval, policy)
    span = (stamps[0] - stamps[-1]).total_seconds()
    return _clamp(span / (len(stamps) - 1) / 2, policy)


def _server_floor(headers: dict[str, str], ttl_seconds: int | None) -> int:
    floor = ttl_seconds or 0
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        floor = max(floor, int(match.group(1)))
    return floor


def next_state_ok(
    state: FeedState,
    *,
    now: datetime,
    policy: PollPolicy,
    status: int,
    headers: dict[str, str],
    parsed: ParsedFeed | None,
    new_url: str | None,
    rng: random.Random,
) -> FeedState:
    """State after a successful answer (200 with a feed, or 304)."""
    if parsed is None:  # 304 Not Modified
        interval = _clamp(state.interval * 1.25, policy)
        streak = state.not_modified_streak + 1
    else:
        interval = rate_interval([e.published_at for e in parsed.entries if e.published_at], policy)
        streak = 0
    interval = min(
        max(interval, _server_floor(headers, parsed.ttl_seconds if parsed else None)),
        policy.max_interval,
    )
    # A little jitter keeps many feeds of one host from synchronising.
    delay = interval * rng.uniform(0.9, 1.1)
    return state.model_copy(
        update={
            "url": new_url or state.url,
            "title": (parsed.title if parsed and parsed.title else state.title),
            "etag": headers.get("etag", state.etag if parsed is None else None),
            "last_modified": headers.get(
                "last-modified", state.last_modified if parsed is None else None
            ),
            "interval": interval,
            "next_check_at": now + timedelta(seconds=delay),
            "last_checked_at": now,
            "last_status": status,
            "error_count": 0,
            "last_error": None,
            "not_modified_streak": streak,
        }
    )


def next_state_error(
    state: FeedState, error: NewswireError, *, now: datetime, policy: PollPolicy, rng: random.Random
) -> FeedState:
    """State after a failed poll: exponential backoff with jitter, capped at the max
    interval; ``Retry-After`` is honoured; 410 Gone retires the feed."""
    status = getattr(error, "status", None)
    errors = state.error_count + 1
    backoff = min(policy.backoff_base * 2 ** min(errors - 1, 20), policy.max_interval)
    delay = backoff * rng.uniform(0.5, 1.0)
    retry_after = error.retry_after if isinstance(error, TransientError) else None
    if retry_after:
        delay = max(delay, min(retry_after, policy.max_interval))
    retired = isinstance(error, ClientError) and error.status == 410
    return state.model_copy(
        update={
            "next_check_at": now + timedelta(seconds=delay),
            "last_checked_at": now,
            "last_status": status,
            "error_count": errors,
            "last_error": error.reason,
            "retired": retired,
        }
    )


# The I/O step -----------------------------------------------------------------


def conditional_headers(state: FeedState) -> dict[str, str]:
    """Validators for a conditional GET, dropped when 304s have become suspicious."""
    if state.not_modified_streak >= DISTRUST_304_AFTER:
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def poll(
    state: FeedState,
    fetcher: Fetcher,
    policy: PollPolicy,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> PollResult:
    """Fetch and parse one feed, scheduling its next check within ``policy``.

    Never raises ``NewswireError``: failures come back in ``PollResult.error`` with
    the state already moved to its next retry (``steps.refresh_feed`` does the same
    for any other exception)."""
    now = now or datetime.now(UTC)
    rng = rng or random.Random()
    try:
        resp = fetcher.get(
            state.url,
            headers={
                "Accept": "application/rss+xml, application/atom+xml, application/feed+json,"
                " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
                **conditional_headers(state),
            },
            check_robots=False,  # feeds are meant for machines
        )
        parsed = (
            None
            if resp.status == 304
            else parse_feed(resp.content, resp.final_url, state.feed_id, dict(resp.headers))
        )
    except NewswireError as exc:
        log.warning("poll failed feed_id=%s url=%s: %s", state.feed_id, state.url, exc.reason)
        return PollResult(next_state_error(state, exc, now=now, policy=policy, rng=rng), [], exc)
    if resp.permanent_url and resp.permanent_url != state.url:
        log.info("feed moved feed_id=%s %s -> %s", state.feed_id, state.url, resp.permanent_url)
    new_state = next_state_ok(
        state,
        now=now,
        policy=policy,
        status=resp.status,
        headers=dict(resp.headers),
        parsed=parsed,
        new_url=resp.permanent_url,
        rng=rng,
    )
    entries = parsed.entries if parsed else []
    log.info(
        "polled feed_id=%s url=%s status=%d entries=%d next_in=%ds",
        state.feed_id,
        state.url,
        resp.status,
        len(entries),
        (new_state.next_check_at - now).total_seconds(),
    )
    return PollResult(new_state, entries)


def pick_due(states: Sequence[FeedState], per_host: int) -> list[FeedState]:
    """The due feeds to poll now: most overdue first, at most ``per_host`` of any one
    host (the rest wait for the next scheduler tick, so one site with many feeds
    cannot take every slot)."""
    taken: dict[str, int] = {}
    picked = []
    for state in sorted(states, key=lambda s: s.next_check_at):
        host = host_of(state.url) or state.url
        if taken.get(host, 0) < per_host:
            taken[host] = taken.get(host, 0) + 1
            picked.append(state)
    return picked
