"""``newswire reanalyze``: stored stories get the current models' analysis."""

from __future__ import annotations

import signal
import sys
import time
from datetime import datetime
from types import FrameType
from typing import Annotated

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
) -> None:
    """Re-run the analysis with the current models on the stored stories that older ones
    analysed. Searches keep working throughout (a new index version behind the alias on
    Elasticsearch/OpenSearch, a transaction per batch on SQLite); a killed run resumes."""
    from pipeline.analysis_version import analysis_version
    from pipeline.analyze import load_claims
    from pipeline.index import Outdated, open_index
    from pipeline.nlp import load_model
    from pipeline.reanalyze import reanalyze as run
    from pipeline.reanalyze import revise_articles

    settings = State.settings()
    size = batch or settings.nlp_batch_size
    nlp = load_model(settings.spacy_model)
    claims = load_claims(settings.claims_file)
    version = analysis_version(nlp.meta, settings.analysis_steps)
    outdated = Outdated(version, since=since, source=source)

    index = open_index(settings)
    signal.signal(signal.SIGTERM, _terminate)
    report: ProgressReport | None = None
    try:
        total = index.count_outdated(outdated)
        if not total:
            out.print(f"every selected story is analysed by {escape(version)}")
            return
        report = ProgressReport(total, every)
        done = run(
            index,
            outdated,
            lambda articles: revise_articles(
                nlp,
                articles,
                version=version,
                steps=settings.analysis_steps,
                claims=claims,
                batch_size=size,
            ),
            batch_size=size,
            progress=report,
        )
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
