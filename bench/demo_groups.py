"""The demo corpus, grouped by the pipeline, against its gold labels (issue 18).

Runs the embedded runner over the bundled demo sites (as ``newswire demo``, into a
temporary database), then compares what the index holds with the corpus's labels
(``event``, ``copy_of``; never read by the pipeline): pairwise precision and recall of
``duplicate_of`` groups against wire copies, and of ``cluster_id`` against events, and
how many results a collapsed search returns against an expanded one.

    python bench/demo_groups.py [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from itertools import combinations
from pathlib import Path

from pipeline.demo.server import DemoServer, corpus
from pipeline.index import SearchQuery
from pipeline.runner import Runner
from pipeline.settings import Settings


def pairs(groups: dict[str, str]) -> set[frozenset[str]]:
    """Unordered pairs of keys that share a group."""
    members: dict[str, list[str]] = defaultdict(list)
    for key, group in groups.items():
        members[group].append(key)
    return {frozenset(p) for m in members.values() for p in combinations(sorted(m), 2)}


def prf(got: set[frozenset[str]], gold: set[frozenset[str]]) -> dict[str, float | int]:
    hit = len(got & gold)
    return {
        "precision": round(hit / len(got), 3) if got else 1.0,
        "recall": round(hit / len(gold), 3) if gold else 1.0,
        "pairs_gold": len(gold),
        "pairs_found": len(got),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    _, articles = corpus()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=Path(tmp) / "demo.db", per_host_delay=0.0)
        with DemoServer() as server:
            runner = Runner(settings, fetcher=server.fetcher(settings))
            server.add_feeds(runner.store)
            runner.run_once()
            everything = runner.index.search(SearchQuery(limit=200, collapse=False, facets=False))
            collapsed = runner.index.search(SearchQuery(limit=200, facets=False))
            by_slug = {}
            for hit in everything.hits:
                article = runner.index.get(hit.id)
                if article is not None:
                    by_slug[hit.url.rstrip("/").rsplit("/", 1)[-1]] = article
            runner.close()
    slug_of = {a.id: slug for slug, a in by_slug.items()}
    gold_copy = {a.slug: a.copy_of or a.slug for a in articles}
    gold_event = {a.slug: a.event or a.slug for a in articles}
    got_copy = {s: slug_of.get(a.duplicate_of or "", s) for s, a in by_slug.items()}
    got_event = {s: a.cluster_id or a.id for s, a in by_slug.items()}
    report = {
        "stories": len(by_slug),
        "near_duplicates": prf(pairs(got_copy), pairs(gold_copy)),
        "events": prf(pairs(got_event), pairs(gold_event)),
        "results_expanded": everything.total,
        "results_collapsed": collapsed.total,
        "gold_events": len(set(gold_event.values())),
    }
    print(json.dumps(report, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
