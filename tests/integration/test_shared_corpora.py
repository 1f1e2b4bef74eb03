"""Public corpora in ../shared/data (present in CI): feeds through poll's parsing path,
and the reference article through `newswire analyze --json`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import FeedParseError
from pipeline.poll import parse_feed

pytestmark = pytest.mark.integration


def test_every_shared_feed_parses_or_fails_cleanly(shared_data: Path) -> None:
    files = sorted(
        p for p in (shared_data / "feeds").rglob("*") if p.is_file() and p.suffix != ".tsv"
    )
    assert len(files) > 2000
    parsed = rejected = entries = 0
    for path in files:
        try:
            result = parse_feed(path.read_bytes(), f"https://feeds.example/{path.name}", "f")
        except FeedParseError as exc:
            assert exc.reason.startswith("not a feed"), path  # a reason, never a crash
            rejected += 1
            continue
        parsed += 1
        entries += len(result.entries)
        for entry in result.entries:
            assert entry.key and entry.feed_id == "f"
            assert len(entry.content) <= 100_000 and len(entry.summary) <= 100_000
    assert parsed > rejected, (parsed, rejected)
    news = [p for p in files if p.parent.name == "news"]
    ok_news = 0
    for path in news:
        with contextlib.suppress(FeedParseError):
            ok_news += bool(parse_feed(path.read_bytes(), "https://feeds.example/", "f").entries)
    assert ok_news >= len(news) - 2, "real news feeds (bar the deliberately broken) yield entries"


def test_analyze_reference_article(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "articles" / "beirut-ceasefire.txt"
    env = {**os.environ, "NEWSWIRE_CLAIMS_FILE": str(tmp_path / "none.yaml")}
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "analyze", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert set(doc) >= {
        "id",
        "url",
        "canonical_url",
        "source",
        "title",
        "body",
        "entities",
        "quotes",
        "stances",
        "claims",
        "published_at",
        "fetched_at",
        "language",
        "authors",
    }
    ents = {e["name"]: e for e in doc["entities"]}
    for name, etype in [
        ("Amos Hochstein", "PERSON"),
        ("Matthew Miller", "PERSON"),
        ("Bezalel Smotrich", "PERSON"),
        ("Nabih Berri", "PERSON"),
        ("Hezbollah", "ORG"),
        ("Hamas", "ORG"),
        ("CNN", "ORG"),
        ("Beirut", "LOC"),
        ("Lebanon", "LOC"),
        ("Israel", "LOC"),
        ("Gaza", "LOC"),
    ]:
        assert ents[name]["type"] == etype, name
    assert "Hochstein" in ents["Amos Hochstein"]["aliases"]
    assert {"Makati", "Mikati"} <= set(ents["Najib Makati"]["aliases"]), "close spellings merged"
    assert "US" in ents["United States"]["aliases"]
    for junk in ("Ed Ram", "Getty Images", "Mohamed Azakir", "Nadeen Ebrahim", "Smokes"):
        assert not any(junk in n for n in ents), f"caption/credit became an entity: {junk}"
    speakers = {q["speaker"] for q in doc["quotes"]}
    assert {
        "Matthew Miller",
        "Bezalel Smotrich",
        "Nabih Berri",
        "Najib Makati",
        "a senior US official",
    } <= speakers
    direct = [q for q in doc["quotes"] if q["direct"]]
    assert any(
        q["speaker"] == "Bezalel Smotrich" and "operational freedom" in q["text"] for q in direct
    ), "the pronoun 'he' after Smotrich's paragraph resolves to him"
    for q in doc["quotes"]:
        assert doc["body"][q["start"] : q["end"]] == q["text"]
    holders = {s["holder"] for s in doc["stances"]}
    assert {"Nabih Berri", "Bezalel Smotrich", "a senior US official"} <= holders
    assert all(s["evidence"] and 0 <= s["confidence"] <= 1 for s in doc["stances"])
