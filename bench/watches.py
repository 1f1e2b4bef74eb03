"""How long matching a freshly indexed batch against saved searches takes.

    python bench/watches.py [--size 10000] [--watches 100] [--batch 50]
                            [--opensearch URL] [--rounds 5] [--out FILE]

An index of ``--size`` synthetic articles (``bench/index.py``'s), then a batch of
``--batch`` more written after them; ``--watches`` saved searches from
``bench/index.py``'s query mix (words, phrases, OR/NOT, entity, speaker and stance,
source, type and date filters). Times the matcher of each backend over the batch
(``match_ms``: median of ``--rounds``; SQLite runs one query per watch, OpenSearch one
percolate search, its queries registered before timing). Prints one JSON object and
writes bench/results/watches.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.index import queries, synthetic
from pipeline.index import Index
from pipeline.index.engine import EngineIndex
from pipeline.index.opensearch import OpenSearchClient
from pipeline.index.sqlite import SqliteIndex
from pipeline.watch_model import Watch, WatchFilters
from pipeline.watches import matcher_for

RESULTS = Path(__file__).parent / "results"


def make_watches(n: int) -> list[Watch]:
    now = datetime.now(UTC)
    out = []
    for i, q in enumerate(queries(n)):
        filters = WatchFilters(**{k: getattr(q, k) for k in WatchFilters.model_fields})
        out.append(Watch(id=f"w{i}", query=q.text, filters=filters, created_at=now))
    return out


def measure(
    index: Index, size: int, batch_size: int, n_watches: int, rounds: int
) -> dict[str, Any]:
    articles = synthetic(size + batch_size)
    old, batch = articles[:size], articles[size:]
    for start in range(0, len(old), 1000):
        index.upsert_many(old[start : start + 1000])
    index.upsert_many(batch)
    watches = make_watches(n_watches)
    matcher = matcher_for(index)
    found = matcher.match(watches, batch)  # registers the percolator queries
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        matcher.match(watches, batch)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "match_ms": round(statistics.median(times), 1),
        "match_max_ms": round(max(times), 1),
        "per_watch_ms": round(statistics.median(times) / n_watches, 2),
        "watches_matching": len(found),
        "pairs": sum(len(v) for v in found.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--watches", type=int, default=100)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--opensearch", default=None, help="URL of a node (percolator module loaded)")
    ap.add_argument("--out", type=Path, default=RESULTS / "watches.json")
    args = ap.parse_args()
    result: dict[str, Any] = {
        "size": args.size,
        "watches": args.watches,
        "batch": args.batch,
    }
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteIndex(Path(tmp) / "bench.db")
        result["sqlite"] = measure(sqlite, args.size, args.batch, args.watches, args.rounds)
        sqlite.close()
    if args.opensearch:
        engine = EngineIndex(
            OpenSearchClient(args.opensearch), alias=f"bench-{uuid.uuid4().hex[:8]}"
        )
        try:
            result["opensearch"] = measure(engine, args.size, args.batch, args.watches, args.rounds)
        finally:
            for name in [*engine.client.indices_for(engine.alias), f"{engine.alias}-watches"]:
                engine.client.delete_index(name)
            engine.close()
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
