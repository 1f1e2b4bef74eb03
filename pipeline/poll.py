"""Poll a feed: conditional GET, parse, and decide when to look again.

``parse_feed`` is pure (bytes in, entries out); ``next_state_*`` are pure schedule
rules bounded by a ``PollPolicy``; ``poll`` ties them to the polite client and returns
the new feed state with every entry the feed lists (the caller filters the ones it
has seen).
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import random
import re
from calendar import timegm
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser
from pydantic import ValidationError

from pipeline.errors import ClientError, FeedParseError, NewswireError, TransientError
from pipeline.fetch import Fetcher
from pipeline.models import MAX_AUTHORS, MAX_FEED_TEXT, MAX_TITLE, FeedEntry, FeedState
from pipeline.policies import PollPolicy
from pipeline.urls import entry_key, host_of

log = logging.getLogger(__name__)

# After this many 304s in a row, ask once without validators: some servers
# answer 304 while the feed has changed.
DISTRUST_304_AFTER = 8
MAX_ITEMS = 1000  # per feed and poll; real feeds list tens, a hostile one millions
_LOGGED_SKIPS = 10  # skipped items logged one by one per feed, then counted
_TTL = re.compile(r"[0-9]{1,7}")  # minutes; ASCII digits only ("²".isdigit() is True)
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


def _text(value: Any) -> str:
    """A feed's text field: strings (and numbers) as they are; objects, lists and
    nulls, which no feed format allows there, as absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _entry(
    feed_id: str,
    guid: Any,
    link: str,
    title: Any,
    published: datetime | None,
    summary: Any,
    content: Any,
    authors: Any,
) -> FeedEntry:
    """One entry from a parser's raw fields, keyed; the model validates and caps the
    rest. Raises ``ValueError`` (pydantic's ``ValidationError``) for an item that is
    not usable: no link, or a link that is not a valid http(s) URL."""
    link_s, title_s = link.strip(), _text(title).strip()
    key = entry_key(
        _text(guid) or None,
        link_s or None,
        title_s,
        published.isoformat() if published else None,
    )
    names = [
        _text(a.get("name"))
        for a in (authors if isinstance(authors, list) else [])[:MAX_AUTHORS]
        if isinstance(a, dict)
    ]
    return FeedEntry(
        key=key,
        feed_id=feed_id,
        url=link_s,
        title=title_s,
        summary=_text(summary)[:MAX_FEED_TEXT],
        content=_text(content)[:MAX_FEED_TEXT],
        published_at=published,
        authors=names,
    )


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _entries(
    feed_id: str, items: Iterable[Any], build: Callable[[Any], FeedEntry]
) -> list[FeedEntry]:
    """Entries of the first ``MAX_ITEMS`` items, first of each key; an item that cannot
    be built is skipped and logged, and never costs the feed its other items."""
    entries, skipped = [], 0
    for n, item in enumerate(itertools.islice(items, MAX_ITEMS)):
        try:
            entries.append(build(item))
        except Exception as exc:  # hostile items find every way to fail; one must not stop the feed
            skipped += 1
            if skipped <= _LOGGED_SKIPS:
                log.warning("skipped feed item feed_id=%s item=%d: %s", feed_id, n, _why(exc))
    if skipped > _LOGGED_SKIPS:
        log.warning("skipped %d feed items in all feed_id=%s", skipped, feed_id)
    return _unique(entries)


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
    parser's reason when the body holds no feed at all, and nothing else whatever the
    body holds; a feed with minor faults (feedparser's *bozo* flag) still yields its
    entries, and an item that is not usable (see ``_entry``) is skipped and logged.
    """
    try:
        if body.lstrip()[:1] == b"{":  # feedparser 6 reads XML feeds only
            return _parse_json_feed(body, url, feed_id)
        return _parse_xml_feed(body, url, feed_id, headers)
    except FeedParseError:
        raise
    except Exception as exc:  # a parser bug that hostile input found: still one feed's problem
        log.warning("feed parse failed feed_id=%s url=%s", feed_id, url, exc_info=True)
        raise FeedParseError(f"feed parser failed: {_why(exc)}", url=url) from exc


# The start of an RSS item or an Atom entry (also with a namespace prefix, "<atom:entry").
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]", re.IGNORECASE)


def _first_items(body: bytes) -> bytes:
    """``body`` cut before its item number ``MAX_ITEMS + 1``: feedparser reads the whole
    document before it gives the first entry (a 5 MB feed of 100,000 items held a poll
    worker 31.6 s; cut, 0.7 s), and only the first ``MAX_ITEMS`` are kept. The cut feed
    is read by feedparser's lenient parser, as any feed that breaks off."""
    for n, match in enumerate(_ITEM_START.finditer(body)):
        if n == MAX_ITEMS:
            return body[: match.start()]
    return body


def _parse_xml_feed(
    body: bytes, url: str, feed_id: str, headers: dict[str, str] | None
) -> ParsedFeed:
    response_headers = {"content-location": url, **(headers or {})}
    parsed = feedparser.parse(io.BytesIO(_first_items(body)), response_headers=response_headers)
    feed = parsed.get("feed") or {}
    if not parsed.get("entries") and not parsed.get("version") and not feed.get("title"):
        reason = parsed.get("bozo_exception") or "no RSS, Atom or JSON feed found"
        raise FeedParseError(f"not a feed: {reason}", url=url)
    entries = _entries(
        feed_id,
        parsed.get("entries") or [],
        lambda item: _entry(
            feed_id,
            item.get("id"),
            item.get("link") if isinstance(item.get("link"), str) else "",
            item.get("title"),
            # dict.get skips feedparser's deprecated updated->published key mapping
            _when(dict.get(item, "published_parsed")) or _when(dict.get(item, "updated_parsed")),
            item.get("summary"),
            _entry_text(item),
            item.get("authors"),
        ),
    )
    ttl = _TTL.fullmatch(_text(feed.get("ttl")).strip())
    return ParsedFeed(
        title=_text(feed.get("title")).strip()[:MAX_TITLE],
        entries=entries,
        ttl_seconds=int(ttl.group()) * 60 if ttl else None,
    )


def _json_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_item(feed_id: str, url: str, item: Any) -> FeedEntry:
    if not isinstance(item, dict):
        raise ValueError(f"item is a JSON {type(item).__name__}, not an object")
    link = next((v for k in ("url", "external_url") if isinstance(v := item.get(k), str) and v), "")
    author = item.get("author")
    return _entry(
        feed_id,
        item.get("id"),
        urljoin(url, link) if link else "",
        item.get("title"),
        _json_date(item.get("date_published")) or _json_date(item.get("date_modified")),
        item.get("summary"),
        _text(item.get("content_html")) or _text(item.get("content_text")),
        item.get("authors") or ([author] if isinstance(author, dict) else []),
    )


def _parse_json_feed(body: bytes, url: str, feed_id: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise FeedParseError(f"not a feed: invalid JSON: {_why(exc)}", url=url) from exc
    if not isinstance(data, dict) or "jsonfeed.org" not in _text(data.get("version")):
        raise FeedParseError("not a feed: JSON without a JSON Feed version", url=url)
    items = data.get("items")
    entries = _entries(
        feed_id,
        items if isinstance(items, list) else [],
        lambda item: _json_item(feed_id, url, item),
    )
    return ParsedFeed(title=_text(data.get("title")).strip()[:MAX_TITLE], entries=entries)


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
