"""The scorers behind `newswire eval`, on tiny inputs written for these tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.evaluation import (
    _polnear_gold,
    _shingles,
    eval_extract,
    eval_stance,
    fnc_score,
)


@pytest.mark.parametrize(
    ("gold", "pred", "score"),
    [
        ("unrelated", "unrelated", 0.25),
        ("agree", "agree", 1.0),
        ("agree", "discuss", 0.25),
        ("agree", "unrelated", 0.0),
        ("unrelated", "discuss", 0.0),
        ("disagree", "disagree", 1.0),
    ],
)
def test_fnc_score(gold: str, pred: str, score: float) -> None:
    assert fnc_score(gold, pred) == score


def test_shingles() -> None:
    assert _shingles("One two three four five") == {
        ("one", "two", "three", "four"),
        ("two", "three", "four", "five"),
    }
    assert _shingles("short text") == {("short", "text")}
    assert _shingles("") == set()


def test_polnear_gold_links_relations(tmp_path: Path) -> None:
    ann = tmp_path / "a.ann"
    ann.write_text(
        "T1\tSource 0 5\tAlice\nT2\tCue 6 10\tsaid\nT3\tContent 11 20;25 30\tit rained\n"
        "T4\tAttribution 6 10\tsaid\nE1\tAttribution:T4 Content:T3 Cue:T2 Source:T1\n"
        "E2\tAttribution:T4 Content:T3\n"
        # an annotation's text running over lines, the next starting like an id would
        "T5\tContent 31 40;42 50\t3.\n\nThe vote\nEnd of it\n"
        "T6\tCue 41 42\tsaid\nE3\tAttribution:T6 Content:T5\n"
    )
    assert _polnear_gold(ann) == [
        {"source": (0, 5), "cue": (6, 10), "content": (11, 30)},
        {"source": None, "cue": None, "content": (11, 30)},
        {"source": None, "cue": None, "content": (31, 50)},
    ]


def test_eval_stance_writes_fnc_csv(tmp_path: Path) -> None:
    (tmp_path / "bodies.csv").write_text(
        'Body ID,articleBody\n1,"The council approved the harbour bridge on Monday. Officials denied the bridge was unsafe."\n'
    )
    (tmp_path / "stances.csv").write_text(
        "Headline,Body ID,Stance\nCouncil approves harbour bridge,1,agree\nCat wins piano contest,1,unrelated\n"
    )
    scores = eval_stance(tmp_path / "bodies.csv", tmp_path / "stances.csv", tmp_path / "pred.csv")
    assert scores["pairs"] == 2 and scores["fnc_max"] == 1.25
    assert scores["confusion"]["unrelated"]["unrelated"] == 1
    assert (tmp_path / "pred.csv").read_text().splitlines()[0] == "Headline,Body ID,Stance"


def test_eval_extract_perfect_and_missing_pages(tmp_path: Path) -> None:
    text = " ".join(
        f"The harbour board met on day {i} to discuss the new ferry timetable." for i in range(12)
    )
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "p1.html").write_text(
        f"<html><body><article><p>{text}</p></article></body></html>"
    )
    truth = {
        "p1": {"articleBody": text, "url": "https://x.example/1"},
        "p2": {"articleBody": text, "url": ""},
    }
    (tmp_path / "gt.json").write_text(json.dumps(truth))
    scores = eval_extract(tmp_path / "html", tmp_path / "gt.json", tmp_path / "pred.json")
    assert scores["pages"] == 2 and scores["recall"] == pytest.approx(0.5, abs=0.01)
    assert json.loads((tmp_path / "pred.json").read_text())["p2"] == {"articleBody": ""}
