"""Bulk indexing and search latency, SQLite vs OpenSearch, at 10k and 100k articles.

    python bench/index.py [--sizes 10000 100000] [--opensearch URL] [--queries 200]

Synthetic analysed articles (seeded, realistic sizes: ~250-word bodies, entities,
quotes, stances) go through each backend's ``upsert_many``; then a fixed mix of
searches (words, phrases, OR/NOT, filters, all with facets) is timed one by one.
Without --opensearch, a node is started with scripts/opensearch. Prints one JSON
object and writes bench/results/index.json. Compare backends within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
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
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
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
                published_at=start + timedelta(minutes=37 * i),
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
    return out


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


def measure(index: Index, docs: list[Article], mix: list[SearchQuery]) -> dict[str, Any]:
    started = time.perf_counter()
    for i in range(0, len(docs), 1000):
        index.upsert_many(docs[i : i + 1000])
    index.refresh()
    seconds = time.perf_counter() - started
    for q in mix[:10]:  # warm caches as a running service would have them
        index.search(q)
    latencies = []
    for q in mix:
        t = time.perf_counter()
        index.search(q)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    return {
        "docs": len(docs),
        "bulk_docs_per_s": round(len(docs) / seconds),
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "count": index.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--opensearch", default=os.environ.get("NEWSWIRE_TEST_OPENSEARCH_URL"))
    args = parser.parse_args()
    url = (
        args.opensearch
        or subprocess.run(
            [ROOT / "scripts" / "opensearch", "start"], capture_output=True, text=True, check=True
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
        docs = synthetic(size)
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = SqliteIndex(Path(tmp) / "bench.db")
            results["runs"].append({"backend": "sqlite", **measure(sqlite, docs, mix)})
            sqlite.close()
        engine = EngineIndex(
            OpenSearchClient(url, timeout=120),
            alias=f"bench-{uuid.uuid4().hex[:6]}",
            batch_size=500,
        )
        try:
            results["runs"].append({"backend": "opensearch", **measure(engine, docs, mix)})
        finally:
            for name in engine.client.indices_for(engine.alias):
                engine.client.delete_index(name)
            engine.close()
        print(json.dumps(results["runs"][-2:]), flush=True)
    out = Path(__file__).parent / "results" / "index.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
