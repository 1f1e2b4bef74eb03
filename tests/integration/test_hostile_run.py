"""The real ``newswire run --once`` beside the hostile corpus (``hostile_feeds.py``):
it exits cleanly, indexes every good story, stores no script URL, keeps the good
story against another site's canonical claim, records every hostile feed's trouble,
and stays within bounds of time and memory (the whole process tree, sampled)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.index import SearchQuery, open_index
from pipeline.models import MAX_FEED_TEXT, MAX_TITLE
from pipeline.settings import Settings
from pipeline.urls import feed_id
from tests.conftest import ROOT
from tests.integration.hostile_feeds import SCRIPT_SCHEMES, HostileCorpus, TreeMemory

pytestmark = pytest.mark.integration

RUN_SECONDS = 150  # the first run, on a busy 2-core machine; it takes about a minute
PROCESS_MB = 1024  # any one process of the tree: the CLI or an analysis process
TREE_MB = 2560  # the CLI and its two analysis processes together


@pytest.fixture
def corpus() -> Iterator[HostileCorpus]:
    with HostileCorpus() as c:
        yield c


def cli_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSWIRE_CONFIG": str(tmp / "no-config.yaml"),
        "NEWSWIRE_DB": str(tmp / "newswire.db"),
        "NEWSWIRE_CLAIMS_FILE": str(tmp / "no-claims.yaml"),
        "NEWSWIRE_FEEDS_FILE": str(tmp / "feeds.yaml"),
        "NEWSWIRE_ALLOW_PRIVATE_HOSTS": "127.0.0.0/8",
        "NEWSWIRE_ANALYSIS_PROCESSES": "2",
        "NEWSWIRE_PER_HOST_DELAY": "0",
        "NEWSWIRE_PER_HOST_CONCURRENCY": "4",
        "NEWSWIRE_HTTP_TIMEOUT": "5",
        "NEWSWIRE_MIN_BODY_CHARS": "200",
        "NEWSWIRE_MAX_ATTEMPTS": "2",
    }


def run_once(
    tmp: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], float, TreeMemory]:
    """``newswire run --once --json`` with its tree's memory sampled; (result, seconds, memory)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.fake_resolver",  # the newswire command, resolver faked
            str(tmp / "connects-refused.log"),
            "run",
            "--once",
            "--json",
            "--feeds",
            str(tmp / "feeds.yaml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    with TreeMemory([proc.pid]) as memory:
        try:
            stdout, stderr = proc.communicate(timeout=2 * RUN_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    seconds = time.monotonic() - started
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), seconds, memory


def stored_script_urls(db: Path) -> list[tuple[str, str, Any]]:
    """Every text cell of every table that starts with a script-like scheme."""
    found = []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info('{table}')")]
            for column in columns:
                where = " OR ".join(
                    f"lower(trim(\"{column}\")) LIKE '{s}%'" for s in SCRIPT_SCHEMES
                )
                try:
                    rows = conn.execute(
                        f'SELECT "{column}" FROM "{table}" WHERE {where}'
                    ).fetchall()
                except sqlite3.DatabaseError:
                    continue  # FTS shadow tables hold blobs
                found += [(table, column, r[0]) for r in rows]
    return found


def feed_rows(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    status = subprocess.run(
        [sys.executable, "-m", "pipeline", "feeds", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    return {r["name"]: r for r in json.loads(status.stdout)}


def test_run_beside_hostile_feeds_indexes_every_good_story_in_bounds(
    corpus: HostileCorpus, tmp_path: Path
) -> None:
    port = corpus.hostile.port
    rebinding = {  # names only fake_resolver answers: see its docstring
        "rebind": f"http://rebind.test:{port}/feeds/dates.atom",
        "split": f"http://split.test:{port}/feeds/dates.atom",
    }
    corpus.write_feeds_file(tmp_path / "feeds.yaml", rebinding)
    env = cli_env(tmp_path)
    db = tmp_path / "newswire.db"

    result, seconds, memory = run_once(tmp_path, env)
    print(
        f"first run: {seconds:.1f}s, tree peak {memory.peak_total:.0f} MB, "
        f"process peak {memory.peak_process():.0f} MB over {len(memory.peak_each)} processes: {memory.peak_each}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert seconds < RUN_SECONDS, report
    assert len(memory.peak_each) >= 3, "the analysis processes were never seen"
    assert memory.peak_process() < PROCESS_MB, memory.peak_each
    assert memory.peak_total < TREE_MB, memory.peak_each

    # Every good story is searchable, under its own URL, with its own title.
    index = open_index(Settings(db=db))
    try:
        for url, story in corpus.good_urls().items():
            hits = index.search(SearchQuery(text=story.keyword, limit=20, collapse=False)).hits
            mine = [h for h in hits if h.url == url]
            assert len(mine) == 1, (url, [(h.url, h.title) for h in hits])
            assert mine[0].title == story.title  # the counterfeit did not replace it
        everything = index.search(SearchQuery(text="", limit=100, collapse=False)).hits
    finally:
        index.close()
    # The counterfeit was read and kept under its own address, not the good outlet's.
    counterfeits = [h for h in everything if h.title == corpus.counterfeit_title]
    assert [h.url for h in counterfeits] == [corpus.hostile.url("/pages/canonical-claim")]
    assert all(h.url.startswith(("http://127.0.0.1:", "http://127.0.0.2:")) for h in everything)
    latest = datetime.now(UTC) + timedelta(days=1)
    assert all(h.published_at is None or h.published_at <= latest for h in everything)
    assert all(len(h.title) <= 1000 for h in everything)
    # The binary page's bytes never reach the index (the feed's title may stand in).
    assert not any(
        re.search(r"[\x00-\x08\x0e-\x1f\ufffd]", h.title + h.snippet) for h in everything
    )

    assert stored_script_urls(db) == []
    # The 1 MB title and summary were cut to their caps at the model boundary.
    huge_title_feed = feed_id(corpus.hostile.url("/feeds/huge-title.xml"))
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT entry FROM entries WHERE feed_id = ?", (huge_title_feed,))
        [entry] = [json.loads(raw) for (raw,) in stored]
    assert 0 < len(entry["title"]) <= MAX_TITLE, len(entry["title"])
    assert 0 < len(entry["summary"]) <= MAX_FEED_TEXT, len(entry["summary"])
    # Nothing tried to connect beyond loopback: not the metadata and private links, not
    # the rebinding name once it answered 169.254.169.254, not the split name's 10.1.2.3.
    refused = tmp_path / "connects-refused.log"
    assert not refused.exists(), refused.read_text()

    # Each hostile feed left its mark: an error recorded, or its bad items skipped.
    rows = feed_rows(env)
    for name, (url, expect) in corpus.hostile_feeds.items():
        row = rows[name]
        skipped = re.search(rf"skipped .*feed_id={re.escape(feed_id(url))}\b", result.stderr)
        if expect == "error":
            assert row["error_count"] >= 1 and row["last_error"], (name, row)
        elif expect == "skips":
            assert skipped, (name, row)
    for name in corpus.good_feeds():
        assert rows[name]["error_count"] == 0, rows[name]
    # The split name is refused whole; the rebinding one at its first lookup after the
    # first (the feed itself, or its items): nothing of it was read from 169.254.169.254.
    assert "10.1.2.3" in (rows["split"]["last_error"] or ""), rows["split"]
    rebind = rows["rebind"]
    assert rebind["error_count"] or rebind["entries"].get("failed"), rebind
    assert not rebind["entries"].get("done"), rebind
    dated = [h for h in everything if "name=date" in h.url]
    assert len(dated) == 3 and all(h.published_at is None for h in dated), dated

    # A second run finds nothing new and still exits cleanly.
    again, seconds2, memory2 = run_once(tmp_path, env)
    print(f"second run: {seconds2:.1f}s, tree peak {memory2.peak_total:.0f} MB")
    assert again.returncode == 0, again.stderr[-3000:]
    index = open_index(Settings(db=db))
    try:
        assert index.count() == len(everything)
    finally:
        index.close()
