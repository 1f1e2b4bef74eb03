"""Freshness: how long from a story appearing in a live feed to being searchable.

    python bench/freshness.py [--feeds 20] [--every 20] [--interval 10] [--seconds 120] [--mode embedded|distributed|both]

A server in another process publishes on a fixed schedule: each of F feeds gains a
story every ``every`` seconds (offset so that stories arrive evenly, F/every per
second overall), with a realistic page (demo-corpus paragraphs). Newswire polls each
feed every ``interval`` seconds. For every story published after the warm-up, the
delay from its publication to the moment its entry was marked done (after the index
write, a committed SQLite write: searchable) is taken, and apart its two parts: to the
moment the server sent the page (publication to fetch: the polling delay) and from
there to searchable (the pipeline's own cadence); p50/p95 per mode. Distributed runs the compose services' commands
natively (redis-server, worker-io, worker-nlp, beat) with SQLite as the index. Prints
one JSON object and writes bench/results/freshness.json.
"""

from __future__ import annotations

import argparse
import html
import json
import multiprocessing
import os
import platform
import queue
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.services import RedisServer, Service, wait_until  # noqa: E402
from pipeline.demo.server import corpus  # noqa: E402
from pipeline.models import Article  # noqa: E402
from pipeline.runner import Runner  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.steps import Fetched  # noqa: E402
from pipeline.store.redis import RedisStore, entry_ref  # noqa: E402


class Schedule:
    """Feed n's story k is published at start + (n / feeds + k) * every."""

    def __init__(self, start: float, feeds: int, every: float) -> None:
        self.start, self.feeds, self.every = start, feeds, every

    def published(self, n: int, k: int) -> float:
        return self.start + (n / self.feeds + k) * self.every

    def latest(self, n: int, now: float) -> int:
        return int((now - self.start) / self.every - n / self.feeds)


