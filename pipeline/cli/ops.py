"""Operating Newswire: ``status``, ``deadletters list|replay``, ``reindex``, ``serve``."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from pipeline.cli.root import State, app, deadletters_app, out
from pipeline.errors import TransientError
from pipeline.index import open_index
from pipeline.queues import QUEUES
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8000,
) -> None:
    """The HTTP API (OpenAPI at /docs) and the web page, over the configured index."""
    import uvicorn

    from pipeline.api import create_app

    level = ["warning", "info", "debug"][min(State.verbose, 2)]
    uvicorn.run(create_app(State.settings()), host=host, port=port, log_level=level)


@app.command()
def reindex() -> None:
    """Rebuild the search index from the stored documents (a new version behind the
    alias on Elasticsearch/OpenSearch, swapped atomically; searches keep working)."""
    index = open_index(State.settings())
    try:
        old, new, count = index.reindex()
    finally:
        index.close()
    out.print(f"reindexed {count} articles: {escape(old)} -> {escape(new)}")


def status_report() -> dict[str, Any]:
    """Feeds, feeds due and failing, dead letters; with the Redis store also queue
    depths, the index backlog and live workers."""
    from pipeline.store import feed_health, open_store

    settings = State.settings()
    store = open_store(settings)
    try:
        rows = feed_health(store)
        report: dict[str, Any] = {
            "store": settings.store,
            "feeds": len(rows),
            "feeds_due": len(store.due_feeds(datetime.now(UTC))),
            "feeds_failing": [
                {"feed_id": r["feed_id"], "name": r["name"], "last_error": r["last_error"]}
                for r in rows
                if r["state"] == "failing"
            ],
            "dead_letters": sum(r["entries"].get("dead", 0) for r in rows),
        }
        # webhook deliveries of saved searches that gave up (`watch replay` sends them again)
        deliveries = store.delivery_counts().values()
        report["webhook_dead_letters"] = sum(c.get("dead", 0) for c in deliveries)
        if settings.store == "redis":
            from pipeline.store.redis import RedisStore

            assert isinstance(store, RedisStore)
            report["queues"] = store.queue_depths(QUEUES)
            report["index_backlog"] = store.index_backlog()
            report["workers"] = store.live_workers()
    finally:
        store.close()
    report.update(analysis_report(settings))
    return report


def analysis_report(settings: Settings) -> dict[str, Any]:
    """The current analysis version and how many stories an older one analysed; None
    for what is unknown (no spaCy model installed here, the index unreachable)."""
    from pipeline.analysis_version import current_version
    from pipeline.index import Outdated

    version = current_version(settings.spacy_model, tuple(settings.analysis_steps))
    if version is None:  # a machine that only operates: no model, no version
        return {"analysis_version": None, "older_analysis": None}
    index = open_index(settings)
    try:
        older: int | None = index.count_outdated(Outdated(version))
    except TransientError as exc:
        log.warning("could not count outdated stories: %s", exc.reason)
        older = None
    finally:
        index.close()
    return {"analysis_version": version, "older_analysis": older}


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Queue depths, live workers, feeds due and failing, dead letters."""
    report = status_report()
    if as_json:
        out.print_json(json.dumps(report))
        return
    out.print(
        f"store {report['store']}: {report['feeds']} feeds, {report['feeds_due']} due, "
        f"{len(report['feeds_failing'])} failing, {report['dead_letters']} dead letters, "
        f"{report['webhook_dead_letters']} dead webhook deliveries"
    )
    version, older = report["analysis_version"], report["older_analysis"]
    if version is None:
        out.print("analysis: unknown here (no spaCy model installed)")
    else:
        out.print(
            f"analysis {escape(version)}: "
            + ("index unreachable" if older is None else f"{older} stories on an older version")
            + (" (newswire reanalyze)" if older else "")
        )
    for f in report["feeds_failing"]:
        out.print(f"  [red]failing[/red] {escape(f['name'])}: {escape(f['last_error'] or '')}")
    if "queues" in report:
        out.print(
            "queues: "
            + ", ".join(f"{q} {n}" for q, n in report["queues"].items())
            + f"; waiting for the index: {report['index_backlog']}"
        )
        workers = report["workers"]
        out.print(f"workers: {len(workers)} live")
        for name, info in sorted(workers.items()):
            queues = escape(",".join(info.get("queues", [])))
            out.print(f"  {escape(name)}  queues={queues} pid={escape(str(info.get('pid')))}")


@deadletters_app.command("list")
def deadletters_list(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Articles whose transient failures outlasted every retry."""
    from pipeline.store import open_store

    store = open_store(State.settings())
    try:
        records = store.records("dead", limit)
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps([r.__dict__ for r in records]))
        return
    if not records:
        out.print("no dead letters")
    for r in records:
        out.print(
            f"{escape(r.updated_at[:19])}  {escape(r.feed_id)}  {escape(r.url)}  "
            f"attempts={r.attempts}  [red]{escape(r.last_error or '')}[/red]"
        )


@deadletters_app.command("replay")
def deadletters_replay() -> None:
    """Queue every dead letter again (the embedded runner's next cycle, or the
    distributed scheduler's next tick, picks them up)."""
    from pipeline.store import open_store

    store = open_store(State.settings())
    try:
        n = store.replay_dead()
    finally:
        store.close()
    out.print(f"replaying {n} dead letters")
