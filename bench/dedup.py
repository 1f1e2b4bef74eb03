"""Stories, not copies, measured (issue 18): near-duplicates, same-event clusters, cost.

    python bench/dedup.py [--shared ../shared/data] [--events bench/data/events.json]
                          [--cost 10000] [--redis] [--out bench/results/dedup.json]

(a) Near-duplicates. ``bench/republish.py`` re-publishes a share of the PolNeAR
    train+dev stories with realistic edits (several copies each), mixed with all the
    originals, shuffled. First a sweep of the fingerprint's shingle size and LSH
    layout (candidate recall: gold pairs that share a band; candidates per story);
    then the containment threshold chosen by 5-fold cross-validation over the
    originals' groups (best F1 on four folds, scored on the fifth); then the pipeline
    itself (``clusters.place`` over a real SQLite store) at the shipped threshold:
    pairwise precision and recall of ``duplicate_of`` groups. Pairs of two originals
    that are the same text in the corpus itself (exact shingle containment >= 0.8:
    a story the outlet ran twice) are neither right nor wrong, and left out.
(b) Events. Stories labelled into events by hand (``bench/data/events.json``: file
    names and event ids, no text), analysed for entities, fed in date order;
    pairwise precision and recall of ``cluster_id``; the event threshold chosen by
    cross-validation over folds of events.
(c) Cost. ms per story of fingerprint + placement (lookups, confirmation, filing)
    with ``--cost`` stories already in the store (SQLite; Redis too with --redis).

Prints one JSON object and writes it to --out (with --only, its parts replace theirs in
the file). Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.republish import Story, read_story, test_set  # noqa: E402
from pipeline import dedup  # noqa: E402
from pipeline.clusters import GroupPolicy, containment, find, fingerprint, place  # noqa: E402
from pipeline.models import Article, Entity  # noqa: E402
from pipeline.store.base import Groups  # noqa: E402
from pipeline.store.sqlite import SqliteStore  # noqa: E402

Pair = tuple[str, str]


def pairs_of(groups: dict[str, str]) -> set[Pair]:
    """Every unordered pair of ids that share a group (``groups``: id -> group)."""
    members: dict[str, list[str]] = defaultdict(list)
    for i, g in groups.items():
        members[g].append(i)
    return {(a, b) if a < b else (b, a) for m in members.values() for a, b in combinations(m, 2)}


def scores(predicted: set[Pair], gold: set[Pair], ignored: set[Pair]) -> dict[str, float]:
    predicted, gold = predicted - ignored, gold - ignored
    tp = len(predicted & gold)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(gold) if gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def article(story: Story, at: float, entities: Sequence[Entity] = ()) -> Article:
    """A story as the index step sees it, published at ``at`` (epoch seconds)."""
    url = f"https://bench.example/{story.id}"
    return Article(
        id=story.id,
        url=url,
        canonical_url=url,
        source="bench.example",
        title=story.title,
        body=story.body,
        published_at=datetime.fromtimestamp(at, UTC),
        entities=list(entities),
    )


# (a) near-duplicates ---------------------------------------------------------------------


def _shingles(text: str, k: int) -> set[int]:
    return set(dedup.shingle_hashes(dedup.words(text), k).tolist())


def corpus_duplicates(stories: Sequence[Story]) -> set[Pair]:
    """Pairs of stories whose originals are the same text in the corpus (exact shingle
    containment of the smaller in the larger >= 0.8)."""
    originals = {s.original: s for s in stories if s.id == s.original}
    sets = {i: _shingles(s.body, dedup.SHINGLE) for i, s in originals.items()}
    twins = set()
    ids = sorted(sets)
    for a, b in combinations(ids, 2):
        sa, sb = sets[a], sets[b]
        if sa and sb and len(sa & sb) / min(len(sa), len(sb)) >= 0.8:
            twins.add((a, b))
    by_original: dict[str, list[str]] = defaultdict(list)
    for s in stories:
        by_original[s.original].append(s.id)
    out = set()
    for a, b in twins:
        for x in by_original[a]:
            for y in by_original[b]:
                out.add((x, y) if x < y else (y, x))
    return out


def sweep(stories: Sequence[Story], gold: set[Pair]) -> list[dict[str, Any]]:
    """Candidate recall and candidates per story for shingle sizes and band layouts."""
    rows = []
    for k in (3, 4, 5):
        shingles = [dedup.shingle_hashes(dedup.words(s.body), k) for s in stories]
        for bands, rows_per in ((16, 8), (32, 4), (42, 3), (64, 2)):
            perms = dedup._permutations(bands * rows_per, dedup.SEED)
            sigs = [dedup.minhash(x, perms) for x in shingles]
            index: dict[str, list[int]] = defaultdict(list)
            cand: set[tuple[int, int]] = set()
            for i, sig in enumerate(sigs):
                if sig is None:
                    continue
                for key in dedup.band_keys(sig, rows_per, "d"):
                    cand.update((j, i) for j in index[key])
                    index[key].append(i)
            found = {_pair(stories[a].id, stories[b].id) for a, b in cand}
            rows.append(
                {
                    "shingle": k,
                    "bands": bands,
                    "rows": rows_per,
                    "candidate_recall": round(len(found & gold) / len(gold), 4),
                    "candidates_per_story": round(2 * len(cand) / len(stories), 2),
                }
            )
    return rows


def _pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def duplicate_cv(
    stories: Sequence[Story], gold: set[Pair], ignored: set[Pair], folds: int = 5
) -> dict[str, Any]:
    """Containment threshold by cross-validation over folds of originals' groups."""
    sigs = {s.id: dedup.text_signature(s.body) for s in stories}
    sizes = {s.id: len(dedup.shingle_hashes(dedup.words(s.body), dedup.SHINGLE)) for s in stories}
    index: dict[str, list[str]] = defaultdict(list)
    scored: dict[Pair, float] = {}
    for s in stories:
        sig = sigs[s.id]
        if sig is None:
            continue
        for key in dedup.text_bands(sig):
            for other in index[key]:
                osig = sigs[other]
                assert osig is not None
                j = dedup.similarity(sig, osig)
                scored[_pair(s.id, other)] = containment(j, sizes[s.id], sizes[other])
            index[key].append(s.id)
    originals = sorted({s.original for s in stories})
    random.Random(18).shuffle(originals)
    fold_of = {o: n % folds for n, o in enumerate(originals)}
    story_fold = {s.id: fold_of[s.original] for s in stories}
    grid = [round(t, 2) for t in np.arange(0.3, 0.96, 0.05)]

    def at(threshold: float, fold_ids: set[int]) -> dict[str, float]:
        ids = {s.id for s in stories if story_fold[s.id] in fold_ids}
        parent = {i: i for i in ids}

        def root(x: str) -> str:
            while parent[x] != x:
                x = parent[x]
            return x

        for (a, b), c in scored.items():
            if c >= threshold and a in ids and b in ids:
                parent[root(a)] = root(b)
        fold_gold = {p for p in gold if p[0] in ids}
        return scores(pairs_of({i: root(i) for i in ids}), fold_gold, ignored)

    chosen, held = [], []
    for f in range(folds):
        train = set(range(folds)) - {f}
        best = max(grid, key=lambda t: (at(t, train)["f1"], t))
        chosen.append(best)
        held.append(at(best, {f}))
    return {
        "chosen_per_fold": chosen,
        "held_out_precision": round(statistics.mean(h["precision"] for h in held), 4),
        "held_out_recall": round(statistics.mean(h["recall"] for h in held), 4),
        "curve": {str(t): at(t, set(range(folds))) for t in grid},
    }


