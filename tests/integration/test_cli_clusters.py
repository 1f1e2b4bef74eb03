"""`newswire search` collapsed and with ``--expand``, and `newswire cluster`, as users run
them: a subprocess over a SQLite index of clustered stories written by us."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.index.sqlite import SqliteIndex
from tests.clustered import stories
from tests.conftest import newswire

pytestmark = pytest.mark.integration


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "n.db"
    index = SqliteIndex(path)
    index.upsert_many(stories())
    index.close()
    return path


def test_search_collapses_expands_and_lists_a_cluster(db: Path) -> None:
    collapsed = newswire("search", "toll", "--json", db=db)
    assert collapsed.returncode == 0, collapsed.stderr
    got = json.loads(collapsed.stdout)
    assert (got["total"], got["stories"]) == (1, 3)
    assert got["hits"][0]["cluster"]["id"] == "bridge-1"
    assert got["hits"][0]["cluster"]["more"] == 2
    assert got["facets"]["stances"] == [{"value": "against", "count": 1}]

    expanded = json.loads(newswire("search", "toll", "--expand", "--json", db=db).stdout)
    assert expanded["total"] == 3 and len(expanded["hits"]) == 3
    assert expanded["facets"]["stances"] == [{"value": "against", "count": 3}]
    by_stories = newswire("search", "toll", "--facet-count", "stories", "--json", db=db)
    assert json.loads(by_stories.stdout)["facets"]["stances"][0]["count"] == 3

    text = newswire("search", "toll", "--sort", "date", db=db)
    assert "1 stories (3 with copies)" in text.stdout
    assert "and 2 more from coast.example, wire.example" in text.stdout
    assert "newswire cluster bridge-1" in text.stdout

    cluster = json.loads(newswire("cluster", "bridge-1", "--json", db=db).stdout)
    assert [s["kind"] for s in cluster["stories"]] == ["first", "copy", "different"]
    listed = newswire("cluster", "bridge-1", db=db).stdout
    assert "copy of bridge-1" in listed and "3 stories from 3 outlets" in listed
    missing = newswire("cluster", "no-such", db=db)
    assert missing.returncode != 0 and "no cluster no-such" in missing.stderr