class Handler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        schedule: Schedule = self.server.schedule
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        n = int(parts[0].removeprefix("f"))
        if parts[1] == "feed.xml":
            latest = schedule.latest(n, time.time())
            items = "".join(
                f"<item><title>Feed {n} story {k}</title><link>{self.server.base}/f{n}/s{k}.html</link>"
                f'<guid isPermaLink="false">f{n}-s{k}</guid>'
                f"<pubDate>{format_datetime(datetime.fromtimestamp(schedule.published(n, k), UTC))}</pubDate></item>"
                for k in range(max(0, latest - 9), latest + 1)
            )
            body = (
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
                f"<link>{self.server.base}/</link><description>x</description>{items}</channel></rss>"
            )
            return self._send(body, "application/rss+xml")
        k = int(parts[1].removeprefix("s").removesuffix(".html"))
        article = self.server.articles[(n * 7 + k) % len(self.server.articles)]
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
        page = (
            f"<!doctype html><html><head><title>Feed {n} story {k}</title></head><body><article>"
            f"<h1>Feed {n} story {k}: {html.escape(article.title)}</h1>{paragraphs}</article></body></html>"
        )
        self._send(page, "text/html; charset=utf-8")
        self.server.served.put((n, k, time.time()))  # the fetch: the page has been sent

    def _send(self, body: str, ctype: str) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(
    schedule: Schedule,
    ports: multiprocessing.Queue[int],
    served: multiprocessing.Queue[tuple[int, int, float]],
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.schedule = schedule  # type: ignore[attr-defined]
    server.served = served  # type: ignore[attr-defined]
    server.base = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    server.articles = corpus()[1]  # type: ignore[attr-defined]
    ports.put(server.server_address[1])
    server.serve_forever()


def delays(
    done: dict[tuple[int, int], float],
    fetched: dict[tuple[int, int], float],
    schedule: Schedule,
    after: float,
    until: float,
) -> dict[str, list[float]]:
    """Of the stories published in [after, until): publication to searchable, and its
    two parts, publication to fetch (the polling delay) and fetch to searchable (the
    pipeline's own: extraction, analysis, batching, index write). A story never
    searchable counts as infinitely late in the first and last."""
    out: dict[str, list[float]] = {"published_to_searchable": [], "published_to_fetch": []}
    out["fetch_to_searchable"] = []
    for n in range(schedule.feeds):
        for k in range(schedule.latest(n, until) + 1):
            published = schedule.published(n, k)
            if not after <= published < until:
                continue
            searchable = done.get((n, k), float("inf"))
            out["published_to_searchable"].append(searchable - published)
            if (n, k) in fetched:
                out["published_to_fetch"].append(fetched[(n, k)] - published)
                out["fetch_to_searchable"].append(searchable - fetched[(n, k)])
            if (n, k) in fetched and (n, k) in analysed and searchable != float("inf"):
                # embedded only: extraction and batch lingering, the analysis (with its
                # wait for a free process), then the wait for the index write and commit
                parts = ("fetch_to_analysis", "analysis", "analysis_to_searchable")
                times = (fetched[(n, k)], submitted[(n, k)], analysed[(n, k)], searchable)
                for name, start, end in zip(parts, times, times[1:], strict=False):
                    out.setdefault(name, []).append(end - start)
    return {name: sorted(values) for name, values in out.items()}


def summary(values: list[float]) -> dict[str, Any]:
    finite = [v for v in values if v != float("inf")]

    def pick(p: float) -> float | None:
        return round(values[min(len(values) - 1, int(p * len(values)))], 2) if values else None

    return {
        "stories": len(values),
        "missed": len(values) - len(finite),
        "p50_s": pick(0.5),
        "p95_s": pick(0.95),
        "max_s": pick(1.0),
    }


def feed_urls(base: str, feeds: int) -> list[str]:
    return [f"{base}/f{n}/feed.xml" for n in range(feeds)]


Key = tuple[int, int]  # feed n, story k
submitted: dict[Key, float] = {}  # embedded: when a story's batch went to analysis
analysed: dict[Key, float] = {}  # and when that analysis ended


def story_key(url: str) -> Key:
    """(n, k) of ``…/f{n}/s{k}.html``."""
    feed, story = url.rsplit("/", 2)[-2:]
    return int(feed[1:]), int(story[1:].removesuffix(".html"))


def run_embedded(tmp: Path, base: str, args: argparse.Namespace) -> dict[tuple[int, int], float]:
    settings = Settings(
        db=tmp / "fresh.db",
        allow_private_hosts=True,
        per_host_delay=0.0,
        per_host_concurrency=8,
        respect_robots=False,
        poll_min_interval=args.interval,
        poll_max_interval=args.interval,
        poll_default_interval=args.interval,
        claims_file=tmp / "none.yaml",
    )
    runner = Runner(settings)
    runner.analyzer.warm_up()  # load the models before the clock matters
    submit = runner.analyzer.submit

    def timed_submit(items: list[Fetched]) -> Future[list[Article]]:
        """The runner's own submit, noting when each story went to analysis and when
        its analysis ended (the parts of fetch to searchable)."""
        keys = [story_key(f.item.entry.url) for f in items]
        for key in keys:
            submitted[key] = time.time()
        future = submit(items)

        def ended(_: Future[list[Article]]) -> None:
            for key in keys:
                analysed[key] = time.time()

        future.add_done_callback(ended)
        return future

    runner.analyzer.submit = timed_submit  # type: ignore[method-assign]
    for url in feed_urls(base, args.feeds):
        runner.store.add_feed(url, interval=args.interval)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop, lambda r: None), daemon=True)
    thread.start()
    time.sleep(args.seconds)
    stop.set()
    thread.join()
    done = {}
    for r in runner.store.records("done", limit=1_000_000):
        n, k = (int(x[1:]) for x in r.key.removeprefix("guid:").split("-"))
        done[(n, k)] = datetime.fromisoformat(r.updated_at).timestamp()
    runner.close()
    return done