def run_pipeline(
    groups: Groups, stories: Sequence[Story], times: dict[str, float]
) -> dict[str, Any]:
    """Place every story with the shipped code; returns id -> (duplicate_of, cluster)."""
    out = {}
    with groups.grouping():
        for s in stories:
            placed = place(groups, fingerprint(article(s, times.get(s.id, 0.0))))
            out[s.id] = placed
    return out


def near_duplicates(shared: Path, tmp: Path) -> dict[str, Any]:
    paths = sorted(shared.glob("polnear/*/text/*.txt"))
    stories = test_set(paths)
    gold = pairs_of({s.id: s.original for s in stories})
    ignored = corpus_duplicates(stories)
    store = SqliteStore(tmp / "near.db")
    placed = run_pipeline(store, stories, {s.id: n * 60.0 for n, s in enumerate(stories)})
    predicted = pairs_of({i: p.duplicate_of or i for i, p in placed.items()})
    store.close()
    return {
        "stories": len(stories),
        "originals": len({s.original for s in stories}),
        "copies": sum(s.id != s.original for s in stories),
        "gold_pairs": len(gold),
        "corpus_twin_pairs_left_out": len(ignored),
        "shingle": dedup.SHINGLE,
        "layout": f"{dedup.BANDS}x{dedup.ROWS}",
        "threshold": GroupPolicy().duplicate,
        "pipeline": scores(predicted, gold, ignored),
        "sweep": sweep(stories, gold - ignored),
        "cv": duplicate_cv(stories, gold, ignored),
    }


