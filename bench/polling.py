"""Polling at scale: many local feeds, most answering 304, polled by the embedded runner.

    python bench/polling.py [--feeds 2000] [--hosts 20] [--changing 0.1] [--interval 30] [--seconds 90]

Serves N RSS feeds spread over H loopback hosts (127.0.0.2, 127.0.0.3, …, one server),
each with an ETag; a share of them gains an item at every poll, the rest answer 304.
Measures (1) a first full round and (2) a conditional round: feeds/s and CPU ms per
poll; then (3) runs the scheduler for a while with every feed due each ``interval``
seconds and reports how late polls start (p50/p95/max seconds past their next check)
and whether every feed was polled within its interval. Prints one JSON object and
writes bench/results/polling.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import platform
import resource
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline.runner import Runner
from pipeline.settings import Settings


class Feeds(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, changing: set[int]) -> None:
        super().__init__(("0.0.0.0", 0), Handler)
        self.changing = changing
        self.polls: dict[int, int] = {}
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Feeds
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        n = int(self.path.strip("/").split(".")[0].removeprefix("f"))
        with self.server.lock:
            count = self.server.polls[n] = self.server.polls.get(n, 0) + 1
        version = count if n in self.server.changing else 1
        etag = f'"{n}-{version}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        items = "".join(
            f"<item><title>Feed {n} story {v}</title><link>https://feed{n}.example/s/{v}</link>"
            f"<guid>f{n}-{v}</guid><pubDate>{format_datetime(datetime.now(UTC))}</pubDate>"
            f"<description>Story {v} of feed {n}.</description></item>"
            for v in range(max(1, version - 4), version + 1)
        )
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
            f"<link>https://feed{n}.example/</link><description>x</description>{items}</channel></rss>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(changing: set[int], ports: multiprocessing.Queue[int]) -> None:
    server = Feeds(changing)
    ports.put(server.server_address[1])
    server.serve_forever()


def timed_round(runner: Runner) -> dict[str, float]:
    states = [f.state for f in runner.store.feeds()]
    cpu, wall = time.process_time(), time.perf_counter()
    report = runner.poll_feeds(states)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "feeds": report.feeds_polled,
        "errors": len(report.feed_errors),
        "new_entries": report.new_entries,
        "seconds": round(wall, 2),
        "feeds_per_s": round(report.feeds_polled / wall, 1),
        "cpu_ms_per_poll": round(1000 * cpu / report.feeds_polled, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--changing", type=float, default=0.1, help="share of feeds that change")
    parser.add_argument("--interval", type=int, default=30, help="seconds between checks of a feed")
    parser.add_argument("--seconds", type=int, default=90, help="how long the scheduler runs")
    args = parser.parse_args()

    changing = set(range(0, args.feeds, round(1 / args.changing))) if args.changing else set()
    # The feeds are served by another process, so CPU per poll is the poller's alone.
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(changing, ports), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            db=Path(tmp) / "poll.db",
            allow_private_hosts=True,
            per_host_delay=0.0,
            per_host_concurrency=4,
            fetch_threads=32,
            poll_min_interval=args.interval,
            poll_max_interval=args.interval,
            poll_default_interval=args.interval,
            claims_file=Path(tmp) / "none.yaml",
        )
        runner = Runner(settings)
        for n in range(args.feeds):
            host = f"127.0.0.{2 + n % args.hosts}"
            runner.store.add_feed(
                f"http://{host}:{port}/f{n}.xml", f"feed {n}", interval=args.interval
            )
        first = timed_round(runner)
        conditional = timed_round(runner)

        # The scheduler: poll whatever is due, as `newswire run` does, and record lateness.
        lateness: list[float] = []
        polled: dict[str, list[float]] = {}
        stop = time.monotonic() + args.seconds
        while time.monotonic() < stop:
            now = datetime.now(UTC)
            due = runner.store.due_feeds(now)
            if due:
                lateness += [(now - s.next_check_at).total_seconds() for s in due]
                for s in due:
                    polled.setdefault(s.feed_id, []).append(time.monotonic())
                runner.poll_feeds(due)
            else:
                time.sleep(0.2)
        runner.close()
    server.terminate()
    gaps = [b - a for times in polled.values() for a, b in itertools.pairwise(times)]
    lateness.sort()
    gaps.sort()

    def pct(values: list[float], p: float) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))], 2) if values else 0.0

    result = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus",
        "feeds": args.feeds,
        "hosts": args.hosts,
        "changing_share": args.changing,
        "first_round": first,
        "conditional_round": conditional,
        "scheduler": {
            "interval_s": args.interval,
            "ran_s": args.seconds,
            "polls": len(lateness),
            "feeds_polled": len(polled),
            "late_p50_s": pct(lateness, 0.5),
            "late_p95_s": pct(lateness, 0.95),
            "late_max_s": round(max(lateness), 2) if lateness else 0.0,
            "gap_between_polls_p95_s": pct(gaps, 0.95),
            "gap_between_polls_max_s": round(max(gaps), 2) if gaps else 0.0,
            # the poll of a feed may start up to one scheduler pass after it is due
            "every_feed_within_interval": bool(gaps) and max(gaps) <= 1.25 * args.interval,
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "polling.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