def run_distributed(
    tmp: Path, base: str, args: argparse.Namespace, schedule: Schedule
) -> dict[tuple[int, int], float]:
    redis = RedisServer(tmp / "redis")
    redis.start()
    (tmp / "feeds.yaml").write_text(
        yaml.safe_dump(
            {"feeds": [{"url": u, "interval": args.interval} for u in feed_urls(base, args.feeds)]}
        )
    )
    env = {
        "NEWSWIRE_CONFIG": str(tmp / "no-config.yaml"),
        "NEWSWIRE_STORE": "redis",
        "NEWSWIRE_BROKER_URL": redis.url,
        "NEWSWIRE_BACKEND": "sqlite",
        "NEWSWIRE_DB": str(tmp / "fresh-dist.db"),
        "NEWSWIRE_FEEDS_FILE": str(tmp / "feeds.yaml"),
        "NEWSWIRE_CLAIMS_FILE": str(tmp / "none.yaml"),
        "NEWSWIRE_ALLOW_PRIVATE_HOSTS": "true",
        "NEWSWIRE_RESPECT_ROBOTS": "false",
        "NEWSWIRE_PER_HOST_DELAY": "0",
        "NEWSWIRE_PER_HOST_CONCURRENCY": "8",
        "NEWSWIRE_POLL_HOST_BATCH": "1000",
        "NEWSWIRE_POLL_MIN_INTERVAL": str(args.interval),
        "NEWSWIRE_POLL_MAX_INTERVAL": str(args.interval),
        "NEWSWIRE_POLL_DEFAULT_INTERVAL": str(args.interval),
        "NEWSWIRE_BEAT_INTERVAL": "1",
    }
    services = [Service(name, env, tmp) for name in ("worker-io", "worker-nlp", "beat")]
    store = RedisStore.from_settings(Settings(store="redis", broker_url=redis.url))
    try:
        wait_until(lambda: len(store.live_workers()) == 2, 180, "two live workers")
        time.sleep(args.seconds)
        done = {}
        for n in range(args.feeds):
            for k in range(schedule.latest(n, time.time()) + 1):
                feed_id = next(
                    (
                        f.state.feed_id
                        for f in store.feeds()
                        if f.state.url.endswith(f"/f{n}/feed.xml")
                    ),
                    None,
                )
                record = store.record(entry_ref(feed_id, f"guid:f{n}-s{k}")) if feed_id else None
                if record is not None and record.status == "done":
                    done[(n, k)] = datetime.fromisoformat(record.updated_at).timestamp()
    finally:
        for s in services:
            s.stop()
        store.close()
        redis.stop()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument(
        "--every", type=float, default=20.0, help="seconds between stories of one feed"
    )
    parser.add_argument("--interval", type=int, default=10, help="seconds between polls of a feed")
    parser.add_argument("--seconds", type=int, default=120, help="how long each mode runs")
    parser.add_argument("--mode", choices=["embedded", "distributed", "both"], default="both")
    args = parser.parse_args()
    warmup = 2 * args.interval + 10  # the first rounds take the backlog of old items

    result: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "feeds": args.feeds,
        "stories_per_s": round(args.feeds / args.every, 2),
        "poll_interval_s": args.interval,
    }
    modes = ["embedded", "distributed"] if args.mode == "both" else [args.mode]
    for mode in modes:
        submitted.clear()  # the embedded run's, by story: never another mode's
        analysed.clear()
        schedule = Schedule(time.time(), args.feeds, args.every)
        ports: multiprocessing.Queue[int] = multiprocessing.Queue()
        served: multiprocessing.Queue[tuple[int, int, float]] = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve, args=(schedule, ports, served), daemon=True)
        server.start()
        base = f"http://127.0.0.1:{ports.get(timeout=30)}"
        with tempfile.TemporaryDirectory() as tmp_name:
            started = time.time()
            tmp = Path(tmp_name)
            done = (
                run_embedded(tmp, base, args)
                if mode == "embedded"
                else run_distributed(tmp, base, args, schedule)
            )
        fetched: dict[tuple[int, int], float] = {}
        while True:
            try:
                n, k, at = served.get(timeout=1.0)
            except queue.Empty:
                break
            fetched.setdefault((n, k), at)  # the first fetch (a retry fetches again)
        server.terminate()
        # stories published while the pipeline ran, late enough to be found by then
        parts = delays(
            done, fetched, schedule, started + warmup, started + args.seconds - 2 * args.interval
        )
        result[mode] = {name: summary(values) for name, values in parts.items()}
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results" / "freshness.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
