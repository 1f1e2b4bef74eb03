"""``newswire analyze FILE``: one article's entities, quotes and stances; nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.root import State, app, out
from pipeline.errors import InputError

if TYPE_CHECKING:
    from pipeline.models import Extracted


def read_article(path: Path) -> Extracted:
    """An article from a file: HTML (by suffix) through the extractor, else text with
    the title on its first line. ``InputError`` when unreadable or without article text."""
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
    from pipeline.analysis_version import analysis_version
    from pipeline.analyze import analyze_batch, load_claims, to_article
    from pipeline.nlp import load_model

    settings = State.settings()
    extracted = read_article(file)
    nlp = load_model(settings.spacy_model)
    analysis = analyze_batch(
        nlp, [extracted], load_claims(settings.claims_file), steps=settings.analysis_steps
    )[0]
    article = to_article(
        extracted,
        analysis,
        url=file.resolve().as_uri(),
        analyzed_with=analysis_version(nlp.meta, settings.analysis_steps),
    )
    if as_json:
        out.print_json(article.model_dump_json())
        return
    out.print(f"[bold]{escape(article.title)}[/bold]")
    table = Table("entity", "type", "mentions", "salience", "aliases", title="Entities")
    for e in article.entities:
        table.add_row(
            escape(e.name),
            escape(e.type),
            str(e.mentions),
            f"{e.salience:.2f}",
            escape(", ".join(e.aliases)),
        )
    out.print(table)
    for q in article.quotes:
        mark = "“”" if q.direct else "≈"
        out.print(
            f"[cyan]{escape(q.speaker)}[/cyan] {escape(q.cue)} {mark[0]}{escape(q.text)}{mark[-1]}"
        )
    for s in article.stances:
        out.print(
            f"{escape(s.holder)} → {escape(s.target)}: [bold]{s.stance}[/bold] ({s.confidence:.2f})"
        )
