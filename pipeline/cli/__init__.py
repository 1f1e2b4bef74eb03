"""The ``newswire`` command line. Every failure prints one line and exits non-zero.

One module per group of commands; importing them registers their commands on
``app``. Commands that analyse import spaCy and trafilatura when they run, so that
``search`` and ``feeds`` start in a fraction of a second.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from pipeline.cli import (  # noqa: F401 (registers)
    analyze,
    evaluate,
    feeds,
    ops,
    reanalyze,
    run,
    search,
    watch,
)
from pipeline.cli.errors import EXPECTED, one_line
from pipeline.cli.root import State, app, err

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: run the app; every error becomes one ``error: ...`` line on stderr
    and exit status 2 (usage) or 1 (anything else); ``-v`` shows the traceback of
    unexpected ones."""
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:
        # A bare `newswire` or `newswire feeds`: the help text (click's own class, by
        # name, as typer does not export it).
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]
            sys.exit(2)
        if State.verbose and not isinstance(exc, EXPECTED):
            raise
        message, status = one_line(exc)
        err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
        sys.exit(status)
