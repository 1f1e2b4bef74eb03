"""Distributed mode against the embedded runner, on the same input in the same run.

    python bench/distributed.py [--copies N] [--opensearch URL]

Serves N copies of the demo sites (3 feeds x 30 articles each, every copy its own
canonical URLs) on 127.0.0.1, then ingests them twice: with the embedded runner
(SQLite), and with the compose services' own commands run natively (redis-server,
worker-io with 8 threads, worker-nlp with one prefork process per core, beat) into
SQLite, or OpenSearch with ``--opensearch``. Also measures the analysis alone in one
process, the limit both runners chase. Prints one JSON object and writes it to
bench/results/distributed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.embedded import demo_texts  # noqa: E402
from pipeline.analyze import analyze_batch  # noqa: E402
from pipeline.demo.server import canonical_url, corpus, render_feed, render_page  # noqa: E402
from pipeline.nlp import load_model  # noqa: E402
from pipeline.runner import Runner  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store.redis import RedisStore  # noqa: E402
from tests.integration.services import RedisServer, Service, wait_until  # noqa: E402


class CopiesHandler(BaseHTTPRequestHandler):
    """``/c{n}/{feed}/feed.xml`` and ``/c{n}/{feed}/{slug}.html``: copy n of the demo sites."""

    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        feeds, articles = corpus()
        m = re.fullmatch(r"/c(\d+)/([\w-]+)/([\w.-]+)", self.path.split("?", 1)[0])
        feed = next((f for f in feeds if m and f.slug == m.group(2)), None)
        if m is None or feed is None:
            return self._send(404, "not found", "text/plain")
        copy, name = m.group(1), m.group(3)
        mine = [a for a in articles if a.feed == feed.slug]
        base = f"http://127.0.0.1:{self.server.server_address[1]}/c{copy}"
        if name == "feed.xml":
            return self._send(200, render_feed(feed, mine, base), "application/rss+xml")
        article = next((a for a in mine if f"{a.slug}.html" == name), None)
        if article is None or article.page == "missing":
            return self._send(404, "<h1>Page not found</h1>", "text/html")
        page = render_page(feed, article)
        canonical = canonical_url(feed, article)
        page = page.replace(canonical, canonical.replace(".example/", f".example/c{copy}/", 1))
        return self._send(200, page, "text/html; charset=utf-8")

    def _send(self, status: int, body: str, ctype: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def feed_list(base: str, copies: int) -> list[dict[str, str]]:
    feeds, _ = corpus()
    return [
        {"url": f"{base}/c{n}/{f.slug}/feed.xml", "name": f"{f.title} #{n}"}
        for n in range(copies)
        for f in feeds
    ]


def run_embedded(tmp: Path, feeds: list[dict[str, str]], nlp: Any) -> tuple[int, float]:
    settings = Settings(
        db=tmp / "embedded.db",
        allow_private_hosts=True,
        per_host_delay=0.0,
        per_host_concurrency=8,
        claims_file=tmp / "none.yaml",
    )
    runner = Runner(settings, nlp=nlp)
    for f in feeds:
        runner.store.add_feed(f["url"], f["name"], interval=300)
    started = time.perf_counter()
    report = runner.run_once()
    seconds = time.perf_counter() - started
    runner.close()
    return report.indexed, seconds


def run_distributed(
    tmp: Path, feeds: list[dict[str, str]], expected: int, opensearch: str | None
) -> dict[str, Any]:
    redis = RedisServer(tmp / "redis")
    redis.start()
    env = {
        "NEWSWIRE_CONFIG": str(tmp / "no-config.yaml"),
        "NEWSWIRE_STORE": "redis",
        "NEWSWIRE_BROKER_URL": redis.url,
        "NEWSWIRE_BACKEND": "opensearch" if opensearch else "sqlite",
        "NEWSWIRE_OPENSEARCH_URL": opensearch or "",
        "NEWSWIRE_INDEX_NAME": f"bench-{os.getpid()}",
        "NEWSWIRE_DB": str(tmp / "distributed.db"),
        "NEWSWIRE_FEEDS_FILE": str(tmp / "feeds.yaml"),
        "NEWSWIRE_CLAIMS_FILE": str(tmp / "none.yaml"),
        "NEWSWIRE_ALLOW_PRIVATE_HOSTS": "true",
        "NEWSWIRE_PER_HOST_DELAY": "0",
        "NEWSWIRE_PER_HOST_CONCURRENCY": "8",
        "NEWSWIRE_POLL_HOST_BATCH": "1000",
        "NEWSWIRE_BEAT_INTERVAL": "1",
    }
    services = [Service(name, env, tmp) for name in ("worker-io", "worker-nlp", "beat")]
    store = RedisStore.from_settings(Settings(store="redis", broker_url=redis.url))
    try:
        # Wait for both workers (and every nlp process's model) before the clock starts.
        wait_until(lambda: len(store.live_workers()) == 2, 180, "two live workers")
        time.sleep(3)
        started = time.perf_counter()
        (tmp / "feeds.yaml").write_text(yaml.safe_dump({"feeds": feeds}))

        def done() -> int:
            return sum(c.get("done", 0) for c in store.entry_counts().values())

        wait_until(lambda: done() >= expected, 1800, "every article indexed", every=0.1)
        seconds = time.perf_counter() - started
        memory = {s.name: s.peak_rss_mb() for s in services}
    finally:
        for s in services:
            s.stop()
        store.close()
        redis.stop()
    tasks = Counter(
        m.group(1)
        for s in services
        for m in re.finditer(r"Task newswire\.(\w+)\[[^\]]+\] succeeded", s.log.read_text())
    )
    total = sum(n for name, n in tasks.items() if name != "tick")
    return {
        "articles": expected,
        "seconds": seconds,
        "tasks": dict(tasks),
        "task_total": total,
        "peak_rss_mb": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=10, help="copies of the 3 demo feeds")
    parser.add_argument("--opensearch", help="index into this OpenSearch node, not SQLite")
    args = parser.parse_args()

    nlp = load_model()
    texts = demo_texts()
    analyze_batch(nlp, texts[:4])  # warm up
    started = time.perf_counter()
    for _ in range(3):
        analyze_batch(nlp, texts, batch_size=16)
    limit_rate = 3 * len(texts) / (time.perf_counter() - started)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CopiesHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    feeds = feed_list(base, args.copies)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        indexed, embedded_s = run_embedded(tmp, feeds, nlp)
        dist = run_distributed(tmp, feeds, indexed, args.opensearch)
    httpd.shutdown()

    embedded_rate = indexed / embedded_s
    dist_rate = dist["articles"] / dist["seconds"]
    result = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "model": f"{nlp.meta['name']} {nlp.meta['version']}",
        "index": "opensearch" if args.opensearch else "sqlite",
        "articles": indexed,
        "analyze_one_process_articles_per_s": round(limit_rate, 2),
        "embedded_seconds": round(embedded_s, 2),
        "embedded_articles_per_s": round(embedded_rate, 2),
        "distributed_workers": "worker-io (8 threads) + worker-nlp (prefork, one process per core) + beat",
        "distributed_seconds": round(dist["seconds"], 2),
        "distributed_articles_per_s": round(dist_rate, 2),
        "distributed_tasks": dist["tasks"],
        "distributed_tasks_per_s": round(dist["task_total"] / dist["seconds"], 2),
        "distributed_over_embedded": round(dist_rate / embedded_rate, 3),
        # per service: the main process, then its pool processes (worker-nlp: one per core)
        "distributed_peak_rss_mb": dist["peak_rss_mb"],
        "embedded_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "distributed.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
