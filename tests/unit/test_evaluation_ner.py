"""`newswire eval ner`'s scorers on a small set written for these tests: CoNLL-shaped
documents and a news set over texts of a made-up shared-corpora folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spacy.language import Language

from pipeline.errors import InputError
from pipeline.evaluation_ner import (
    NewsItem,
    Span3,
    conll_documents,
    conll_type,
    eval_ner,
    eval_ner_news,
    news_items,
    score_conll,
    score_news,
    score_spans,
    tag_spans,
)
from tests.conftest import newswire

REPORT = (
    "Mayor Elena Vasquez of Port Meridian met Greenline Energy on Monday. "
    "Vasquez said the Harbor Act would pass."
)
# Elena Vasquez, Port Meridian, Greenline Energy, Vasquez, Harbor Act
REPORT_GOLD = [(6, 19, "PERSON"), (23, 36, "LOC"), (41, 57, "ORG"), (69, 76, "PERSON"),
               (86, 96, "LAW")]  # fmt: skip


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["I-PER", "I-PER", "O", "I-LOC"], {(0, 2, "PER"), (3, 4, "LOC")}),
        (["I-PER", "B-PER", "O"], {(0, 1, "PER"), (1, 2, "PER")}),  # IOB1: B splits neighbours
        (["B-ORG", "I-ORG", "I-MISC"], {(0, 2, "ORG"), (2, 3, "MISC")}),  # IOB2 too
        (["O", "O"], set()),
    ],
)
def test_tag_spans(tags: list[str], spans: set[Span3]) -> None:
    assert tag_spans(tags) == spans


@pytest.mark.parametrize(
    ("ours", "conll"),
    [("PERSON", "PER"), ("ORG", "ORG"), ("LOC", "LOC"), ("NORP", "MISC"), ("LAW", "MISC"),
     ("WORK", "MISC"), ("MISC", "MISC")],
)  # fmt: skip
def test_conll_type(ours: str, conll: str) -> None:
    assert conll_type(ours) == conll


def test_score_spans_exact_match_per_type() -> None:
    gold = [{(0, 5, "PERSON"), (10, 15, "ORG")}, {(0, 3, "LOC")}]
    pred = [{(0, 5, "PERSON"), (10, 14, "ORG")}, {(0, 3, "LOC"), (5, 9, "NORP")}]
    scores = score_spans(gold, pred)
    # 2 of 4 predicted right, 2 of 3 gold found
    assert (scores["precision"], scores["recall"]) == (0.5, 0.6667)
    assert scores["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), abs=1e-4)
    assert scores["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert scores["per_type"]["NORP"]["precision"] == 0.0  # a type only predictions name
    assert scores["per_type"]["PERSON"]["f1"] == 1.0


def test_score_news_collapses_to_conll_and_separates_boundaries_from_types() -> None:
    item = NewsItem("demo", "x", REPORT, list(REPORT_GOLD))
    predicted = [
        (6, 19, "PERSON"),
        (23, 36, "LOC"),
        (41, 57, "PERSON"),  # right span, wrong type
        (69, 76, "PERSON"),
        (86, 96, "MISC"),  # LAW in ours, MISC in CoNLL's four: right there only
        (0, 5, "PERSON"),  # not an entity
    ]
    scores = score_news([item], [predicted])
    assert (scores["precision"], scores["recall"]) == (round(3 / 6, 4), round(3 / 5, 4))
    assert (scores["conll4"]["precision"], scores["conll4"]["recall"]) == (0.6667, 0.8)
    assert set(scores["conll4"]["per_type"]) == {"PER", "ORG", "LOC", "MISC"}
    assert scores["spans"]["recall"] == 1.0 and scores["spans"]["precision"] == 0.8333
    assert scores["typed"] == 0.6  # 3 of the 5 found spans typed right
    assert (scores["texts"], scores["gold"], scores["predicted"]) == (1, 5, 6)


def _shared(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    (shared / "extraction").mkdir(parents=True)
    (shared / "articles").mkdir()
    truth = {"p1": {"articleBody": REPORT, "url": "https://x.example/1"}}
    (shared / "extraction" / "ground-truth.json").write_text(json.dumps(truth))
    (shared / "articles" / "report.txt").write_text(REPORT, encoding="utf-8")
    return shared


def _annotations(tmp_path: Path, items: list[dict[str, object]]) -> Path:
    path = tmp_path / "ner-news.json"
    path.write_text(json.dumps({"items": items}))
    return path


def _entities(spans: list[Span3]) -> list[list[object]]:
    return [list(s) for s in spans]


def test_news_items_read_texts_of_every_source(tmp_path: Path) -> None:
    ann = _annotations(
        tmp_path,
        [
            {"source": "extraction", "id": "p1", "entities": _entities(REPORT_GOLD)},
            {"source": "article", "id": "report.txt", "entities": _entities(REPORT_GOLD[:1])},
            {"source": "demo", "id": "bridge-vote-delayed", "entities": []},
        ],
    )
    items = news_items(ann, _shared(tmp_path))
    assert [i.text for i in items[:2]] == [REPORT, REPORT]
    assert items[0].text[6:19] == "Elena Vasquez" and items[0].gold == REPORT_GOLD
    assert items[2].text.startswith("The Port Meridian city council")


@pytest.mark.parametrize(
    "item",
    [
        {"source": "extraction", "id": "p2", "entities": []},  # no such page
        {"source": "article", "id": "gone.txt", "entities": []},  # no such file
        {"source": "demo", "id": "no-such-slug", "entities": []},
        {"source": "feeds", "id": "p1", "entities": []},  # unknown source
        {"source": "extraction", "id": "p1", "entities": _entities([(90, 400, "LAW")])},
        {"source": "extraction", "id": "p1", "entities": _entities([(6, 19, "PER")])},
    ],
)
def test_news_items_refuse_what_cannot_be_scored(tmp_path: Path, item: dict[str, object]) -> None:
    with pytest.raises(InputError):
        news_items(_annotations(tmp_path, [item]), _shared(tmp_path))


CONLL = """-DOCSTART- -X- -X- O

