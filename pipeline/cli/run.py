"""The commands that run the pipeline: ``run`` (your feeds), ``demo`` (the bundled
demo sites, in a database of their own) and ``ingest`` (single articles)."""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.cli.analyze import read_article
from pipeline.cli.root import State, app, err, out
from pipeline.errors import InputError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.fetch import Fetcher
    from pipeline.runner import Runner, RunReport

# The demo's own database unless one is named: the demo lets fetches reach 127.0.0.1,
# which must never apply to feeds or entries the user put in their own database.
DEMO_DB = Path("newswire-demo.db")


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
def _runner(settings: Settings, fetcher: Fetcher | None = None) -> Iterator[Runner]:
    from pipeline.runner import Runner

    with _progress() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        runner = Runner(settings, fetcher=fetcher, progress=progress)
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
        out.print(f"  feed {escape(fid)}: [red]{escape(reason)}[/red]")


@app.command()
def run(
    once: Annotated[
        bool, typer.Option("--once", help="Poll every feed once, process, exit.")
    ] = False,
    feeds: Annotated[Path | None, typer.Option(help="Feeds YAML to add before running.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run report as JSON.")] = False,
) -> None:
    """Run the embedded pipeline over your feeds (config/feeds.yaml by default)."""
    settings = State.settings()
    with _runner(settings) as runner:
        path = feeds or settings.feeds_file
        if path.exists() or feeds is not None:
            added = runner.sync_feeds(path)
            if added:
                err.print(f"added {added} feeds from {escape(str(path))}")
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


def demo_settings() -> Settings:
    """The demo's settings: its own database unless ``--db``, ``NEWSWIRE_DB`` or the
    config file names one, no politeness delay. (Its fetcher, ``DemoServer.fetcher``,
    reaches 127.0.0.1 whatever ``allow_private_hosts`` says.)"""
    settings = State.settings()
    db = settings.db if "db" in settings.model_fields_set else DEMO_DB
    return State.settings(db=db, per_host_delay=0.0)


def _check_demo_only(runner: Runner) -> None:
    from pipeline.demo.server import FEED_PREFIX

    others = [
        f.state.feed_id
        for f in runner.store.feeds(include_removed=True)
        if not f.state.feed_id.startswith(FEED_PREFIX)
    ]
    if others:
        raise InputError(
            f"{runner.settings.db} holds feeds that are not the demo's ({len(others)}); "
            f"the demo fetches from 127.0.0.1, so it runs only in a database of its own: "
            f"newswire --db {DEMO_DB} demo"
        )


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the demo sites (0: any free port).")] = 0,
    serve: Annotated[
        bool, typer.Option(help="Keep serving the demo sites after ingesting.")
    ] = False,
) -> None:
    """Serve the bundled demo sites on 127.0.0.1 and ingest them into newswire-demo.db
    (or the database --db names, if it holds nothing but the demo)."""
    from pipeline.demo.server import DemoServer

    settings = demo_settings()
    with DemoServer(port) as server, _runner(settings, server.fetcher(settings)) as runner:
        _check_demo_only(runner)
        server.add_feeds(runner.store)
        _print_report(runner.run_once(), False)
        total = runner.index.count()
        out.print(f"\n[bold]{total}[/bold] stories in {escape(str(settings.db))}. Try:")
        prefix = (
            f"newswire --db {settings.db}" if settings.db != Path("newswire.db") else "newswire"
        )
        for example in (
            'search "harbor bridge"',
            'search --speaker "Marcus Hale" --stance against',
            'search --entity "Lars Eriksen" --json',
            "search --type ORG tariff",
            "serve",
        ):
            out.print(f"  {escape(prefix)} {escape(example)}")
        if serve:
            err.print(
                f"serving the demo sites at {server.base_url}/<outlet>/ (the stories link to "
                "www.<outlet>.example, names only the demo resolves); Ctrl-C to stop"
            )
            with suppress(KeyboardInterrupt):
                threading.Event().wait()


@app.command()
def ingest(
    targets: Annotated[list[str], typer.Argument(help="Article URLs or HTML/text files.")],
) -> None:
    """Fetch (or read), analyse and index single articles."""
    from pipeline import steps
    from pipeline.models import FeedEntry
    from pipeline.nlp import load_model
    from pipeline.store import PendingEntry
    from pipeline.urls import entry_key

    settings = State.settings()
    with _runner(settings) as runner:
        # The same steps as every driver: fetch (or read) and extract, analyse, write.
        pages: list[steps.Page] = []
        for target in targets:
            if re.match(r"https?://", target):
                entry = FeedEntry(
                    key=entry_key(None, target, "", None), feed_id="manual", url=target
                )
                item = PendingEntry(entry, attempts=0)
                fetched = steps.fetch_entry(
                    runner.store, item, runner.fetcher, runner.extract_policy
                )
                if fetched is None:
                    out.print(f"already indexed  {escape(target)}")
                    continue
                pages.append(steps.Page(fetched.extracted, fetched.url))
            else:
                path = Path(target)
                pages.append(steps.Page(read_article(path), path.resolve().as_uri()))
        if not pages:
            return
        nlp = load_model(settings.spacy_model)
        articles = steps.analyze_pages(
            nlp, runner.claims, pages, settings.nlp_batch_size, settings.analysis_steps
        )
        runner.index.upsert_many(articles)
        for a in articles:
            out.print(f"indexed {a.id}  {escape(a.title or a.url)}")
