"""Throughput against the NLP limit, in one run on one machine.

    python bench/throughput.py [--texts DIR] [--copies N] [--sqlite | --opensearch URL]
                               [--embedded-only | --distributed-only]

Realistic articles: the PolNeAR dev texts (84 news articles, ~900 words each; read
from ``../shared/data``, never copied), served as N copies of HTML pages and RSS
feeds (8 per copy) by a server on 127.0.0.1. Measured, each with one process per
core (P = cores):

- limit: the analysis models alone (spaCy pipeline over the bodies with
  ``nlp.pipe``, the target-sentiment model over each article's targets, the claim
  model over each headline and body), the inputs captured beforehand in other
  processes, so that the models meet each text for the first time, as every mode's
  processes do (``limit_warm``: the same a second time, the limit measured before);
- analyze: the whole ``analyze_batch`` stage on the same articles, in fresh processes;
- embedded: the embedded runner end to end (poll, fetch, extract, analyze in P
  processes, index into SQLite), models loaded before the clock starts;
- distributed: the compose services' own commands run natively (redis-server,
  worker-io with 8 threads, worker-nlp with P prefork processes, beat) into the
  OpenSearch test node (started with ``scripts/opensearch`` unless ``--opensearch``
  names one; ``--sqlite`` indexes into SQLite instead).

Prints one JSON object and writes it to bench/results/throughput.json: articles/s
of each and its ratio to the limit, the limit's CPU over each mode's CPU for the same
articles (the ratio a busy machine does not move), tasks/s, peak RSS per process
type, and where the distributed wall time went (worker-nlp's log: the first analysis
received, the last one done, the seconds its pool spent inside analysis tasks).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.limit import per_core  # noqa: E402
from bench.services import (  # noqa: E402
    RedisServer,
    Service,
    proc_cpu_seconds,
    proc_peak_rss_mb,
    wait_until,
)
from pipeline.models import Extracted  # noqa: E402
from pipeline.nlp import load_model  # noqa: E402
from pipeline.runner import Runner  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store.redis import RedisStore  # noqa: E402

FEEDS_PER_COPY = 8


def load_texts(directory: Path) -> list[tuple[str, str]]:
    """(title, body) of each text file: the title on its first line."""
    out = []
    for path in sorted(directory.glob("*.txt")):
        title, _, body = path.read_text(encoding="utf-8").strip().partition("\n")
        out.append((title.strip(), body.strip()))
    if not out:
        raise SystemExit(f"no .txt articles under {directory}")
    return out


def render_page(title: str, body: str, canonical: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n") if p.strip())
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f'</title><link rel="canonical" href="{canonical}"></head><body><header><nav>'
        '<a href="/">Home</a> <a href="/politics">Politics</a></nav></header><main><article>'
        f"<h1>{html.escape(title)}</h1>{paragraphs}</article></main>"
        "<footer>© Bench News</footer></body></html>"
    )


class PagesHandler(BaseHTTPRequestHandler):
    """``/c{n}/f{k}.xml``: feed k of copy n; ``/c{n}/a{i}.html``: article i of copy n."""

    server: ThreadingHTTPServer
    texts: Sequence[tuple[str, str]] = ()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if m := re.fullmatch(r"/c(\d+)/f(\d+)\.xml", self.path):
            copy, feed = m.groups()
            items = "".join(
                f"<item><title>{html.escape(title)}</title>"
                f"<link>{base}/c{copy}/a{i}.html</link><guid>c{copy}-a{i}</guid></item>"
                for i, (title, _) in enumerate(self.texts)
                if i % FEEDS_PER_COPY == int(feed)
            )
            rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{feed}</title>{items}</channel></rss>'
            return self._send(200, rss, "application/rss+xml")
        if (m := re.fullmatch(r"/c(\d+)/a(\d+)\.html", self.path)) and int(m.group(2)) < len(
            self.texts
        ):
            title, body = self.texts[int(m.group(2))]
            page = render_page(title, body, f"https://bench.example{self.path}")
            return self._send(200, page, "text/html; charset=utf-8")
        return self._send(404, "not found", "text/plain")

    def _send(self, status: int, body: str, ctype: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# End to end ----------------------------------------------------------------------------


def feed_list(base: str, copies: int) -> list[dict[str, str]]:
    return [
        {"url": f"{base}/c{n}/f{k}.xml", "name": f"bench {n}/{k}"}
        for n in range(copies)
        for k in range(FEEDS_PER_COPY)
    ]


def run_embedded(tmp: Path, feeds: list[dict[str, str]], processes: int) -> dict[str, Any]:
    settings = Settings(
        db=tmp / "embedded.db",
        allow_private_hosts=True,
        per_host_delay=0.0,
        per_host_concurrency=8,
        claims_file=tmp / "none.yaml",
        analysis_processes=processes,
    )
    runner = Runner(settings)
    runner.analyzer.warm_up()  # model loads are not steady-state throughput
    pool = runner.analyzer._pool
    children = [p.pid for p in pool._processes.values() if p.pid] if pool else []
    for f in feeds:
        runner.store.add_feed(f["url"], f["name"], interval=300)
    cpu = [time.process_time(), *map(proc_cpu_seconds, children)]
    started = time.perf_counter()
    report = runner.run_once()
    seconds = time.perf_counter() - started
    cpu_after = [time.process_time(), *map(proc_cpu_seconds, children)]
    rss = [proc_peak_rss_mb(pid) for pid in children]
    runner.close()
    used = [round(b - a, 1) for a, b in zip(cpu, cpu_after, strict=True)]
    return {
        "articles": report.indexed,
        "failed": report.failed,
        "seconds": seconds,
        "cpu_seconds": {"runner": used[0], "analysis": used[1:]},
        "peak_rss_mb": {"runner": proc_peak_rss_mb(os.getpid()), "analysis": rss},
    }


def run_distributed(
    tmp: Path, feeds: list[dict[str, str]], expected: int, opensearch: str | None
) -> dict[str, Any]:
    pidfile = ROOT / ".cache" / "opensearch" / "node.pid"
    node_pid = int(pidfile.read_text()) if opensearch and pidfile.exists() else 0
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
    assert redis.proc is not None

    def cpu() -> dict[str, list[float]]:
        """CPU seconds so far of each process of each service (main first) and engine."""
        engine = {"opensearch": [proc_cpu_seconds(node_pid)]} if node_pid else {}
        engine["redis"] = [proc_cpu_seconds(redis.proc.pid)]  # type: ignore[union-attr]
        return {s.name: [proc_cpu_seconds(p) for p in s._group()] for s in services} | engine

    try:
        # Wait for both workers, then until every process is done starting (the nlp
        # processes load their models after the worker reports ready): the clock
        # starts when the services together use under 0.1 s of CPU in a second.
        wait_until(lambda: len(store.live_workers()) == 2, 180, "two live workers")
        cpu_before = cpu()
        for _ in range(120):
            time.sleep(1)
            cpu_before, previous = cpu(), cpu_before
            if sum_cpu(cpu_before) - sum_cpu(previous) < 0.1:
                break
        started, started_at = time.perf_counter(), time.time()
        (tmp / "feeds.yaml").write_text(yaml.safe_dump({"feeds": feeds}))

        def done() -> int:
            return sum(c.get("done", 0) for c in store.entry_counts().values())

        wait_until(lambda: done() >= expected, 1800, "every article indexed", every=0.1)
        seconds = time.perf_counter() - started
        # one number per service, but worker-nlp's per process: its main process apart
        used: dict[str, Any] = {
            k: [round(b - a, 1) for a, b in zip(cpu_before[k], v, strict=True)]
            for k, v in cpu().items()
        }
        used = {k: v if k == "worker-nlp" else round(sum(v), 1) for k, v in used.items()}
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
    return {
        "articles": expected,
        "seconds": seconds,
        "tasks": dict(tasks),
        "task_total": sum(n for name, n in tasks.items() if name != "tick"),
        "timeline": timeline(services[1].log.read_text(), started_at),
        "cpu_seconds": used,
        "peak_rss_mb": memory,
    }


_LOG_LINE = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): \w+/[^\]]+\] Task newswire\.analyze_article"
    r"\[[^\]]+\] (received|succeeded in ([\d.]+)s)",
    re.M,
)


def timeline(nlp_log: str, started_at: float) -> dict[str, float]:
    """Where the distributed wall time went, from worker-nlp's log: seconds from the
    clock's start to the first analysis received and to the last one done, and the
    seconds the pool processes spent inside analysis tasks (all of them together)."""
    received, done, busy = [], [], 0.0
    for stamp, what, took in _LOG_LINE.findall(nlp_log):
        at = time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + int(stamp[20:]) / 1000
        (received if what == "received" else done).append(at - started_at)
        busy += float(took or 0)
    if not received or not done:
        return {}
    return {
        "first_analysis_received_s": round(min(received), 2),
        "last_analysis_done_s": round(max(done), 2),
        "analysis_task_s": round(busy, 1),
    }


def sum_cpu(parts: dict[str, Any]) -> float:
    """CPU seconds of every process of a mode (lists are a service's processes)."""
    return sum(sum(v) if isinstance(v, list) else v for v in parts.values())


def opensearch_node(given: str | None) -> tuple[str, bool]:
    """The node's URL, and whether this run started it (and so stops it)."""
    if given:
        return given, False
    script = str(ROOT / "scripts" / "opensearch")
    running = subprocess.run([script, "url"], capture_output=True, text=True).stdout.strip()
    if running:
        return running, False
    started = subprocess.run([script, "start"], capture_output=True, text=True, check=True)
    return started.stdout.strip().splitlines()[-1], True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default_texts = ROOT.parent / "shared" / "data" / "polnear" / "dev" / "text"
    parser.add_argument("--texts", type=Path, default=default_texts, help="a folder of .txt")
    parser.add_argument("--copies", type=int, default=2, help="copies of the articles served")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--opensearch", help="index into this OpenSearch node")
    engine.add_argument("--sqlite", action="store_true", help="distributed mode into SQLite")
    parser.add_argument("--embedded-only", action="store_true", help="embedded articles/s only")
    parser.add_argument(
        "--distributed-only",
        action="store_true",
        help="the limit and the distributed mode only (printed, not written)",
    )
    args = parser.parse_args()

    texts = load_texts(args.texts)
    items = [Extracted(title=t, body=b) for t, b in texts] * args.copies
    PagesHandler.texts = texts
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), PagesHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    feeds = feed_list(f"http://127.0.0.1:{httpd.server_address[1]}", args.copies)
    if args.embedded_only:
        with tempfile.TemporaryDirectory() as tmp_name:
            run = run_embedded(Path(tmp_name), feeds, args.processes)
        httpd.shutdown()
        print(json.dumps(run | {"articles_per_s": round(run["articles"] / run["seconds"], 2)}))
        return
    limits = per_core(items, args.processes)
    url, started_node = (None, False) if args.sqlite else opensearch_node(args.opensearch)
    if args.distributed_only:
        try:
            with tempfile.TemporaryDirectory() as tmp_name:
                dist = run_distributed(Path(tmp_name), feeds, len(items), url)
        finally:
            httpd.shutdown()
            if started_node:
                subprocess.run([str(ROOT / "scripts" / "opensearch"), "stop"], capture_output=True)
        rate = dist["articles"] / dist["seconds"]
        print(
            json.dumps(
                dist
                | {
                    "limit_articles_per_s": limits["limit"],
                    "limit_warm_articles_per_s": limits["limit_warm"],
                    "articles_per_s": round(rate, 2),
                    "over_limit": round(rate / limits["limit"], 3),
                    "over_limit_warm": round(rate / limits["limit_warm"], 3),
                    "limit_cpu_over_cpu": round(
                        limits["limit_cpu_s"] / sum_cpu(dist["cpu_seconds"]), 3
                    ),
                    "limit_cpu_s": limits["limit_cpu_s"],
                    "limit_warm_cpu_s": limits["limit_warm_cpu_s"],
                    "analyze_cpu_s": limits["analyze_cpu_s"],
                },
                indent=2,
            )
        )
        return
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            embedded = run_embedded(tmp, feeds, args.processes)
            dist = run_distributed(tmp, feeds, embedded["articles"], url)
    finally:
        httpd.shutdown()
        if started_node:
            subprocess.run([str(ROOT / "scripts" / "opensearch"), "stop"], capture_output=True)

    limit = limits["limit"]
    embedded_rate = embedded["articles"] / embedded["seconds"]
    dist_rate = dist["articles"] / dist["seconds"]
    nlp = load_model()
    result = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "model": f"{nlp.meta['name']} {nlp.meta['version']} + news NER + sentiment (int8 ONNX)",
        "articles": len(items),
        "texts": str(args.texts),
        "processes": args.processes,
        "limit_articles_per_s": limit,
        # the models alone over texts their processes had analysed already (how the
        # limit was measured before), and each mode's articles/s over it
        "limit_warm_articles_per_s": limits["limit_warm"],
        "over_limit_warm": {
            "analyze": round(limits["analyze"] / limits["limit_warm"], 3),
            "embedded": round(embedded_rate / limits["limit_warm"], 3),
            "distributed": round(dist_rate / limits["limit_warm"], 3),
        },
        "analyze_articles_per_s": limits["analyze"],
        "analyze_over_limit": round(limits["analyze"] / limit, 3),
        "embedded_articles": embedded["articles"],
        "embedded_failed": embedded["failed"],
        "embedded_articles_per_s": round(embedded_rate, 2),
        "embedded_over_limit": round(embedded_rate / limit, 3),
        "distributed_index": "opensearch" if url else "sqlite",
        "distributed_articles_per_s": round(dist_rate, 2),
        "distributed_over_limit": round(dist_rate / limit, 3),
        "distributed_tasks": dist["tasks"],
        "distributed_tasks_per_s": round(dist["task_total"] / dist["seconds"], 2),
        # The limit's CPU over each mode's for the same articles (1: the models alone): a
        # busy machine moves no CPU time, but the phases above may meet different loads
        "limit_cpu_over_cpu": {
            "analyze": round(limits["limit_cpu_s"] / limits["analyze_cpu_s"], 3),
            "embedded": round(limits["limit_cpu_s"] / sum_cpu(embedded["cpu_seconds"]), 3),
            "distributed": round(limits["limit_cpu_s"] / sum_cpu(dist["cpu_seconds"]), 3),
        },
        # CPU seconds each part used while the clock ran (2 cores: 2 s per second)
        "cpu_seconds": {
            "limit": limits["limit_cpu_s"],
            "limit_warm": limits["limit_warm_cpu_s"],
            "analyze": limits["analyze_cpu_s"],
            "embedded": {"wall": round(embedded["seconds"], 1), **embedded["cpu_seconds"]},
            "distributed": {"wall": round(dist["seconds"], 1), **dist["cpu_seconds"]},
        },
        "peak_rss_mb": {
            "analysis_process": limits["peak_rss_mb_per_process"],
            "embedded": embedded["peak_rss_mb"],
            # per service: the main process, then its pool processes
            "distributed": dist["peak_rss_mb"],
        },
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results" / "throughput.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
