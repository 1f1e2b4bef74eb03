"""The root of the ``newswire`` command: the Typer app and its sub-apps, the global
options, the two consoles and the settings every command reads."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pipeline.settings import Backend, Settings

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

_NOISY = (
    "httpx",
    "httpcore",
    "trafilatura",
    "htmldate",
    "courlan",
    "opensearch",
    "elastic_transport",
)


class State:
    """The global options of this invocation (one CLI invocation per process)."""

    overrides: dict[str, Any] = {}  # noqa: RUF012
    verbose: int = 0

    @classmethod
    def settings(cls, **extra: Any) -> Settings:
        """The settings with the global options applied; pydantic's ``ValidationError``
        when a setting is invalid (``main`` prints it as one line)."""
        return Settings(**{**cls.overrides, **extra})


@app.callback()
def _options(
    backend: Annotated[Backend | None, typer.Option(help="Search backend.")] = None,
    db: Annotated[Path | None, typer.Option(help="SQLite file for state and index.")] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")
    ] = 0,
) -> None:
    State.overrides = {k: v for k, v in {"backend": backend, "db": db}.items() if v is not None}
    State.verbose = verbose
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
