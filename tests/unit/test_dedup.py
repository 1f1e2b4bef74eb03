"""Near-duplicates and same-event clusters (issue 18): the fingerprints (pure), the
placement of stories over a real SQLite store, and the index step relabelling merged
clusters in a real SQLite index. Texts are ours (``tests/fixtures/stories.yaml``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline import dedup
from pipeline.clusters import GroupPolicy, find, fingerprint, is_copy, place
from pipeline.errors import StoreUnavailableError
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, Entity, FeedEntry
from pipeline.policies import RetryPolicy
from pipeline.steps import index
from pipeline.store import PendingEntry
from pipeline.store.sqlite import SqliteStore
from tests.conftest import FIXTURES

STORIES: dict[str, dict[str, Any]] = {
    s["id"]: s
    for s in yaml.safe_load((FIXTURES / "stories.yaml").read_text(encoding="utf-8"))["stories"]
}
T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
Edit = Callable[[list[str]], list[str]]


def story(
    key: str,
    *,
    as_id: str | None = None,
    edit: Edit | None = None,
    title: str | None = None,
    hours: float = 0.0,
) -> Article:
    s = STORIES[key]
    paragraphs = list(s["paragraphs"])
    body = "\n\n".join(edit(paragraphs) if edit else paragraphs)
    aid = as_id or key
    return Article(
        id=aid,
        url=f"https://{aid}.example/story",
        canonical_url=f"https://{aid}.example/story",
        source=f"{aid}.example",
        title=title or s["title"],
        body=body,
        published_at=T0 + timedelta(hours=hours),
        entities=[
            Entity(name=n, type=t, mentions=3 - i, salience=round(0.9 - 0.2 * i, 2))
            for i, (n, t) in enumerate(s["entities"])
        ],
    )


OTHER = STORIES["wind"]["paragraphs"][2]
TOP = ["Advertisement", "Share this story: Facebook Twitter Email"]
BOTTOM = ["Copyright 2026 Example News. All rights reserved.", "Comments are closed."]
EDITS: dict[str, Edit] = {
    "boilerplate": lambda p: [*TOP, *p, *BOTTOM],
    "last paragraph cut": lambda p: p[:-1],
    "middle paragraph cut": lambda p: p[:2] + p[3:],
    "paragraphs swapped": lambda p: [p[0], p[2], p[1], *p[3:]],
    "headline left in the body": lambda p: ["Bridge shut: what we know so far", *p],
    "paragraph added": lambda p: [*p[:3], OTHER, *p[3:]],
    "all of them": lambda p: [TOP[0], "Bridge shut", p[0], p[2], p[1], OTHER, *p[3:-1], BOTTOM[0]],
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "state.db")
    yield s
    s.close()


# fingerprints ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EDITS))
def test_a_copy_with_edits_shares_a_band_and_is_confirmed(name: str) -> None:
    original = fingerprint(story("bridge-a"))
    copy = fingerprint(story("bridge-a", as_id="copy", edit=EDITS[name], title="New headline"))
    text_a, text_b = dedup.from_bytes(original.text), dedup.from_bytes(copy.text)
    assert text_a is not None and text_b is not None
    assert set(dedup.text_bands(text_a)) & set(dedup.text_bands(text_b)), "found by the index"
    assert is_copy(original, copy, GroupPolicy())


@pytest.mark.parametrize(
    ("a", "b"),
    [("bridge-a", "bridge-b"), ("bridge-a", "budget"), ("budget", "wind"), ("wind", "fares")],
)
def test_different_texts_are_not_copies_and_share_no_band(a: str, b: str) -> None:
    fa, fb = fingerprint(story(a)), fingerprint(story(b))
    sa, sb = dedup.from_bytes(fa.text), dedup.from_bytes(fb.text)
    assert sa is not None and sb is not None
    assert not set(dedup.text_bands(sa)) & set(dedup.text_bands(sb))
    assert not is_copy(fa, fb, GroupPolicy())


def test_signatures_are_seeded_and_survive_the_store() -> None:
    body = "\n\n".join(STORIES["fares"]["paragraphs"])
    sig = dedup.text_signature(body)
    assert sig is not None and len(sig) == dedup.BANDS * dedup.ROWS
    assert (dedup.text_signature(body) == sig).all(), "the same text, the same signature"
    restored = dedup.from_bytes(dedup.to_bytes(sig))
    assert restored is not None and (restored == sig).all()
    # case and punctuation never matter; a text without words has no fingerprint
    assert (dedup.text_signature(body.upper().replace(",", " ")) == sig).all()
    assert dedup.text_signature(" .,; ") is None and dedup.from_bytes(b"") is None


def test_estimated_similarity_tracks_the_true_jaccard() -> None:
    words = [f"w{n}" for n in range(400)]
    a, b = " ".join(words[:300]), " ".join(words[100:])
    truth = len(dedup.shingle_hashes(words[100:300], dedup.SHINGLE)) / len(
        dedup.shingle_hashes(words, dedup.SHINGLE)
    )
    sa, sb = dedup.text_signature(a), dedup.text_signature(b)
    assert sa is not None and sb is not None
    assert abs(dedup.similarity(sa, sb) - truth) < 0.12


# placement over a real store ---------------------------------------------------------------


def test_copies_point_at_the_first_story_and_share_its_cluster(store: SqliteStore) -> None:
    with store.grouping():
        first = place(store, fingerprint(story("bridge-a")))
        copy = place(store, fingerprint(story("bridge-a", as_id="c1", edit=EDITS["boilerplate"])))
        # a copy of the copy is a copy of the first story
        again = place(
            store,
            fingerprint(story("bridge-a", as_id="c2", edit=EDITS["all of them"], hours=5)),
        )
        other = place(store, fingerprint(story("budget", hours=1)))
    assert first.duplicate_of is None and first.cluster_id == "bridge-a"
    assert copy.duplicate_of == "bridge-a" and copy.cluster_id == "bridge-a"
    assert again.duplicate_of == "bridge-a" and again.cluster_id == "bridge-a"
    assert other.duplicate_of is None and other.cluster_id == "budget"


@pytest.mark.parametrize(("hours", "joins"), [(3, True), (-60, True), (24 * 9, False)])
def test_the_same_event_in_other_words_joins_the_cluster_within_the_window(
    store: SqliteStore, hours: float, joins: bool
) -> None:
    with store.grouping():
        place(store, fingerprint(story("bridge-a")))
        place(store, fingerprint(story("fares", hours=2)))
        other_outlet = place(store, fingerprint(story("bridge-b", hours=hours)))
    assert other_outlet.duplicate_of is None, "another outlet's words: no copy"
    assert other_outlet.cluster_id == ("bridge-a" if joins else "bridge-b")


def test_placing_a_story_twice_changes_nothing(store: SqliteStore) -> None:
    with store.grouping():
        place(store, fingerprint(story("wind")))
        once = place(store, fingerprint(story("wind", as_id="w2", edit=EDITS["boilerplate"])))
        twice = place(store, fingerprint(story("wind", as_id="w2", edit=EDITS["boilerplate"])))
    assert once == twice and twice.duplicate_of == "wind"


def _linking(a: str, b: str) -> Edit:
    """A roundup story: the first half of ``a`` and the first half of ``b``."""
    pa, pb = STORIES[a]["paragraphs"], STORIES[b]["paragraphs"]
    return lambda _: pa[: len(pa) // 2 + 1] + pb[: len(pb) // 2 + 1]


def test_a_story_linking_two_clusters_merges_them_into_the_earlier(store: SqliteStore) -> None:
    with store.grouping():
        place(store, fingerprint(story("budget", hours=0)))
        place(store, fingerprint(story("wind", hours=1)))
        link = place(store, fingerprint(story("budget", as_id="roundup", edit=_linking("budget", "wind"), hours=2)))  # fmt: skip
    assert link.duplicate_of is None
    assert link.cluster_id == "budget" and link.absorbed == ("wind",)
    with store.grouping():
        later = place(store, fingerprint(story("wind", as_id="w-copy", edit=EDITS["boilerplate"], hours=3)))  # fmt: skip
    assert later.cluster_id == "budget", "the absorbed cluster's stories lead to the survivor"


def test_find_follows_merges_to_the_survivor_and_shortens_the_path(store: SqliteStore) -> None:
    store.set_parents({"d": "c", "c": "b", "b": "a"})
    assert find(store, "d") == "a" and find(store, "a") == "a" and find(store, "x") == "x"
    assert store.parents(["d", "c", "b"]) == {"d": "a", "c": "a", "b": "a"}


def test_the_grouping_is_held_by_one_batch_at_a_time(store: SqliteStore, tmp_path: Path) -> None:
    other = SqliteStore(tmp_path / "state.db")  # another process on the same file
    with store.grouping(), pytest.raises(StoreUnavailableError), other.grouping(timeout=0.3):
        pass
    with other.grouping(timeout=0.3):
        pass
    other.close()


# the index step: both drivers' one place ------------------------------------------------


def _pending(article: Article) -> tuple[PendingEntry, Article]:
    entry = FeedEntry(key=article.id, feed_id="f1", url=article.url)
    return PendingEntry(entry, 0), article


def test_the_index_step_writes_groups_and_relabels_merged_clusters(
    store: SqliteStore, tmp_path: Path
) -> None:
    engine = SqliteIndex(tmp_path / "index.db")
    policy = RetryPolicy(max_attempts=2, backoff_base=1.0, backoff_cap=1.0)
    first = [story("budget"), story("wind", hours=1), story("fares", hours=1)]
    store.add_entries(_pending(a)[0].entry for a in first)
    index(engine, store, [_pending(a) for a in first], policy)
    got = {a.id: engine.get(a.id) for a in first}
    assert {i: (a.duplicate_of, a.cluster_id) for i, a in got.items() if a} == {
        "budget": (None, "budget"),
        "wind": (None, "wind"),
        "fares": (None, "fares"),
    }
    # one batch: a copy of wind, then a roundup of budget and wind that merges the two
    second = [
        story("wind", as_id="wind-copy", edit=EDITS["paragraph added"], hours=2),
        story("budget", as_id="roundup", edit=_linking("budget", "wind"), hours=3),
    ]
    store.add_entries(_pending(a)[0].entry for a in second)
    indexed = index(engine, store, [_pending(a) for a in second], policy)
    assert indexed.written == 2
    labels = {
        i: (a.duplicate_of, a.cluster_id)
        for i in ("budget", "wind", "fares", "wind-copy", "roundup")
        if (a := engine.get(i)) is not None
    }
    assert labels == {
        "budget": (None, "budget"),
        "wind": (None, "budget"),  # relabelled in the index: its cluster was absorbed
        "fares": (None, "fares"),
        "wind-copy": ("wind", "budget"),  # written in the batch with the final id
        "roundup": (None, "budget"),
    }
    engine.close()
