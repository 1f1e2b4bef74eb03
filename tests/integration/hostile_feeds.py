"""A hostile corpus of feeds beside a good outlet, for the end-to-end runs of the CLI
(``test_hostile_run.py``) and of the workers (``test_hostile_workers.py``).

The hostile outlet is a ``HostileServer`` on 127.0.0.1: this module adds feed-level
routes to it (wrong JSON types, deep nesting, bad and script item links, far-future
dates, 100k items, 1 MB titles, a trickled feed, a gzip bomb served as a feed, a page
claiming the good outlet's story as its canonical URL, a binary page) and lists the
byte-level routes of ``hostile_server`` that make sense as a feed. The good outlet is
a plain threaded server on 127.0.0.2, another site by the canonical-host rule, with
the synthetic stories of ``tests/fixtures/hostile/good_stories.json``.

Use it::

    with HostileCorpus() as corpus:
        corpus.write_feeds_file(path)   # every good and hostile feed
        corpus.good_urls()              # {story url: story}
        corpus.hostile_feeds            # {name: (url, expectation)}

Nothing here reaches beyond 127.0.0.0/8: links to other addresses (metadata, private
ranges) are refused by the client before it connects.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import yaml

from tests.conftest import FIXTURES
from tests.integration.hostile_server import (
    BAD_LOCATIONS,
    Conn,
    HostileServer,
    gzip_zeros,
    route,
)

GOOD_HOST = "127.0.0.2"  # not 127.0.0.1: the canonical-host rule ignores ports
MANY_ITEMS = 100_000
HUGE_TITLE_CHARS = 1_000_000
DEEP_NESTING = 100_000
# What a hostile feed must leave behind: a recorded feed error, a logged skip of its
# bad items, or entries that the test checks one by one.
Expect = Literal["error", "skips", "checked"]

_RSS = "application/rss+xml"
_FILLER = [
    "The {name} committee met on Tuesday evening to discuss the budget for the coming "
    "year, and members said they expected a long debate over road repairs and parks.",
    "Officials told the meeting that spending on maintenance had risen by a tenth since "
    "last spring, mostly because of the price of materials and a shortage of contractors.",
    "Several residents asked why the work on the footpaths near the school had stopped "
    "in October, and the committee promised a written answer before the next meeting.",
    "A final vote on the budget is expected next month, after a public consultation that "
    "will run for four weeks and include two open sessions in the council chamber.",
]


@dataclass(frozen=True)
class Story:
    slug: str
    keyword: str
    title: str
    paragraphs: list[str]


@functools.cache
def good_stories() -> tuple[Story, ...]:
    """The good outlet's synthetic stories (each over 200 words, one unique keyword)."""
    raw = json.loads((FIXTURES / "hostile" / "good_stories.json").read_text())
    return tuple(Story(**s) for s in raw)


def article_html(title: str, paragraphs: list[str], head: str = "") -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang='en'><head><title>{escape(title)}</title>{head}</head>"
        f"<body><article><h1>{escape(title)}</h1>{body}</article></body></html>"
    ).encode()


def _base(conn: Conn) -> str:
    return f"http://{conn.headers.get('host', '127.0.0.1')}"


def _rss(items: list[str], title: str = "Hostile outlet") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title>{''.join(items)}</channel></rss>"
    ).encode()


def _item(link: str, title: str = "An item", extra: str = "") -> str:
    return f"<item><title>{escape(title)}</title><link>{escape(link)}</link>{extra}</item>"


# Feed-level routes -------------------------------------------------------------------


@route("/pages/article")
def _article(conn: Conn) -> None:
    """A readable synthetic article, named by ``?name=``, for items of hostile feeds."""
    name = conn.query.removeprefix("name=")[:40] or "town"
    title = f"Council committee weighs the {name} budget"
    page = article_html(title, [p.format(name=name) for p in _FILLER])
    conn.respond(200, page, {"Content-Type": "text/html; charset=utf-8"})


@route("/feeds/wrong-types.json")
def _wrong_types(conn: Conn) -> None:
    nested: Any = "bottom"
    for _ in range(500):  # deep, but within what json.loads reads
        nested = {"a": nested}
    items: list[Any] = [
        1,
        "a string item",
        None,
        [1, 2, 3],
        {"id": {"nested": [1, 2]}, "url": 12345, "title": {"a": 1}},
        {"id": "null-url", "url": None, "title": None},
        {"id": "list-url", "url": ["/pages/article"]},
        {"id": "deep-title", "url": True, "title": nested},
        {
            "id": "usable",
            "url": f"{_base(conn)}/pages/article?name=types",
            "title": ["a", "list"],
            "summary": {"x": 1},
            "content_html": 3.5,
            "date_published": 20260101,
            "authors": "not a list",
            "author": [1],
        },
    ]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": 42, "items": items}
    conn.respond(200, json.dumps(feed).encode(), {"Content-Type": "application/feed+json"})