# (b) events ----------------------------------------------------------------------------


def labelled(shared: Path, events_file: Path) -> list[tuple[Story, str, float]]:
    """The labelled stories in date order (then name): story, event id, time."""
    data = json.loads(events_file.read_text(encoding="utf-8"))
    out = []
    for item in data["stories"]:
        path = shared / "polnear" / item["split"] / "text" / item["doc"]
        at = datetime.fromisoformat(item["date"]).replace(tzinfo=UTC).timestamp()
        out.append((read_story(path), item["event"], at))
    return sorted(out, key=lambda x: (x[2], x[0].id))


def analysed(stories: Sequence[tuple[Story, str, float]]) -> list[Article]:
    """The stories as the index step gets them: entities by the shipped recogniser."""
    from pipeline.analyze import analyze_batch
    from pipeline.models import Extracted
    from pipeline.nlp import load_model

    nlp = load_model()
    items = [Extracted(title=s.title, body=s.body) for s, _, _ in stories]
    analyses = analyze_batch(nlp, items, steps=["entities"])
    return [article(s, at, an.entities) for (s, _, at), an in zip(stories, analyses, strict=True)]


def cluster_run(articles: Sequence[Article], policy: GroupPolicy, tmp: Path) -> dict[str, str]:
    """Story id -> cluster id, placing ``articles`` in order with the shipped code."""
    db = tmp / f"events-{time.monotonic_ns()}.db"
    store = SqliteStore(db)
    placed = {}
    with store.grouping():
        for a in articles:
            placed[a.id] = place(store, fingerprint(a), policy).cluster_id
    out = {i: find(store, c) for i, c in placed.items()}
    store.close()
    db.unlink()
    return out


def events(shared: Path, events_file: Path, tmp: Path, folds: int = 4) -> dict[str, Any]:
    stories = labelled(shared, events_file)
    articles = analysed(stories)
    gold = pairs_of({s.id: e for s, e, _ in stories})
    event_ids = sorted({e for _, e, _ in stories})
    random.Random(18).shuffle(event_ids)
    fold_of = {e: n % folds for n, e in enumerate(event_ids)}
    grid = [
        (round(float(t), 2), w) for t in np.arange(0.1, 0.41, 0.025) for w in (0.0, 0.15, 0.3, 0.5)
    ]
    runs = {
        (t, w): cluster_run(articles, replace(GroupPolicy(), event=t, entity_weight=w), tmp)
        for t, w in grid
    }

    def at(tw: tuple[float, float], fold_ids: set[int]) -> dict[str, float]:
        ids = {s.id for s, e, _ in stories if fold_of[e] in fold_ids}
        predicted = {p for p in pairs_of(runs[tw]) if p[0] in ids and p[1] in ids}
        return scores(predicted, {p for p in gold if p[0] in ids}, set())

    chosen, held = [], []
    for f in range(folds):
        best = max(grid, key=lambda tw: (at(tw, set(range(folds)) - {f})["f1"], tw[0]))
        chosen.append(best)
        held.append(at(best, {f}))
    shipped = GroupPolicy()
    final = cluster_run(articles, shipped, tmp)
    return {
        "stories": len(stories),
        "events": len(event_ids),
        "events_with_2_or_more": sum(
            1 for e in event_ids if sum(1 for _, x, _ in stories if x == e) > 1
        ),
        "gold_pairs": len(gold),
        "threshold": shipped.event,
        "entity_weight": shipped.entity_weight,
        "window_hours": shipped.window / 3600,
        "pipeline": scores(pairs_of(final), gold, set()),
        "clusters": len(set(final.values())),
        "cv": {
            "folds": folds,
            "chosen_per_fold": chosen,
            "held_out_precision": round(statistics.mean(h["precision"] for h in held), 4),
            "held_out_recall": round(statistics.mean(h["recall"] for h in held), 4),
            "curve": {f"{t} {w}": at((t, w), set(range(folds))) for t, w in grid if w == 0.3},
        },
    }