Elena NNP I-NP I-PER
Vasquez NNP I-NP I-PER
visited VBD I-VP O
Port NNP I-NP I-LOC
Meridian NNP I-NP I-LOC
. . O O

Vasquez NNP I-NP I-PER
spoke VBD I-VP O
. . O O

-DOCSTART- -X- -X- O

Lebanese JJ I-NP I-MISC
troops NNS I-NP O
"""


def test_conll_documents_and_score(tmp_path: Path) -> None:
    path = tmp_path / "eng.testa"
    path.write_text(CONLL)
    docs = conll_documents(path)
    assert [d.text for d in docs] == [
        "Elena Vasquez visited Port Meridian .\nVasquez spoke .\n",
        "Lebanese troops\n",
    ]
    assert docs[0].sentences[1].offsets[0] == (38, 45)
    predicted = [
        [(0, 13, "PERSON"), (22, 35, "ORG"), (38, 45, "PERSON")],
        [(0, 8, "NORP")],  # NORP is CoNLL's MISC
    ]
    scores = score_conll(docs, predicted)
    assert (scores["precision"], scores["recall"]) == (0.75, 0.75)
    assert scores["per_type"]["LOC"]["recall"] == 0.0 and scores["per_type"]["MISC"]["f1"] == 1.0
    assert scores["lines"][:2] == ["Elena I-PER I-PER", "Vasquez I-PER I-PER"]
    assert scores["lines"][3] == "Port I-LOC I-ORG"


def test_eval_ner_news_runs_the_production_path(nlp: Language, tmp_path: Path) -> None:
    ann = _annotations(
        tmp_path, [{"source": "article", "id": "report.txt", "entities": _entities(REPORT_GOLD)}]
    )
    pred = tmp_path / "pred.json"
    scores = eval_ner_news(nlp, ann, _shared(tmp_path), pred)
    written = json.loads(pred.read_text())
    assert written[0]["id"] == "report.txt" and len(written[0]["entities"]) == scores["predicted"]
    assert {"start": 6, "end": 19, "type": "PERSON", "text": "Elena Vasquez"} in written[0][
        "entities"
    ]
    assert scores["gold"] == 5 and 0.0 < scores["f1"] <= 1.0
    assert scores["conll4"]["f1"] >= scores["f1"]  # collapsing types only merges them


def test_eval_ner_conll_writes_predictions(nlp: Language, tmp_path: Path) -> None:
    path = tmp_path / "eng.testa"
    path.write_text(CONLL)
    scores = eval_ner(nlp, path, tmp_path / "pred.txt")
    lines = (tmp_path / "pred.txt").read_text().splitlines()
    assert lines[0].startswith("Elena I-PER ")
    assert len(lines) == 11 + 2  # the tokens, a blank line between sentences
    assert "lines" not in scores and scores["per_type"]["PER"]["recall"] == 1.0


def test_cli_scores_the_news_set(tmp_path: Path) -> None:
    ann = _annotations(
        tmp_path, [{"source": "article", "id": "report.txt", "entities": _entities(REPORT_GOLD)}]
    )
    shared = _shared(tmp_path)
    done = newswire(
        "eval", "ner", "--set", "news", "--annotations", str(ann), "--shared", str(shared),
        "--json", db=tmp_path / "x.db",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    assert scores["texts"] == 1 and scores["gold"] == 5 and "conll4" in scores
