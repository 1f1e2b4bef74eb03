"""Saved searches over HTTP: ``POST /watch`` and ``DELETE /watch/{id}`` (API key),
``GET /watch``, ``GET /watch/{id}`` (JSON, or a page for a browser) and
``GET /watch/{id}.atom``, the Atom 1.0 feed of a watch's matches that any feed reader
can subscribe to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.params import Depends as DependsParam
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from pipeline.api.pages import is_web_url
from pipeline.api.resources import Resources
from pipeline.models import EntityType, StanceLabel
from pipeline.settings import Settings
from pipeline.watch_model import DeliveryState, Watch, WatchFilters, WatchMatch
from pipeline.watches import new_watch, remove_watch, save_watch

ATOM = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml"
# characters XML 1.0 cannot carry at all (a hostile feed's title may hold them)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
WatchId = Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class NewWatch(BaseModel):
    """A search to save: words and the search's filters, and where to POST matches."""

    query: str = Field("", max_length=500)
    entity: str | None = Field(None, max_length=200)
    type: EntityType | None = None
    speaker: str | None = Field(None, max_length=200)
    stance: StanceLabel | None = None
    target: str | None = Field(None, max_length=200)
    source: str | None = Field(None, max_length=200)
    language: str | None = Field(None, max_length=10, pattern=r"^[A-Za-z-]+$")
    since: date | None = None
    until: date | None = None
    webhook: str | None = Field(None, max_length=2000, description="http(s) URL for POSTs.")


class WatchInfo(BaseModel):
    id: str
    query: str
    filters: WatchFilters
    webhook: str | None = Field(
        description="Where matches are POSTed: its origin only (the full URL once, when added)."
    )
    created_at: datetime
    matches: dict[DeliveryState, int] = Field(default_factory=dict)


class NewWatchInfo(WatchInfo):
    secret: str = Field(description="Signs each webhook body (HMAC-SHA256); shown only now.")


class WatchDetail(WatchInfo):
    recent: list[WatchMatch]


def _day(value: date | None, end: bool = False) -> datetime | None:
    if value is None:
        return None
    return datetime.combine(value, datetime.max.time() if end else datetime.min.time(), UTC)


def webhook_origin(url: str | None) -> str | None:
    """What reads show of a webhook: its scheme, host and port, the path cut to ``/…``.
    A webhook's path is often its credential (a chat service's incoming-hook token) and
    reads may be open to anyone, so only the key holder who added it sees it whole."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(hidden)"
    if ":" in host:
        host = f"[{host}]"
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else "/"
    return f"{parts.scheme}://{host}{port}{rest}"


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def atom_feed(watch: Watch, matches: Sequence[WatchMatch]) -> bytes:
    """The Atom 1.0 document of a watch's matches (newest first): a feed id, title and
    updated time, and per story an entry with its id, title, link, updated time and
    summary. Text is escaped by the XML writer; characters XML cannot hold are dropped;
    only an http(s) URL with a host becomes an entry's link."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = _clean(text)
        return el

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", f"urn:newswire:watch:{watch.id}")
    sub(feed, "title", f"Newswire watch: {watch.query or watch.id}")
    newest = matches[0].matched_at if matches else watch.created_at
    sub(feed, "updated", newest.astimezone(UTC).isoformat())
    author = sub(feed, "author")
    sub(author, "name", "Newswire")
    sub(feed, "link", rel="alternate", href=f"/watch/{watch.id}")
    for m in matches:
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:newswire:watch:{watch.id}:article:{m.article_id}")
        sub(entry, "title", m.title or m.url)
        if is_web_url(m.url):  # as on the pages: a script or file URL is never a link
            sub(entry, "link", rel="alternate", href=_clean(m.url))
        sub(entry, "updated", m.matched_at.astimezone(UTC).isoformat())
        if m.published_at is not None:
            sub(entry, "published", m.published_at.astimezone(UTC).isoformat())
        sub(entry, "summary", m.summary or m.title)
        if m.source:
            sub(entry, "category", term=_clean(m.source))
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def router(
    res: Resources,
    settings: Settings,
    templates: Jinja2Templates,
    *,
    reads: Sequence[DependsParam],
    writes: Sequence[DependsParam],
) -> APIRouter:
    """The watch routes, with the app's read and write (API key) dependencies."""
    api = APIRouter(tags=["watches"])

    def info(watch: Watch, counts: dict[str, dict[DeliveryState, int]]) -> dict[str, Any]:
        return {
            **watch.model_dump(exclude={"secret"}),
            "webhook": webhook_origin(watch.webhook),
            "matches": counts.get(watch.id, {}),
        }

    def known(watch_id: str) -> Watch:
        watch = res.store.watch(watch_id)
        if watch is None:
            raise HTTPException(404, f"no watch {watch_id}")
        return watch

    @api.post(
        "/watch",
        response_model=NewWatchInfo,
        status_code=201,
        dependencies=list(writes),
        operation_id="add_watch",
    )
    def add_watch(body: NewWatch) -> dict[str, Any]:
        """Save a search (needs the API key); the answer holds the webhook's signing
        secret and its whole URL, which are never shown again."""
        filters = WatchFilters(
            **body.model_dump(exclude={"query", "webhook", "since", "until"}),
            since=_day(body.since),
            until=_day(body.until, end=True),
        )
        watch = new_watch(
            body.query, filters, body.webhook, allow_private=settings.allow_private_hosts
        )
        save_watch(res.store, watch)
        return {**info(watch, {}), "webhook": watch.webhook, "secret": watch.secret}

    @api.get("/watch", response_model=list[WatchInfo], dependencies=list(reads))
    def list_watches() -> list[dict[str, Any]]:
        """Saved searches with their matches by delivery state (dead letters included)."""
        counts = res.store.delivery_counts()
        return [info(w, counts) for w in res.store.watches()]

    # before /watch/{watch_id}, which would take "abc.atom" as an id
    @api.get(
        "/watch/{watch_id}.atom",
        response_class=Response,
        dependencies=list(reads),
        responses={200: {"content": {ATOM_TYPE: {}}}},
    )
    def watch_atom(watch_id: WatchId) -> Response:
        """The watch's matches as an Atom feed, newest first."""
        watch = known(watch_id)
        return Response(atom_feed(watch, res.store.matches(watch_id, 50)), media_type=ATOM_TYPE)

    @api.get(
        "/watch/{watch_id}",
        response_model=WatchDetail,
        dependencies=list(reads),
        responses={200: {"content": {"text/html": {}}}},
    )
    def get_watch(request: Request, watch_id: WatchId) -> Any:
        """A watch and its latest matches, newest first: JSON, or a page when the client
        asks for HTML (a browser)."""
        watch = known(watch_id)
        matches = res.store.matches(watch_id, 100)
        detail = {**info(watch, res.store.delivery_counts()), "recent": matches}
        if "text/html" in request.headers.get("accept", ""):
            return templates.TemplateResponse(request, "watch.html", {"w": detail})
        return detail

    @api.delete(
        "/watch/{watch_id}", status_code=204, dependencies=list(writes), operation_id="remove_watch"
    )
    def delete_watch(watch_id: WatchId) -> Response:
        """Forget a watch and its matches (needs the API key)."""
        if not remove_watch(res.store, res.index, watch_id):
            raise HTTPException(404, f"no watch {watch_id}")
        return Response(status_code=204)

    return api
