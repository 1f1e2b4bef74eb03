"""The FastAPI application: JSON API, web pages, health and metrics."""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field, HttpUrl

from pipeline.analysis_version import current_version
from pipeline.api import pages, watches
from pipeline.api.clusters import Cluster, cluster_view
from pipeline.api.params import search_query
from pipeline.api.profile import EntityProfile, entity_profile
from pipeline.api.resources import Resources, Stats, reason
from pipeline.errors import InputError, NewswireError, TransientError
from pipeline.index import EntityName, Outdated, SearchQuery, SearchResult
from pipeline.models import Article
from pipeline.settings import Settings, load_settings, mask_url_credentials
from pipeline.store import EntryRecord, FeedStatus, feed_health

HERE = Path(__file__).parent


class NewFeed(BaseModel):
    url: HttpUrl
    name: str = Field("", max_length=200)
    interval: int | None = Field(
        None, ge=1, le=604_800, description="seconds before the first adaptive schedule"
    )


class Replayed(BaseModel):
    replayed: int


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    index: dict[str, Any]
    store: dict[str, Any]


def _unprocessable(param: str, message: str) -> HTTPException:
    return HTTPException(
        422, detail=[{"loc": ["query", param], "msg": message, "type": "value_error"}]
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application over the index and store the settings name (default: loaded from
    the environment; ``InputError`` with one line when they are wrong)."""
    settings = settings or load_settings()
    res = Resources(settings)
    registry = CollectorRegistry()
    requests = Counter(
        "newswire_http_requests",
        "HTTP requests by route and status.",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "newswire_http_request_seconds",
        "HTTP request latency by route.",
        ["route"],
        registry=registry,
    )
    registry.register(Stats(res))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        res.close()

    app = FastAPI(
        title="Newswire",
        version="0.1.0",
        summary="Search analysed news stories: entities, quotes and stances.",
        lifespan=lifespan,
        # Starlette's slash redirects build an absolute Location from the Host header,
        # which the client chooses; a wrong path is a 404 instead.
        redirect_slashes=False,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = pages.templates()

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        requests.labels(request.method, route, str(response.status_code)).inc()
        latency.labels(route).observe(time.perf_counter() - started)
        return response

    @app.middleware("http")
    async def drop_empty_fields(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """The search form submits its empty fields (``since=``); on the pages they mean
        "not set", as they would to a person."""
        if request.url.path == "/" and request.scope.get("query_string"):
            pairs = parse_qsl(
                request.scope["query_string"].decode("latin-1"), keep_blank_values=True
            )
            request.scope["query_string"] = urlencode([(k, v) for k, v in pairs if v]).encode(
                "latin-1"
            )
        return await call_next(request)

    @app.exception_handler(TransientError)
    async def unavailable(request: Request, exc: TransientError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(NewswireError)
    async def refused(request: Request, exc: NewswireError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=400)

    def require_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if settings.api_key is None:
            raise HTTPException(403, "changes through the API are off: set NEWSWIRE_API_KEY")
        # In constant time, on bytes: compare_digest refuses non-ASCII text (a 500).
        # Starlette decodes header bytes as latin-1, so encoding back gives the bytes
        # sent, and a UTF-8 key sent as UTF-8 matches.
        key = settings.api_key.get_secret_value().encode("utf-8")
        if x_api_key is None or not hmac.compare_digest(x_api_key.encode("latin-1"), key):
            raise HTTPException(
                401, "missing or wrong X-API-Key", headers={"WWW-Authenticate": "X-API-Key"}
            )

    def read_access(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if not settings.api_open_reads:
            require_key(x_api_key)

    def run_search(query: SearchQuery) -> SearchResult:
        try:
            return res.index.search(query)
        except InputError as exc:  # the one input a backend refuses: a forged cursor
            raise _unprocessable("cursor", exc.reason) from exc

    reads = [Depends(read_access)]
    writes = [Depends(require_key)]
    app.include_router(watches.router(res, settings, templates, reads=reads, writes=writes))

    # JSON API ------------------------------------------------------------------------

    @app.get("/api/search", response_model=SearchResult, dependencies=reads, tags=["search"])
    def api_search(query: Annotated[SearchQuery, Depends(search_query)]) -> SearchResult:
        """Stories matching words and filters, with snippets, facets and a cursor."""
        return run_search(query)

    @app.get(
        "/api/articles/{article_id}", response_model=Article, dependencies=reads, tags=["search"]
    )
    def api_article(article_id: Annotated[str, PathParam(max_length=100)]) -> Article:
        """One story as stored: text, entities, quotes, stances, claims."""
        article = res.index.get(article_id)
        if article is None:
            raise HTTPException(404, f"no article {article_id}")
        return article

    @app.get(
        "/api/clusters/{cluster_id}", response_model=Cluster, dependencies=reads, tags=["search"]
    )
    def api_cluster(cluster_id: Annotated[str, PathParam(max_length=100)]) -> Cluster:
        """A same-event cluster: its stories with sources and times, its headline variants,
        which stories are copies of another and which tell it differently."""
        found = cluster_view(res.index, cluster_id)
        if found is None:
            raise HTTPException(404, f"no cluster {cluster_id}")
        return found

    @app.get(
        "/api/entities", response_model=list[EntityName], dependencies=reads, tags=["entities"]
    )
    def api_entities(
        prefix: Annotated[str, Query(min_length=1, max_length=100)],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> list[EntityName]:
        """Entity names starting with a prefix (or with a word that does), most named first."""
        return res.index.entity_names(prefix, limit)

    @app.get(
        "/api/entities/{name}", response_model=EntityProfile, dependencies=reads, tags=["entities"]
    )
    def api_entity(name: Annotated[str, PathParam(min_length=1, max_length=200)]) -> EntityProfile:
        """Mentions over time, co-occurring entities, stances held and received, quotes."""
        profile = entity_profile(res.index, name)
        if profile is None:
            raise HTTPException(404, f"no story names {name}")
        return profile

    @app.get("/api/feeds", response_model=list[FeedStatus], dependencies=reads, tags=["feeds"])
    def api_feeds() -> list[dict[str, Any]]:
        """Health of each feed: state, last answer, errors, schedule, entries by outcome."""
        return feed_health(res.store)

    def one_feed(feed_id: str) -> dict[str, Any]:
        found = next((r for r in feed_health(res.store) if r["feed_id"] == feed_id), None)
        if found is None:
            raise HTTPException(404, f"no feed {feed_id}")
        return found

    # OpenAPI links: what a client (and the stateful fuzzer) may do with a new feed's id.
    by_id = {"feed_id": "$response.body#/feed_id"}
    feed_links = {
        "GetFeed": {"operationId": "get_feed", "parameters": by_id},
        "RemoveFeed": {"operationId": "remove_feed", "parameters": by_id},
    }

    @app.post(
        "/api/feeds",
        response_model=FeedStatus,
        status_code=201,
        dependencies=writes,
        tags=["feeds"],
        operation_id="add_feed",
        responses={201: {"links": feed_links}},
    )
    def api_add_feed(feed: NewFeed) -> dict[str, Any]:
        """Start polling a feed (needs the API key)."""
        added = res.store.add_feed(
            str(feed.url), feed.name, interval=feed.interval or settings.poll_default_interval
        )
        return one_feed(added.state.feed_id)

    @app.get(
        "/api/feeds/{feed_id}",
        response_model=FeedStatus,
        dependencies=reads,
        tags=["feeds"],
        operation_id="get_feed",
    )
    def api_feed(feed_id: Annotated[str, PathParam(max_length=200)]) -> dict[str, Any]:
        """Health of one active feed, as in the list."""
        return one_feed(feed_id)

    @app.delete(
        "/api/feeds/{feed_id}",
        status_code=204,
        dependencies=writes,
        tags=["feeds"],
        operation_id="remove_feed",
    )
    def api_remove_feed(feed_id: Annotated[str, PathParam(max_length=200)]) -> Response:
        """Stop polling a feed; its stories stay searchable (needs the API key)."""
        if not res.store.remove_feed(feed_id):
            raise HTTPException(404, f"no feed {feed_id}")
        return Response(status_code=204)

    @app.get(
        "/api/deadletters", response_model=list[EntryRecord], dependencies=reads, tags=["feeds"]
    )
    def api_dead_letters(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[EntryRecord]:
        """Articles whose transient failures outlasted every retry, newest first."""
        return res.store.records("dead", limit)

    @app.post(
        "/api/deadletters/replay", response_model=Replayed, dependencies=writes, tags=["feeds"]
    )
    def api_replay() -> Replayed:
        """Queue every dead letter again (needs the API key)."""
        return Replayed(replayed=res.store.replay_dead())

    @app.get(
        "/health",
        response_model=HealthReport,
        responses={503: {"model": HealthReport, "description": "A part does not answer."}},
        tags=["operations"],
    )
    def health(response: Response) -> HealthReport:
        """Whether the index and the store answer; 503, with the reason, when one does not."""
        # A probe reports every failure (a damaged file raises sqlite3 errors, a
        # network one redis or engine errors) as a reason: it must never be a 500.
        index: dict[str, Any] = {"ok": False, "backend": settings.backend}
        try:
            report = res.index.health()
            index = {"ok": report.ok, "backend": report.backend, **report.detail}
            version = current_version(settings.spacy_model, tuple(settings.analysis_steps))
            if report.ok and version is not None:  # stories for `newswire reanalyze`
                index["older_analysis"] = res.index.count_outdated(Outdated(version))
            if "error" in index:
                index["error"] = mask_url_credentials(str(index["error"]))
        except Exception as exc:
            index["error"] = reason(exc)
        store: dict[str, Any] = {"ok": False, "kind": settings.store}
        try:
            res.store.feeds()
            store["ok"] = True
        except Exception as exc:
            store["error"] = reason(exc)
        ok = bool(index["ok"] and store["ok"])
        response.status_code = 200 if ok else 503
        return HealthReport(status="ok" if ok else "degraded", index=index, store=store)

    @app.get("/metrics", response_class=Response, tags=["operations"])
    def metrics() -> Response:
        """Prometheus metrics: requests, latency, stories, feeds, dead letters."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # pages ---------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page_search(
        request: Request,
        query: Annotated[SearchQuery, Depends(search_query)],
        _: None = Depends(read_access),
    ) -> HTMLResponse:
        searched = any(
            [
                query.text,
                query.entity,
                query.type,
                query.speaker,
                query.stance,
                query.target,
                query.source,
                query.since,
                query.until,
            ]
        )
        params = {
            k: v for k, v in request.query_params.items() if k not in ("cursor", "offset") and v
        }
        try:
            result, problem, status = run_search(query), None, 200
        except HTTPException:  # a cursor not made by us (edited or truncated link)
            result, status = SearchResult(total=0, hits=[]), 400
            problem = "This page link is not valid: start again from the first page."
        return templates.TemplateResponse(
            request,
            "search.html",
            {
                "query": query,
                "searched": searched,
                "result": result,
                "problem": problem,
                "params": params,
                "timeline": _timeline(result),
                "stance_labels": ["favor", "against", "neutral"],
            },
            status_code=status,
        )

    @app.get("/entity/{name}", response_class=HTMLResponse, include_in_schema=False)
    def page_entity(request: Request, name: str, _: None = Depends(read_access)) -> HTMLResponse:
        profile = entity_profile(res.index, name)
        if profile is None:
            return templates.TemplateResponse(
                request, "missing.html", {"what": f"No story names {name}."}, status_code=404
            )
        timeline = pages.timeline([(v.value, v.count) for v in profile.mentions_over_time])
        return templates.TemplateResponse(
            request, "entity.html", {"p": profile, "timeline": timeline}
        )

    @app.get("/cluster/{cluster_id}", response_class=HTMLResponse, include_in_schema=False)
    def page_cluster(
        request: Request,
        cluster_id: Annotated[str, PathParam(max_length=100)],
        _: None = Depends(read_access),
    ) -> HTMLResponse:
        found = cluster_view(res.index, cluster_id)
        if found is None:
            return templates.TemplateResponse(
                request, "missing.html", {"what": f"No cluster {cluster_id}."}, status_code=404
            )
        return templates.TemplateResponse(request, "cluster.html", {"c": found})

    @app.get("/feeds", response_class=HTMLResponse, include_in_schema=False)
    def page_feeds(request: Request, _: None = Depends(read_access)) -> HTMLResponse:
        return templates.TemplateResponse(request, "feeds.html", {"feeds": feed_health(res.store)})

    return app


def _timeline(result: SearchResult) -> dict[str, Any]:
    return pages.timeline([(v.value, v.count) for v in result.facets.dates])