# (c) cost --------------------------------------------------------------------------------


def mixed_stories(shared: Path, n: int, seed: int = 18) -> list[Story]:
    """``n`` distinct stories of eight paragraphs drawn from the corpus (a harsher load
    than real news for the band index: paragraphs recur across stories)."""
    rng = random.Random(seed)
    pool = [
        p
        for path in sorted(shared.glob("polnear/*/text/*.txt"))
        for p in read_story(path).paragraphs
        if len(p.split()) >= 15
    ]
    return [Story(f"mix{i}", f"mix{i}", f"Story {i}", rng.sample(pool, 8)) for i in range(n)]


def cost(shared: Path, groups: Groups, size: int, probes: int = 300) -> dict[str, Any]:
    """ms per story of fingerprint + placement once ``size`` stories are in ``groups``;
    the stories arrive over 30 days (about ``size / 30`` a day in each event window)."""
    stories = mixed_stories(shared, size + probes)
    span = 30 * 86_400 / size
    fill_started = time.perf_counter()
    with groups.grouping():
        for n, s in enumerate(stories[:size]):
            place(groups, fingerprint(article(s, n * span)))
    fill = time.perf_counter() - fill_started
    took = []
    with groups.grouping():
        for n, s in enumerate(stories[size:]):
            a = article(s, (size // 2 + n) * span)  # mid-stream: full windows both sides
            started = time.perf_counter()
            place(groups, fingerprint(a))
            took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {
        "stories_in_store": size,
        "fill_ms_per_story": round(fill * 1000 / size, 2),
        "p50_ms": round(took[len(took) // 2], 2),
        "p95_ms": round(took[int(len(took) * 0.95)], 2),
        "mean_ms": round(statistics.mean(took), 2),
    }


def redis_cost(shared: Path, tmp: Path, size: int) -> dict[str, Any]:
    from bench.services import RedisServer
    from pipeline.store.redis import RedisStore, connect

    server = RedisServer(tmp / "redis")
    server.start()
    try:
        store = RedisStore(connect(server.url))
        return cost(shared, store, size)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--events", type=Path, default=ROOT / "bench" / "data" / "events.json")
    parser.add_argument("--only", choices=["near", "events", "cost"], action="append")
    parser.add_argument("--cost", type=int, default=10_000, help="stories in the store")
    parser.add_argument("--redis", action="store_true", help="cost on Redis too")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dedup.json")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.only or "near" in args.only:
            out["near_duplicates"] = near_duplicates(args.shared, Path(tmp))
        if (not args.only or "events" in args.only) and args.events.exists():
            out["events"] = events(args.shared, args.events, Path(tmp))
        if not args.only or "cost" in args.only:
            store = SqliteStore(Path(tmp) / "cost.db")
            out["cost_sqlite"] = cost(args.shared, store, args.cost)
            store.close()
            if args.redis:
                out["cost_redis"] = redis_cost(args.shared, Path(tmp), args.cost)
    out["run"] = {"python": sys.version.split()[0], "at": datetime.now(UTC).isoformat()}
    print(json.dumps(out, indent=2))
    # --only refreshes its parts of the results file and keeps the others
    kept = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    args.out.write_text(json.dumps(kept | out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
