"""The ``newswire`` command line. Every failure prints one line and exits non-zero."""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.errors import InputError, NewswireError
from pipeline.index import SearchQuery, SearchResult, Sort, open_index
from pipeline.settings import Backend, Settings

if TYPE_CHECKING:
    from pipeline.models import Extracted
    from pipeline.runner import Runner, RunReport

# Commands that analyse import spaCy and trafilatura when they run, so that
# `search` and `feeds` start in a fraction of a second.

app = typer.Typer(
    help="Newswire: feeds in, analysed and searchable stories out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
feeds_app = typer.Typer(help="Manage the feeds Newswire polls.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
eval_app = typer.Typer(
    help="Score the shipped models on public corpora (never trains).", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")
deadletters_app = typer.Typer(help="Articles that failed every retry.", no_args_is_help=True)
app.add_typer(deadletters_app, name="deadletters")
# soft_wrap: a reason stays on one line when output goes to a pipe or a file
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("pipeline.cli")


class _State:
    overrides: dict[str, Any] = {}  # noqa: RUF012 - one CLI invocation per process
    verbose: int = 0

    @classmethod
    def settings(cls, **extra: Any) -> Settings:
        return Settings(**{**cls.overrides, **extra})


@app.callback()
def _main(
    backend: Annotated[Backend | None, typer.Option(help="Search backend.")] = None,
    db: Annotated[Path | None, typer.Option(help="SQLite file for state and index.")] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")
    ] = 0,
) -> None:
    _State.overrides = {k: v for k, v in {"backend": backend, "db": db}.items() if v is not None}
    _State.verbose = verbose
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in (
        "httpx",
        "httpcore",
        "trafilatura",
        "htmldate",
        "courlan",
        "opensearch",
        "elastic_transport",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@contextmanager
def _runner(settings: Settings) -> Iterator[Runner]:
    from pipeline.runner import Runner

    with _progress() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        runner = Runner(settings, progress=progress)
        try:
            yield runner
        finally:
            runner.close()


def _print_report(report: RunReport, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(report.__dict__))
        return
    out.print(
        f"polled {report.feeds_polled} feeds, {report.new_entries} new entries, "
        f"indexed {report.indexed}, failed {report.failed}, retrying {report.retrying}, "
        f"dead {report.dead} in {report.seconds:.1f}s"
    )
    for fid, reason in report.feed_errors.items():
        out.print(f"  feed {fid}: [red]{escape(reason)}[/red]")


# run, demo, ingest, analyze ------------------------------------------------------


@app.command()
def run(
    once: Annotated[
        bool, typer.Option("--once", help="Poll every feed once, process, exit.")
    ] = False,
    feeds: Annotated[Path | None, typer.Option(help="Feeds YAML to add before running.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run report as JSON.")] = False,
) -> None:
    """Run the embedded pipeline over your feeds (config/feeds.yaml by default)."""
    settings = _State.settings()
    with _runner(settings) as runner:
        path = feeds or settings.feeds_file
        if path.exists() or feeds is not None:
            added = runner.sync_feeds(path)
            if added:
                err.print(f"added {added} feeds from {path}")
        if not runner.store.feeds():
            raise InputError("no feeds: add some with `newswire feeds add URL` or --feeds FILE")
        if once:
            _print_report(runner.run_once(), as_json)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        err.print("running; Ctrl-C to stop")
        try:
            runner.run_forever(stop, lambda r: _print_report(r, as_json))
        except KeyboardInterrupt:
            stop.set()


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the demo sites (0: any free port).")] = 0,
    serve: Annotated[
        bool, typer.Option(help="Keep serving the demo sites after ingesting.")
    ] = False,
) -> None:
    """Serve the bundled demo sites on 127.0.0.1 and ingest them into the local index."""
    from pipeline.demo.server import DemoServer

    settings = _State.settings(allow_private_hosts=True, per_host_delay=0.0)
    with DemoServer(port) as server, _runner(settings) as runner:
        for slug, (title, url) in server.feed_urls().items():
            feed = runner.store.add_feed(url, title, interval=300, feed_id=f"demo-{slug}")
            runner.store.set_feed_url(feed.state.feed_id, url)  # the port may have changed
        demo_ids = {f"demo-{slug}" for slug in server.feed_urls()}
        states = [f.state for f in runner.store.feeds() if f.state.feed_id in demo_ids]
        started = time.monotonic()
        report = runner.poll_feeds(states)
        report.merge(runner.process_pending())
        report.seconds = time.monotonic() - started
        _print_report(report, False)
        total = runner.index.count()
        out.print(f"\n[bold]{total}[/bold] stories in {settings.db}. Try:")
        for example in (
            'newswire search "harbor bridge"',
            'newswire search --speaker "Marcus Hale" --stance against',
            'newswire search --entity "Lars Eriksen" --json',
            "newswire search --type ORG tariff",
        ):
            out.print(f"  {example}")
        if serve:
            err.print(f"serving demo sites at {server.base_url}; Ctrl-C to stop")
            with suppress(KeyboardInterrupt):
                threading.Event().wait()


@app.command()
def ingest(
    targets: Annotated[list[str], typer.Argument(help="Article URLs or HTML/text files.")],
) -> None:
    """Fetch (or read), analyse and index single articles."""
    from pipeline.analyze import analyze_batch, to_article
    from pipeline.extract import fetch_and_extract
    from pipeline.models import FeedEntry
    from pipeline.nlp import load_model
    from pipeline.urls import entry_key

    settings = _State.settings()
    with _runner(settings) as runner:
        items: list[tuple[Extracted, str]] = []
        for target in targets:
            if re.match(r"https?://", target):
                entry = FeedEntry(
                    key=entry_key(None, target, "", None), feed_id="manual", url=target
                )
                items.append(fetch_and_extract(entry, runner.fetcher))
            else:
                items.append((_read_file(Path(target)), Path(target).resolve().as_uri()))
        analyses = analyze_batch(
            load_model(settings.spacy_model), [x for x, _ in items], runner.claims
        )
        articles = [to_article(x, a, url=url) for (x, url), a in zip(items, analyses, strict=True)]
        runner.index.upsert_many(articles)
        for a in articles:
            out.print(f"indexed {a.id}  {escape(a.title or a.url)}")


def _read_file(path: Path) -> Extracted:
    from pipeline.extract import extract_html, from_text_file

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    if path.suffix.lower() in (".html", ".htm", ".xhtml"):
        extracted = extract_html(data)
        if extracted is None:
            raise InputError(f"{path}: no article text found in the HTML")
        return extracted
    return from_text_file(data.decode("utf-8", errors="replace"))


@app.command()
def analyze(
    file: Annotated[
        Path, typer.Argument(help="An article as HTML, or text with the title on line 1.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the contract JSON.")] = False,
) -> None:
    """Analyse one article: entities, quotes, stances. Nothing is stored."""
    from pipeline.analyze import analyze_batch, load_claims, to_article
    from pipeline.nlp import load_model

    settings = _State.settings()
    extracted = _read_file(file)
    analysis = analyze_batch(
        load_model(settings.spacy_model), [extracted], load_claims(settings.claims_file)
    )[0]
    article = to_article(extracted, analysis, url=file.resolve().as_uri())
    if as_json:
        out.print_json(article.model_dump_json())
        return
    out.print(f"[bold]{escape(article.title)}[/bold]")
    table = Table("entity", "type", "mentions", "salience", "aliases", title="Entities")
    for e in article.entities:
        table.add_row(
            escape(e.name),
            e.type,
            str(e.mentions),
            f"{e.salience:.2f}",
            escape(", ".join(e.aliases)),
        )
    out.print(table)
    for q in article.quotes:
        mark = "“”" if q.direct else "≈"
        out.print(f"[cyan]{escape(q.speaker)}[/cyan] {q.cue} {mark[0]}{escape(q.text)}{mark[-1]}")
    for s in article.stances:
        out.print(
            f"{escape(s.holder)} → {escape(s.target)}: [bold]{s.stance}[/bold] ({s.confidence:.2f})"
        )


# search -----------------------------------------------------------------------------


def _date(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"--{name}: expected a date like 2026-10-31, got {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words, "phrases", OR, -exclude.')] = "",
    entity: Annotated[str | None, typer.Option(help="Only stories naming this entity.")] = None,
    type: Annotated[
        str | None, typer.Option("--type", help="Only stories with an entity of this type.")
    ] = None,
    speaker: Annotated[str | None, typer.Option(help="Only stories quoting this speaker.")] = None,
    stance: Annotated[
        str | None, typer.Option(help="favor, against or neutral (with --speaker: held by them).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only stories from this domain.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Only stories in this language (en).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")] = None,
    sort: Annotated[
        Sort, typer.Option(help="relevance (date when no words) or date.")
    ] = "relevance",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits and facets as JSON.")] = False,
) -> None:
    """Search indexed stories."""
    if stance is not None and stance.lower() not in ("favor", "against", "neutral"):
        raise InputError(f"--stance: expected favor, against or neutral, got {stance!r}")
    settings = _State.settings()
    index = open_index(settings)
    try:
        result = index.search(
            SearchQuery(
                text=query,
                entity=entity,
                type=type,
                speaker=speaker,
                stance=stance,
                source=source,
                language=language,
                since=_date(since, "since"),
                until=_date(until, "until"),
                sort=sort,
                limit=limit,
                offset=offset,
                cursor=cursor,
            )
        )
    finally:
        index.close()
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        _print_result(result, offset)


def _marked(snippet: str) -> str:
    return (
        escape(snippet)
        .replace("&lt;mark&gt;", "")
        .replace("<mark>", "[bold yellow]")
        .replace("</mark>", "[/bold yellow]")
    )


def _print_result(result: SearchResult, offset: int) -> None:
    out.print(f"[bold]{result.total}[/bold] stories")
    for n, hit in enumerate(result.hits, offset + 1):
        date = hit.published_at.strftime("%Y-%m-%d") if hit.published_at else "undated"
        out.print(f"\n{n}. [bold]{escape(hit.title)}[/bold]  [dim]{hit.source} · {date}[/dim]")
        out.print(f"   {_marked(hit.snippet)}")
        people = [e.name for e in hit.entities if e.type in ("PERSON", "ORG")][:5]
        if people:
            out.print(f"   [dim]{escape(', '.join(people))}[/dim]")
        out.print(f"   [blue]{escape(hit.url)}[/blue]")
    f = result.facets
    if result.total:
        out.print()
        for etype, values in f.entities.items():
            out.print(
                f"[dim]{etype}:[/dim] "
                + ", ".join(f"{escape(v.value)} ({v.count})" for v in values[:6])
            )
        out.print("[dim]sources:[/dim] " + ", ".join(f"{v.value} ({v.count})" for v in f.sources))
        out.print("[dim]stances:[/dim] " + ", ".join(f"{v.value} ({v.count})" for v in f.stances))
        if f.dates:
            out.print(f"[dim]dates:[/dim] {f.dates[0].value} … {f.dates[-1].value}")
    if result.next_cursor:
        out.print(f"[dim]more: --cursor {result.next_cursor}[/dim]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8000,
) -> None:
    """The HTTP API (OpenAPI at /docs) and the web page, over the configured index."""
    import uvicorn

    from pipeline.api import create_app

    level = ["warning", "info", "debug"][min(_State.verbose, 2)]
    uvicorn.run(create_app(_State.settings()), host=host, port=port, log_level=level)


@app.command()
def reindex() -> None:
    """Rebuild the search index from the stored documents (a new version behind the
    alias on Elasticsearch/OpenSearch, swapped atomically; searches keep working)."""
    index = open_index(_State.settings())
    try:
        old, new, count = index.reindex()
    finally:
        index.close()
    out.print(f"reindexed {count} articles: {old} -> {new}")


# eval ------------------------------------------------------------------------------------

Predictions = Annotated[
    Path | None, typer.Option(help="Write raw predictions here, in the corpus's own format.")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the scores as one JSON object.")]


def _model() -> Any:
    from pipeline.nlp import load_model

    return load_model(_State.settings().spacy_model)


def _scores(scores: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(scores))
        return
    for key, value in scores.items():
        if isinstance(value, dict):
            out.print(f"{key}:")
            for k, v in value.items():
                out.print(f"  {k}: {v}")
        else:
            out.print(f"{key}: {value}")


@eval_app.command("ner")
def eval_ner(
    conll: Annotated[Path, typer.Option(help="CoNLL-2003 file, e.g. eng.testa.")],
    predictions: Predictions = None,
    as_json: JsonFlag = False,
) -> None:
    """Entity F1 on CoNLL-2003 (PERSON→PER, ORG, LOC, the rest→MISC)."""
    from pipeline import evaluation
    from pipeline.nlp import load_model

    _scores(
        evaluation.eval_ner(load_model(_State.settings().spacy_model), conll, predictions), as_json
    )


@eval_app.command("quotes")
def eval_quotes(
    polnear: Annotated[Path, typer.Option(help="PolNeAR folder (with dev/ and train/).")],
    split: Annotated[str, typer.Option(help="dev or train.")] = "dev",
    predictions: Predictions = None,
    as_json: JsonFlag = False,
) -> None:
    """Quote attribution P/R/F1 and source accuracy on PolNeAR."""
    from pipeline import evaluation

    _scores(evaluation.eval_quotes(_model(), polnear, split, predictions), as_json)


@eval_app.command("stance")
def eval_stance(
    bodies: Annotated[Path, typer.Option(help="FNC-1 bodies CSV.")],
    stances: Annotated[Path, typer.Option(help="FNC-1 stances CSV.")],
    holdout: Annotated[
        bool, typer.Option(help="Only the train bodies the shipped model was not trained on.")
    ] = False,
    predictions: Predictions = None,
    as_json: JsonFlag = False,
) -> None:
    """Claim stance on FNC-1, with the FNC-1 score."""
    from pipeline import evaluation

    _scores(evaluation.eval_stance(bodies, stances, predictions, holdout), as_json)


@eval_app.command("sentiment")
def eval_sentiment(
    newsmtsc: Annotated[Path, typer.Option(help="NewsMTSC JSONL, e.g. dev_rw.jsonl.")],
    predictions: Predictions = None,
    as_json: JsonFlag = False,
) -> None:
    """Target-dependent sentiment on NewsMTSC (macro F1)."""
    from pipeline import evaluation

    _scores(evaluation.eval_sentiment(newsmtsc, predictions), as_json)


@eval_app.command("extract")
def eval_extract(
    html_dir: Annotated[Path, typer.Option(help="Folder of <id>.html pages.")],
    ground_truth: Annotated[Path, typer.Option(help="ground-truth.json.")],
    predictions: Predictions = None,
    as_json: JsonFlag = False,
) -> None:
    """Main-text extraction F1 (word 4-gram shingles)."""
    from pipeline import evaluation

    _scores(evaluation.eval_extract(html_dir, ground_truth, predictions), as_json)


@eval_app.command("stances")
def eval_stances(
    gold: Annotated[Path, typer.Option(help="Stance annotations, e.g. stances/dev.json.")],
    texts: Annotated[Path, typer.Option(help="Folder of the annotated articles' text.")],
    predictions: Predictions = None,
    as_json: JsonFlag = False,
) -> None:
    """Holder → target stance P/R/F1 against reader annotations (their README's rule)."""
    from pipeline import evaluation_stances

    _scores(evaluation_stances.eval_stances(_model(), gold, texts, predictions), as_json)


# feeds ---------------------------------------------------------------------------------


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Feeds being polled."""
    from pipeline.store import open_store

    store = open_store(_State.settings())
    feeds = store.feeds()
    store.close()
    if as_json:
        out.print_json(
            json.dumps([{"name": f.name, **f.state.model_dump(mode="json")} for f in feeds])
        )
        return
    for f in feeds:
        out.print(f"{f.state.feed_id}  {escape(f.name)}  {f.state.url}")


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

    if not re.match(r"https?://", url):
        raise InputError(f"not an http(s) URL: {url}")
    settings = _State.settings()
    store = open_store(settings)
    feed = store.add_feed(url, name, interval=interval or settings.poll_default_interval)
    store.close()
    out.print(f"added {feed.state.feed_id}  {escape(feed.name)}")


@feeds_app.command("remove")
def feeds_remove(ref: Annotated[str, typer.Argument(help="Feed id, URL or name.")]) -> None:
    """Stop polling a feed (its stories stay searchable)."""
    from pipeline.store import open_store

    store = open_store(_State.settings())
    removed = store.remove_feed(ref)
    store.close()
    if not removed:
        raise InputError(f"no such feed: {ref}")
    out.print(f"removed {ref}")


@feeds_app.command("status")
def feeds_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Health of each feed: last answer, errors, next check, entries by outcome."""
    from pipeline.store import feed_health, open_store

    store = open_store(_State.settings())
    rows = feed_health(store)
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
            " ".join(f"{k}:{v}" for k, v in sorted(r["entries"].items())) or "-",
            escape(r["last_error"] or ""),
        )
    out.print(table)


# status, dead letters -------------------------------------------------------------------


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Queue depths, live workers, feeds due and failing, dead letters."""
    from pipeline.store import feed_health, open_store

    settings = _State.settings()
    store = open_store(settings)
    try:
        now = datetime.now(UTC)
        rows = feed_health(store)
        report: dict[str, Any] = {
            "store": settings.store,
            "feeds": len(rows),
            "feeds_due": len(store.due_feeds(now)),
            "feeds_failing": [
                {"feed_id": r["feed_id"], "name": r["name"], "last_error": r["last_error"]}
                for r in rows
                if r["state"] == "failing"
            ],
            "dead_letters": sum(r["entries"].get("dead", 0) for r in rows),
        }
        if settings.store == "redis":
            from pipeline.store.redis import RedisStore

            assert isinstance(store, RedisStore)
            report["queues"] = store.queue_depths(("poll", "fetch", "nlp", "index"))
            report["index_backlog"] = store.index_backlog()
            report["workers"] = store.live_workers()
    finally:
        store.close()
    if as_json:
        out.print_json(json.dumps(report))
        return
    out.print(
        f"store {report['store']}: {report['feeds']} feeds, {report['feeds_due']} due, "
        f"{len(report['feeds_failing'])} failing, {report['dead_letters']} dead letters"
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
            out.print(
                f"  {escape(name)}  queues={','.join(info.get('queues', []))} pid={info.get('pid')}"
            )


@deadletters_app.command("list")
def deadletters_list(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Articles whose transient failures outlasted every retry."""
    from pipeline.store import open_store

    store = open_store(_State.settings())
    records = store.records("dead", limit)
    store.close()
    if as_json:
        out.print_json(json.dumps([r.__dict__ for r in records]))
        return
    if not records:
        out.print("no dead letters")
    for r in records:
        out.print(
            f"{r.updated_at[:19]}  {r.feed_id}  {r.url}  attempts={r.attempts}  "
            f"[red]{escape(r.last_error or '')}[/red]"
        )


@deadletters_app.command("replay")
def deadletters_replay() -> None:
    """Queue every dead letter again (the embedded runner's next cycle, or the
    distributed scheduler's next tick, picks them up)."""
    from pipeline.store import open_store

    store = open_store(_State.settings())
    n = store.replay_dead()
    store.close()
    out.print(f"replaying {n} dead letters")


def main() -> None:
    """Entry point: run the app, turning every error into one line on stderr."""
    try:
        app(standalone_mode=False)
    except NewswireError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: the parser's own message
        exc.show()  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # the promise: one line, not a traceback (unless -v)
        if _State.verbose:
            raise
        err.print(
            f"[red]error:[/red] unexpected {type(exc).__name__}: {escape(str(exc))} (run with -v for details)"
        )
        sys.exit(1)
