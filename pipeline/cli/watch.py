"""``newswire watch add|list|show|remove|replay``: saved searches that alert."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.root import State, app, out
from pipeline.cli.search import (
    EntityOpt,
    LanguageOpt,
    SinceOpt,
    SourceOpt,
    SpeakerOpt,
    StanceOpt,
    TargetOpt,
    TypeOpt,
    UntilOpt,
    Words,
    check_stance,
    parse_date,
)
from pipeline.errors import InputError
from pipeline.watch_model import WatchFilters

watch_app = typer.Typer(
    help="Saved searches: every new story that matches goes to a webhook and a feed.",
    no_args_is_help=True,
)
app.add_typer(watch_app, name="watch")


@watch_app.command("add")
def watch_add(
    query: Words = "",
    entity: EntityOpt = None,
    type: TypeOpt = None,
    speaker: SpeakerOpt = None,
    stance: StanceOpt = None,
    target: TargetOpt = None,
    source: SourceOpt = None,
    language: LanguageOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    webhook: Annotated[
        str | None, typer.Option(help="POST each new match here (signed JSON).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Save a search; prints its id and, once only, the secret that signs its webhook."""
    from pipeline.store import open_store
    from pipeline.watches import new_watch, save_watch

    check_stance(stance)
    filters = WatchFilters(
        entity=entity,
        type=type,
        speaker=speaker,
        stance=stance.lower() if stance else None,
        target=target,
        source=source,
        language=language,
        since=parse_date(since, "since"),
        until=parse_date(until, "until"),
    )
    settings = State.settings()
    watch = new_watch(query, filters, webhook, allow_private=settings.allow_private_hosts)
    store = open_store(settings)
    try:
        save_watch(store, watch)
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps({**watch.public(), "secret": watch.secret}))
        return
    out.print(f"added watch {watch.id}")
    if watch.webhook:
        out.print(f"webhook secret (shown once): {watch.secret}")
        out.print("each POST carries X-Newswire-Signature: sha256=HMAC-SHA256(secret, body)")


@watch_app.command("list")
def watch_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Saved searches with their matches by delivery state (dead letters included)."""
    from pipeline.store import open_store

    store = open_store(State.settings())
    try:
        watches, counts = store.watches(), store.delivery_counts()
    finally:
        store.close()
    rows = [{**w.public(), "matches": counts.get(w.id, {})} for w in watches]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("id", "query", "filters", "webhook", "matches")
    for w in watches:
        filters = " ".join(f"{k}={v}" for k, v in w.filters.model_dump(mode="json").items() if v)
        table.add_row(
            w.id,
            escape(w.query or "-"),
            escape(filters or "-"),
            escape(w.webhook or "-"),
            " ".join(f"{k}:{v}" for k, v in sorted(counts.get(w.id, {}).items())) or "-",
        )
    out.print(table)


@watch_app.command("show")
def watch_show(
    watch_id: Annotated[str, typer.Argument(help="The watch's id.")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A watch and its latest matches, newest first, with their delivery state."""
    from pipeline.store import open_store

    store = open_store(State.settings())
    try:
        watch = store.watch(watch_id)
        matches = store.matches(watch_id, limit) if watch else []
    finally:
        store.close()
    if watch is None:
        raise InputError(f"no such watch: {watch_id}")
    if as_json:
        found = [m.model_dump(mode="json") for m in matches]
        out.print_json(json.dumps({**watch.public(), "matches": found}))
        return
    hook = escape(watch.webhook or "-")
    out.print(f"watch {watch.id}: {escape(watch.query or '-')}  webhook: {hook}")
    for m in matches:
        error = f"  ({escape(m.last_error)})" if m.last_error else ""
        out.print(f"{m.matched_at:%Y-%m-%d %H:%M}  {m.state:<9}  {escape(m.title)}{error}")


@watch_app.command("remove")
def watch_remove(watch_id: Annotated[str, typer.Argument(help="The watch's id.")]) -> None:
    """Forget a watch and its matches."""
    from pipeline.index import open_index
    from pipeline.store import open_store
    from pipeline.watches import remove_watch

    settings = State.settings()
    store, index = open_store(settings), open_index(settings)
    try:
        removed = remove_watch(store, index, watch_id)
    finally:
        store.close()
        index.close()
    if not removed:
        raise InputError(f"no such watch: {watch_id}")
    out.print(f"removed watch {watch_id}")


@watch_app.command("replay")
def watch_replay(
    watch_id: Annotated[str | None, typer.Argument(help="One watch (default: all).")] = None,
) -> None:
    """Deliver the dead letters of webhooks again (their attempts start over)."""
    from pipeline.store import open_store

    store = open_store(State.settings())
    try:
        n = store.replay_deliveries(watch_id)
    finally:
        store.close()
    out.print(f"replayed {n} deliveries")
