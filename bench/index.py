"""Bulk indexing and search latency, SQLite vs OpenSearch, at 10k and 100k articles.

    python bench/index.py [--sizes 10000 100000] [--backends sqlite opensearch]
                          [--opensearch URL] [--queries 200] [--out FILE]

Synthetic analysed articles (seeded, realistic sizes: ~250-word bodies, entities,
quotes, stances) go through each backend's ``upsert_many``; then a fixed mix of
searches (words, phrases, OR/NOT, filters, all with facets) is timed one by one
(``search_p50_ms``/``search_p95_ms``). The same mix is then split: p95 of the
queries with words and no filter, without facets (``p95_words_ms``); of the
queries with filters, without facets (``p95_filters_ms``) and with them
(``p95_filters_facets_ms``), and the load average when they ended. SQLite also
reports its file size. Without --opensearch, a node is started with
scripts/opensearch (only if that backend is asked for). Prints one JSON object and writes bench/results/index.json (or --out).
Compare backends, and before/after, within one run: the machine is shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.index import Index, SearchQuery
from pipeline.index.engine import EngineIndex
from pipeline.index.opensearch import OpenSearchClient
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, Entity, Quote, Stance

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "council bridge vote budget tax energy wind grid court ruling minister mayor harbour port "
    "strike union deal tariff steel trade chip plant water housing rent police school hospital "
    "election campaign poll senator law privacy data fine merger appeal climate storm flood "
    "transit fare rail airport jobs workers wages inflation interest bank market shares profit"
).split()
FILLER = "the of and to in a is that for on with as was by at from said it has will".split()
PEOPLE = [
    f"{f} {s}"
    for f in ("Ana", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hal", "Ivo", "Jun")
    for s in ("Alder", "Brook", "Crane", "Dale", "Ellis", "Frost", "Grey", "Hart", "Irons", "Jay")
]
ORGS = [f"{w.title()} {k}" for w in WORDS[:30] for k in ("Authority", "Council", "Group")]
SOURCES = [f"outlet{i}.example" for i in range(40)]


def synthetic(n: int, seed: int = 7) -> list[Article]:
    return [a for batch in batches(n, seed) for a in batch]


def batches(n: int, seed: int = 7, size: int = 1000) -> Iterator[list[Article]]:
    """The same articles as ``synthetic``, made ``size`` at a time (1M do not fit at once)."""
    rng = random.Random(seed)
    # spread over ten past months whatever n is: the model drops dates in the future,
    # which left most of a large corpus undated once the clock passed its last days
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = (datetime(2026, 11, 1, tzinfo=UTC) - start) / max(n, 1)
    out: list[Article] = []
    for i in range(n):
        if len(out) == size:
            yield out
            out = []
        topic = rng.sample(WORDS, 4)
        # topic words ~15% of tokens, function words ~45%, the rest a long tail of rarer words
        body = " ".join(
            rng.choice(topic)
            if r < 0.15
            else rng.choice(FILLER)
            if r < 0.6
            else f"w{int(rng.paretovariate(1.1)) % 20000}"
            for r in (rng.random() for _ in range(250))
        )
        people = rng.sample(PEOPLE, 3)
        org = rng.choice(ORGS)
        out.append(
            Article(
                id=f"b{i:07d}",
                url=f"https://{SOURCES[i % 40]}/{i}",
                canonical_url=f"https://{SOURCES[i % 40]}/{i}",
                source=SOURCES[i % 40],
                title=f"{topic[0].title()} {topic[1]} {topic[2]} as {people[0]} speaks",
                summary=body[:200],
                body=body,
                language="en",
                published_at=start + step * i,
                entities=[
                    Entity(
                        name=p,
                        type="PERSON",
                        mentions=rng.randint(1, 5),
                        salience=round(rng.random(), 3),
                        aliases=[p.split()[1]],
                    )
                    for p in people
                ]
                + [Entity(name=org, type="ORG", mentions=2, salience=0.4)],
                quotes=[
                    Quote(
                        speaker=people[0],
                        speaker_type="PERSON",
                        cue="said",
                        text=body[:120],
                        direct=True,
                        start=0,
                        end=120,
                    )
                ],
                stances=[
                    Stance(
                        holder=people[0],
                        target=org,
                        stance=rng.choice(["favor", "against", "neutral"]),
                        confidence=0.7,
                        evidence=body[:100],
                    )
                ],
            )
        )
    yield out


def queries(n: int, seed: int = 11) -> list[SearchQuery]:
    rng = random.Random(seed)
    mix = []
    for i in range(n):
        a, b = rng.sample(WORDS, 2)
        mix.append(
            [
                SearchQuery(text=a),
                SearchQuery(text=f"{a} {b}"),
                SearchQuery(text=f'"{a} {b}"'),
                SearchQuery(text=f"{a} OR {b} -{rng.choice(WORDS)}"),
                SearchQuery(text=a, entity=rng.choice(PEOPLE)),
                SearchQuery(speaker=rng.choice(PEOPLE), stance="against"),
                SearchQuery(text=a, source=rng.choice(SOURCES), sort="date"),
                SearchQuery(type="ORG", since=datetime(2026, 3, 1, tzinfo=UTC)),
            ][i % 8]
        )
    return mix


def _filtered(q: SearchQuery) -> bool:
    return any(getattr(q, f) for f in ("entity", "type", "speaker", "stance", "source", "since"))


def _timed(index: Index, mix: list[SearchQuery]) -> list[float]:
    latencies = []
    for q in mix:
        t = time.perf_counter()
        index.search(q)
        latencies.append((time.perf_counter() - t) * 1000)
    return sorted(latencies)


def _p95(latencies: list[float]) -> float:
    return round(latencies[int(0.95 * (len(latencies) - 1))], 2)


def measure(index: Index, n: int, mix: list[SearchQuery]) -> dict[str, Any]:
    """Index ``n`` synthetic articles in batches of 1000, then time the mix: whole,
    and split as the module says."""
    started = time.perf_counter()
    for batch in batches(n):
        index.upsert_many(batch)
    index.refresh()
    build_s = time.perf_counter() - started
    for q in mix[:10]:  # warm caches as a running service would have them
        index.search(q)
    latencies = _timed(index, mix)
    bare = [dataclasses.replace(q, facets=False) for q in mix]
    return {
        "docs": n,
        "build_s": round(build_s, 1),
        "bulk_docs_per_s": round(n / build_s),
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p95_ms": _p95(latencies),
        "p95_words_ms": _p95(_timed(index, [q for q in bare if q.text and not _filtered(q)])),
        "p95_filters_ms": _p95(_timed(index, [q for q in bare if _filtered(q)])),
        "p95_filters_facets_ms": _p95(_timed(index, [q for q in mix if _filtered(q)])),
        "count": index.count(),
        # the machine is shared: its 1/5/15-minute load when the timing ended
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "opensearch"])
    parser.add_argument("--opensearch", default=os.environ.get("NEWSWIRE_TEST_OPENSEARCH_URL"))
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "index.json"
    )
    args = parser.parse_args()
    url = ""
    if "opensearch" in args.backends:
        url = (
            args.opensearch
            or subprocess.run(
                [ROOT / "scripts" / "opensearch", "start"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[-1]
        )
    mix = queries(args.queries)
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "opensearch_heap": "1g",
        "queries": len(mix),
        "runs": [],
    }
    for size in args.sizes:
        if "sqlite" in args.backends:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "bench.db"
                sqlite = SqliteIndex(path)
                run = measure(sqlite, size, mix)
                sqlite.close()
                run["file_mb"] = round(path.stat().st_size / 2**20)
            results["runs"].append({"backend": "sqlite", **run})
            print(json.dumps(results["runs"][-1]), flush=True)
        if "opensearch" not in args.backends:
            continue
        engine = EngineIndex(
            OpenSearchClient(url, timeout=120),
            alias=f"bench-{uuid.uuid4().hex[:6]}",
            batch_size=500,
        )
        try:
            results["runs"].append({"backend": "opensearch", **measure(engine, size, mix)})
        finally:
            for name in engine.client.indices_for(engine.alias):
                engine.client.delete_index(name)
            engine.close()
        print(json.dumps(results["runs"][-1]), flush=True)
    out = args.out
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
