"""``newswire reanalyze``: stored stories get the current models' analysis."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from pipeline.cli.root import State, app, err, out
from pipeline.errors import InputError

if TYPE_CHECKING:
    from pipeline.models import Article
    from pipeline.settings import Settings

# Distributed: batches handed to the workers at once, so that every worker has one.
_FAN_OUT = 8
_RESUME = "run `newswire reanalyze` again with the same options to continue where it stopped"


class ProgressReport:
    """Stories done out of ``total``, with the rate and the time left: a bar on a
    terminal, else a line every ``every`` stories (logs and pipes)."""

    def __init__(self, total: int, every: int = 100) -> None:
        self.total, self.every, self.done = total, every, 0
        self._started = time.monotonic()
        self._next_line = every
        self._bar: Progress | None = None
        if err.is_terminal:
            self._bar = Progress(
                TextColumn("reanalysing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=err,
            )
            self._task = self._bar.add_task("", total=total, rate="")
            self._bar.start()

    def rate(self) -> float:
        """Stories per second so far."""
        return self.done / max(time.monotonic() - self._started, 1e-9)

    def __call__(self, n: int) -> None:
        self.done += n
        rate = self.rate()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=f"{rate:.1f} stories/s")
        elif self.done >= self._next_line or self.done >= self.total:
            left = max(self.total - self.done, 0) / rate if rate else 0.0
            out.print(
                f"reanalysed {self.done}/{self.total} ({rate:.1f} stories/s, {left:.0f}s left)"
            )
            self._next_line = self.done + self.every

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _on_workers(
    settings: Settings, version: str, size: int, wait: float
) -> Callable[[list[Article]], list[Article]]:
    """``analyse`` by the nlp workers; ``InputError`` when none is alive."""
    from pipeline.reanalyze import on_workers
    from pipeline.store.redis import RedisStore, connect
    from pipeline.store.redis.reanalysis import RedisReanalysis

    store = RedisStore.from_settings(settings)
    try:
        workers = store.live_workers()
    finally:
        store.close()
    if not any("nlp" in w.get("queues", []) for w in workers.values()):
        raise InputError("no live worker consumes the nlp queue (or run with --local)")
    handoff = RedisReanalysis(connect(settings.state_redis_url))
    handoff.start_run(version)
    return on_workers(handoff, size, wait, version)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # a kill stops like Ctrl-C: the message says how to resume


@app.command()
def reanalyze(
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
            help="Only stories published (else fetched) on or after this date (UTC).",
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only stories of this site (and its subdomains).")
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(min=1, help="Stories per analysis batch (default: nlp_batch_size)."),
    ] = None,
    every: Annotated[
        int, typer.Option(min=1, help="A progress line every N stories (no TTY).")
    ] = 100,
    local: Annotated[
        bool, typer.Option("--local", help="Analyse here even in the distributed mode.")
    ] = False,
    wait: Annotated[
        float, typer.Option(min=1, help="Distributed: seconds to wait for a batch.")
    ] = 600.0,
) -> None:
    """Re-run the analysis with the current models on the stored stories that older ones
    analysed. Searches keep working throughout (a new index version behind the alias on
    Elasticsearch/OpenSearch, a transaction per batch on SQLite); a killed run resumes.
    In the distributed mode (the Redis store) the nlp workers analyse, as tasks on the
    nlp queue, unless ``--local``."""
    from pipeline.analysis_version import analysis_version, model_meta
    from pipeline.analyze import load_claims
    from pipeline.index import Outdated, open_index
    from pipeline.nlp import load_model
    from pipeline.reanalyze import reanalyze as run
    from pipeline.reanalyze import revise_articles

    settings = State.settings()
    size = batch or settings.nlp_batch_size
    version = analysis_version(model_meta(settings.spacy_model), settings.analysis_steps)
    outdated = Outdated(version, since=since, source=source)

    def here(articles: list[Article]) -> list[Article]:
        return revise_articles(
            load_model(settings.spacy_model),  # loaded once, on the first batch
            articles,
            version=version,
            steps=settings.analysis_steps,
            claims=claims,
            batch_size=size,
        )

    claims = load_claims(settings.claims_file)
    analyse: Callable[[list[Article]], list[Article]] = here
    per_write = size
    if settings.store == "redis" and not local:
        analyse = _on_workers(settings, version, size, wait)
        per_write = size * _FAN_OUT

    index = open_index(settings)
    signal.signal(signal.SIGTERM, _terminate)
    report: ProgressReport | None = None
    try:
        total = index.count_outdated(outdated)
        if not total:
            out.print(f"every selected story is analysed by {escape(version)}")
            return
        report = ProgressReport(total, every)
        done = run(index, outdated, analyse, batch_size=per_write, progress=report)
        report.close()
        out.print(
            f"reanalysed {done} stories with {escape(version)} ({report.rate():.1f} stories/s)"
        )
    except KeyboardInterrupt:
        if report is not None:
            report.close()
        err.print(f"interrupted after {report.done if report else 0} stories; {_RESUME}")
        sys.exit(130)
    finally:
        index.close()
