"""``newswire feeds list|add|remove|status``: the feeds Newswire polls."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.root import State, feeds_app, out
from pipeline.errors import InputError
from pipeline.feedurl import check_feed_url


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Feeds being polled."""
    from pipeline.store import open_store

    store = open_store(State.settings())
    try:
        feeds = store.feeds()
    finally:
        store.close()
    if as_json:
        out.print_json(
            json.dumps([{"name": f.name, **f.state.model_dump(mode="json")} for f in feeds])
        )
        return
    for f in feeds:
        out.print(f"{escape(f.state.feed_id)}  {escape(f.name)}  {escape(f.state.url)}")


@feeds_app.command("add")
def feeds_add(
    url: str,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    interval: Annotated[
        int | None, typer.Option(min=1, help="Seconds between polls at first.")
    ] = None,
) -> None:
    """Add a feed (a removed one comes back with its history)."""
    from pipeline.store import open_store

    url = check_feed_url(url)
    settings = State.settings()
    store = open_store(settings)
    try:
        feed = store.add_feed(url, name, interval=interval or settings.poll_default_interval)
    finally:
        store.close()
    out.print(f"added {escape(feed.state.feed_id)}  {escape(feed.name)}")


@feeds_app.command("remove")
def feeds_remove(ref: Annotated[str, typer.Argument(help="Feed id, URL or name.")]) -> None:
    """Stop polling a feed (its stories stay searchable)."""
    from pipeline.store import open_store

    store = open_store(State.settings())
    try:
        removed = store.remove_feed(ref)
    finally:
        store.close()
    if not removed:
        raise InputError(f"no such feed: {ref}")
    out.print(f"removed {escape(ref)}")


@feeds_app.command("status")
def feeds_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Health of each feed: last answer, errors, next check, entries by outcome."""
    from pipeline.store import feed_health, open_store

    store = open_store(State.settings())
    try:
        rows = feed_health(store)
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("feed", "state", "last", "errors", "next check", "entries", "last error")
    for r in rows:
        colour = {"ok": "green", "failing": "red", "retired": "dim"}[r["state"]]
        table.add_row(
            escape(r["name"]),
            f"[{colour}]{r['state']}[/{colour}]",
            str(r["last_status"] or "-"),
            str(r["error_count"]),
            r["next_check_at"][:16].replace("T", " "),
            escape(" ".join(f"{k}:{v}" for k, v in sorted(r["entries"].items())) or "-"),
            escape(r["last_error"] or ""),
        )
    out.print(table)