@route("/feeds/deep.json")
def _deep(conn: Conn) -> None:
    head = b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
    body = head + b"[" * DEEP_NESTING + b"]" * DEEP_NESTING + b"]}"
    conn.respond(200, body, {"Content-Type": "application/feed+json"})


@route("/feeds/bad-links.xml")
def _bad_links(conn: Conn) -> None:
    links = [*BAD_LOCATIONS.values(), "vbscript:msgbox(1)", "  javascript:alert(1)"]
    links += ["http://10.1.2.3/private", "/pages/article?name=links"]
    conn.respond(200, _rss([_item(link, f"link {n}") for n, link in enumerate(links)]))


@route("/feeds/dates.atom")
def _dates(conn: Conn) -> None:
    dates = ["9999-12-31T23:59:59Z", "2999-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]
    entries = "".join(
        f"<entry><id>urn:date:{n}</id><title>Dated {n}</title>"
        f'<link href="{_base(conn)}/pages/article?name=date{n}"/>'
        f"<updated>{d}</updated><published>{d}</published></entry>"
        for n, d in enumerate(dates)
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Time travellers</title><id>urn:dates</id>{entries}</feed>"
    )
    conn.respond(200, body.encode(), {"Content-Type": "application/atom+xml"})


@functools.cache
def _many_items() -> bytes:
    # Items without a link: a parser must read them all, the pipeline keeps none.
    return _rss([f"<item><title>{n}</title></item>" for n in range(MANY_ITEMS)])


@route("/feeds/many-items.xml")
def _many(conn: Conn) -> None:
    conn.respond(200, _many_items(), {"Content-Type": _RSS})


@route("/feeds/huge-title.xml")
def _huge_title(conn: Conn) -> None:
    title = "headline " * (HUGE_TITLE_CHARS // 9)
    extra = f"<description>{'summary ' * (HUGE_TITLE_CHARS // 8)}</description>"
    item = _item(f"{_base(conn)}/pages/article?name=title", title, extra)
    conn.respond(200, _rss([item]), {"Content-Type": _RSS})


@route("/feeds/trickle.xml")
def _trickle(conn: Conn) -> None:
    body = _rss([_item("/pages/article?name=trickle")])
    conn.send(f"HTTP/1.1 200 OK\r\nContent-Type: {_RSS}\r\n".encode())
    conn.send(f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    conn.trickle(body)


@route("/feeds/gzip-bomb.xml")
def _feed_bomb(conn: Conn) -> None:
    conn.respond(200, gzip_zeros(1024), {"Content-Encoding": "gzip", "Content-Type": _RSS})


@route("/pages/binary")
def _binary(conn: Conn) -> None:
    body = bytes(range(256)) * 4096 + os.urandom(65536)
    conn.respond(200, body, {"Content-Type": "text/html; charset=utf-8"})


@route("/pages/script-links")
def _script_links(conn: Conn) -> None:
    head = '<link rel="canonical" href="javascript:alert(document.cookie)">'
    links = "".join(f'<a href="{escape(u)}">more</a>' for u in BAD_LOCATIONS.values())
    page = article_html("Committee minutes", [p.format(name="harbour") for p in _FILLER], head)
    conn.respond(200, page.replace(b"</article>", links.encode() + b"</article>"))


# Hostile feeds and what each must leave behind; paths of hostile_server itself included.
HOSTILE_FEEDS: dict[str, Expect] = {
    "/feeds/wrong-types.json": "skips",
    "/feeds/deep.json": "error",
    "/feeds/bad-links.xml": "skips",
    "/feeds/dates.atom": "checked",
    "/feeds/many-items.xml": "skips",
    "/feeds/huge-title.xml": "checked",
    "/feeds/trickle.xml": "error",
    "/feeds/gzip-bomb.xml": "error",
    "/feeds/pages.xml": "checked",
    "/redirect/ipv6-unclosed": "error",  # a Location that does not parse
    "/redirect/port-too-big": "error",
    "/redirect/javascript": "error",
    "/redirect/metadata": "error",
    "/redirect-loop": "error",
    "/slow-headers": "error",
    "/gzip-gzip-bomb": "error",
    "/huge-headers": "error",
    "/huge-line": "error",  # a 4.9 MB one-line page is no feed
}
# Pages listed by /feeds/pages.xml, beside the canonical claim.
HOSTILE_PAGES = ["/huge-line", "/pages/binary", "/pages/script-links", "/gzip-bomb"]
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")


# The good outlet -------------------------------------------------------------------


class _GoodHandler(BaseHTTPRequestHandler):
    server: _GoodServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        base = f"http://{GOOD_HOST}:{self.server.server_address[1]}"
        stories = {s.slug: s for s in good_stories()}
        half = len(stories) // 2
        if self.path == "/robots.txt":
            self._send(b"User-agent: *\nAllow: /\n", "text/plain")
        elif self.path == "/rss.xml":
            items = [
                _item(f"{base}/story/{s.slug}", s.title, f"<pubDate>{_date(n)}</pubDate>")
                for n, s in enumerate(good_stories()[:half])
            ]
            self._send(_rss(items, "Good outlet"), _RSS)
        elif self.path == "/feed.json":
            items = [
                {"id": s.slug, "url": f"{base}/story/{s.slug}", "title": s.title}
                for s in good_stories()[half:]
            ]
            feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Good", "items": items}
            self._send(json.dumps(feed).encode(), "application/feed+json")
        elif (slug := self.path.removeprefix("/story/")) in stories:
            self._send(article_html(stories[slug].title, stories[slug].paragraphs), "text/html")
        else:
            self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _date(hours_ago: int) -> str:
    return format_datetime(datetime.now(UTC) - timedelta(hours=hours_ago + 1), usegmt=True)


class _GoodServer(ThreadingHTTPServer):
    daemon_threads = True


class HostileCorpus:
    """Both outlets, started for the life of the ``with`` block."""

    def __init__(self) -> None:
        self.hostile = HostileServer()
        self._good = _GoodServer((GOOD_HOST, 0), _GoodHandler)
        self.good_base = f"http://{GOOD_HOST}:{self._good.server_address[1]}"
        self._thread = threading.Thread(target=self._good.serve_forever, daemon=True)
        victim = good_stories()[0]
        self.claimed_url = f"{self.good_base}/story/{victim.slug}"
        # The counterfeit: another site's page naming the good story as its canonical URL.
        self.counterfeit_title = f"COUNTERFEIT {victim.title}"
        counterfeit = article_html(
            self.counterfeit_title,
            victim.paragraphs[:2] + [p.format(name=victim.keyword) for p in _FILLER],
            f'<link rel="canonical" href="{self.claimed_url}">',
        )
        self.hostile.routes["/pages/canonical-claim"] = lambda conn: conn.respond(
            200, counterfeit, {"Content-Type": "text/html"}
        )
        pages = ["/pages/canonical-claim", *HOSTILE_PAGES]
        feed = _rss([_item(self.hostile.url(p), f"page {p}") for p in pages])
        self.hostile.routes["/feeds/pages.xml"] = lambda conn: conn.respond(
            200, feed, {"Content-Type": _RSS}
        )

    @property
    def hostile_feeds(self) -> dict[str, tuple[str, Expect]]:
        """Feed name -> (URL, what it must leave behind)."""
        return {p: (self.hostile.url(p), e) for p, e in HOSTILE_FEEDS.items()}

    def good_feeds(self) -> dict[str, str]:
        return {"good-rss": f"{self.good_base}/rss.xml", "good-json": f"{self.good_base}/feed.json"}

    def good_urls(self) -> dict[str, Story]:
        return {f"{self.good_base}/story/{s.slug}": s for s in good_stories()}

    def feed_urls(self) -> dict[str, tuple[str, str]]:
        """Every feed as ``DemoServer.feed_urls`` gives them: slug -> (name, URL)."""
        feeds = {**self.good_feeds(), **{n: u for n, (u, _) in self.hostile_feeds.items()}}
        return {name: (name, url) for name, url in feeds.items()}

    def write_feeds_file(self, path: Path, extra: dict[str, str] | None = None) -> None:
        """Every feed, and ``extra`` ones (name -> URL), as a feeds file at ``path``."""
        named = {**{n: u for n, u in self.feed_urls().values()}, **(extra or {})}
        feeds = [{"url": url, "name": name} for name, url in named.items()]
        path.write_text(yaml.safe_dump({"feeds": feeds}))

    def __enter__(self) -> HostileCorpus:
        self.hostile.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._good.shutdown()
        self._good.server_close()
        self.hostile.__exit__(*exc)


# Memory of a process tree --------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _rss_mb(pid: int) -> float:
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return 0.0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


class TreeMemory:
    """Samples VmRSS of every process under ``roots`` every ``every`` seconds in a
    thread: the peak of the tree's sum and each process's own peak, in MB."""

    def __init__(self, roots: list[int], every: float = 0.1) -> None:
        self.roots = roots
        self.every = every
        self.peak_total = 0.0
        self.peak_each: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            tree, pids, todo = _children(), [], list(self.roots)
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo.extend(tree.get(pid, []))
            sizes = {pid: _rss_mb(pid) for pid in pids}
            self.peak_total = max(self.peak_total, sum(sizes.values()))
            for pid, mb in sizes.items():
                self.peak_each[pid] = max(self.peak_each.get(pid, 0.0), mb)
            self._stop.wait(self.every)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak_process(self) -> float:
        return max(self.peak_each.values(), default=0.0)
