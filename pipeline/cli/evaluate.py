"""``newswire eval TASK``: the shipped models scored on public corpora (never trains)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.cli.root import State, eval_app, out

Predictions = Annotated[
    Path | None, typer.Option(help="Write raw predictions here, in the corpus's own format.")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the scores as one JSON object.")]


def _model() -> Any:
    from pipeline.nlp import load_model

    return load_model(State.settings().spacy_model)


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


class NerSet(StrEnum):
    conll = "conll"
    news = "news"


@eval_app.command("ner")
def eval_ner(
    which: Annotated[
        NerSet,
        typer.Option("--set", help="conll: CoNLL-2003 (1996 Reuters); news: our current-news set."),
    ] = NerSet.conll,
    conll: Annotated[
        Path | None,
        typer.Option(help="CoNLL-2003 file [default: SHARED/conll2003/eng.testa]."),
    ] = None,
    annotations: Annotated[
        Path | None, typer.Option(help="The news set [default: bench/data/ner-news.json].")
    ] = None,
    shared: Annotated[
        Path | None,
        typer.Option(
            help="The shared corpora, whose texts the news set annotates "
            "[default: ../shared/data beside the checkout]."
        ),
    ] = None,
    predictions: Predictions = None,
    as_json: JsonFlag = False,
) -> None:
    """Entity P/R/F1, exact match: on CoNLL-2003 (PERSON→PER, ORG, LOC, the rest→MISC)
    or on the news set (our nine types, and collapsed to CoNLL's four)."""
    from pipeline import evaluation_ner as ner

    data = shared or ner.SHARED_DATA
    if which is NerSet.news:
        scores = ner.eval_ner_news(_model(), annotations or ner.NEWS_SET, data, predictions)
    else:
        scores = ner.eval_ner(_model(), conll or data / "conll2003" / "eng.testa", predictions)
    _scores(scores, as_json)


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
    unseen: Annotated[
        bool,
        typer.Option(
            "--unseen", help="Only the articles the shipped stance model was not fitted on."
        ),
    ] = False,
) -> None:
    """Holder → target stance P/R/F1 against reader annotations (their README's rule)."""
    from pipeline import evaluation_stances

    scores = evaluation_stances.eval_stances(_model(), gold, texts, predictions, unseen=unseen)
    _scores(scores, as_json)
