"""``newswire search``: the search contract on the command line, as text or JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.root import State, app, out
from pipeline.errors import InputError
from pipeline.index import FacetCount, SearchQuery, SearchResult, Sort, open_index


def parse_date(value: str | None, name: str) -> datetime | None:
    """``value`` as an aware datetime (UTC when it names no zone); ``InputError`` naming
    the option ``--name`` when it is not an ISO date."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"--{name}: expected a date like 2026-10-31, got {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# The search contract's words and filters as options, shared by `search` and `watch add`.
Words = Annotated[str, typer.Argument(help='Words, "phrases", OR, -exclude.')]
EntityOpt = Annotated[str | None, typer.Option(help="Only stories naming this entity.")]
TypeOpt = Annotated[
    str | None, typer.Option("--type", help="Only stories with an entity of this type.")
]
SpeakerOpt = Annotated[str | None, typer.Option(help="Only stories quoting this speaker.")]
StanceOpt = Annotated[
    str | None, typer.Option(help="favor, against or neutral (with --speaker: held by them).")
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        help="Only stories with a favor/against stance on this target (a name or an"
        " issue; its words inside the target, any case); with --stance and --speaker,"
        " one stance."
    ),
]
SourceOpt = Annotated[str | None, typer.Option(help="Only stories from this domain.")]
LanguageOpt = Annotated[str | None, typer.Option(help="Only stories in this language (en).")]
SinceOpt = Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")]
UntilOpt = Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")]


def check_stance(stance: str | None) -> None:
    """``InputError`` unless ``stance`` is None, favor, against or neutral (any case)."""
    if stance is not None and stance.lower() not in ("favor", "against", "neutral"):
        raise InputError(f"--stance: expected favor, against or neutral, got {stance!r}")


@app.command()
def search(
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
    sort: Annotated[
        Sort, typer.Option(help="relevance (date when no words) or date.")
    ] = "relevance",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    expand: Annotated[
        bool,
        typer.Option(
            "--expand", help="Every story, not one per same-event cluster (with how many more)."
        ),
    ] = False,
    facet_count: Annotated[
        FacetCount | None,
        typer.Option(help="Facets count clusters or stories (default: clusters unless --expand)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits and facets as JSON.")] = False,
) -> None:
    """Search indexed stories."""
    check_stance(stance)
    query_ = SearchQuery(
        text=query,
        entity=entity,
        type=type,
        speaker=speaker,
        stance=stance,
        target=target or None,
        source=source,
        language=language,
        since=parse_date(since, "since"),
        until=parse_date(until, "until"),
        sort=sort,
        limit=limit,
        offset=offset,
        cursor=cursor,
        collapse=not expand,
        facet_count=facet_count,
    )
    index = open_index(State.settings())
    try:
        result = index.search(query_)
    finally:
        index.close()
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        print_result(result, offset)


def marked(snippet: str) -> str:
    """A snippet as rich markup: its ``<mark>`` highlights in bold yellow, everything
    else escaped (the text comes from pages we do not control)."""
    return (
        escape(snippet)
        .replace("&lt;mark&gt;", "")
        .replace("<mark>", "[bold yellow]")
        .replace("</mark>", "[/bold yellow]")
    )


def _counts(values: list[tuple[str, int]]) -> str:
    return ", ".join(f"{escape(value)} ({count})" for value, count in values)


def print_result(result: SearchResult, offset: int) -> None:
    """Hits, facets and the next cursor as text; every value from the index escaped."""
    copies = f" ({result.stories} with copies)" if result.stories > result.total else ""
    out.print(f"[bold]{result.total}[/bold] stories{copies}")
    for n, hit in enumerate(result.hits, offset + 1):
        date = hit.published_at.strftime("%Y-%m-%d") if hit.published_at else "undated"
        out.print(
            f"\n{n}. [bold]{escape(hit.title)}[/bold]  [dim]{escape(hit.source)} · {date}[/dim]"
        )
        out.print(f"   {marked(hit.snippet)}")
        if hit.cluster and hit.cluster.more:
            sources = ", ".join(hit.cluster.sources[:3])
            others = len(hit.cluster.sources) - 3
            out.print(
                f"   [green]and {hit.cluster.more} more"
                + (f" from {escape(sources)}" if sources else "")
                + (f" and {others} other outlets" if others > 0 else "")
                + f"[/green] [dim](newswire cluster {escape(hit.cluster.id)})[/dim]"
            )
        people = [e.name for e in hit.entities if e.type in ("PERSON", "ORG")][:5]
        if people:
            out.print(f"   [dim]{escape(', '.join(people))}[/dim]")
        out.print(f"   [blue]{escape(hit.url)}[/blue]")
    f = result.facets
    if result.total:
        out.print()
        for etype, values in f.entities.items():
            out.print(
                f"[dim]{escape(etype)}:[/dim] " + _counts([(v.value, v.count) for v in values[:6]])
            )
        out.print("[dim]sources:[/dim] " + _counts([(v.value, v.count) for v in f.sources]))
        out.print("[dim]stances:[/dim] " + _counts([(v.value, v.count) for v in f.stances]))
        if f.targets:
            out.print(
                "[dim]targets:[/dim] "
                + _counts([(f"{v.value}: {v.stance}", v.count) for v in f.targets])
            )
        if f.dates:
            out.print(f"[dim]dates:[/dim] {escape(f.dates[0].value)} … {escape(f.dates[-1].value)}")
    if result.next_cursor:
        out.print(f"[dim]more: --cursor {escape(result.next_cursor)}[/dim]")


@app.command()
def cluster(
    cluster_id: Annotated[str, typer.Argument(help="A cluster id (from search).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the cluster as JSON.")] = False,
) -> None:
    """The stories of a same-event cluster: sources, times, headlines, copies."""
    # here, not at the top: the API package imports the web server, which search needs not
    from pipeline.api.clusters import cluster_view

    index = open_index(State.settings())
    try:
        found = cluster_view(index, cluster_id)
    finally:
        index.close()
    if found is None:
        raise InputError(f"no cluster {cluster_id}")
    if as_json:
        out.print_json(found.model_dump_json())
        return
    out.print(
        f"[bold]{found.size}[/bold] stories from {len(found.sources)} outlets,"
        f" {found.copies} copies of another story"
    )
    for s in found.stories:
        date = s.published_at.strftime("%Y-%m-%d %H:%M") if s.published_at else "undated"
        kind = f"copy of {s.duplicate_of}" if s.kind == "copy" else s.kind
        out.print(
            f"\n[bold]{escape(s.title)}[/bold]  [dim]{escape(s.source)} · {date}"
            f" · {escape(kind)}[/dim]"
        )
        out.print(f"   [blue]{escape(s.url)}[/blue]")
