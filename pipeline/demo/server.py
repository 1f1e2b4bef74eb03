"""Serve the demo corpus as three small news sites with RSS feeds on 127.0.0.1.

Each outlet answers under its own host name in the reserved ``.example`` TLD
(``www.harbortimes.example``, RFC 2606), routed by the ``Host`` header; those names
resolve only through ``DemoServer.resolve``, the lookup of the demo's own fetcher
(``DemoServer.fetcher``). A page's ``rel=canonical`` is on its outlet's host, so the
canonical-host rule (``analyze.to_article``) accepts it: the outlet's name becomes
the story's source and ids do not depend on the local port. Under 127.0.0.1 (or any
other host) every outlet answers at ``/<slug>/``, for clients without the demo's
lookup; there the canonical is another site's and the rule ignores it.

Pages look like real ones: navigation, a byline, a photo caption with a credit
line, related links. Feeds answer conditional GETs.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from pipeline.fetch import Fetcher
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.store import Store

FEED_PREFIX = "demo-"  # the demo's feed ids: demo-<slug>
# The one network the demo's fetcher may reach beyond public addresses.
_LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


@dataclass(frozen=True)
class DemoFeed:
    slug: str
    title: str
    domain: str
    description: str


@dataclass(frozen=True)
class DemoArticle:
    feed: str
    slug: str
    title: str
    author: str
    date: datetime
    body: str
    page: str = "full"  # full | paywall | missing
    # Gold labels for bench/dedup.py (see corpus.yaml); never served, never read by
    # the pipeline.
    event: str = ""
    copy_of: str = ""

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.strip().splitlines() if p.strip()]


@cache
def corpus() -> tuple[tuple[DemoFeed, ...], tuple[DemoArticle, ...]]:
    """The bundled corpus (package data), parsed once."""
    text = resources.files("pipeline.demo").joinpath("corpus.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    feeds = tuple(DemoFeed(**f) for f in data["feeds"])
    articles = tuple(DemoArticle(**a) for a in data["articles"])
    return feeds, articles


def site_host(feed: DemoFeed) -> str:
    """The host name the outlet answers under (and its canonical URLs name)."""
    return f"www.{feed.domain}"


def canonical_url(feed: DemoFeed, article: DemoArticle) -> str:
    return f"https://{site_host(feed)}/{article.date:%Y/%m}/{article.slug}"


def render_page(feed: DemoFeed, article: DemoArticle) -> str:
    esc = html.escape
    paragraphs = article.paragraphs
    if article.page == "paywall":
        paragraphs = paragraphs[:1]
    body = "\n".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    caption = (
        f"<figure><img src='/static/{article.slug}.jpg' alt=''>"
        f"<figcaption>{esc(article.title)}. - Lena Park/{esc(feed.title)}</figcaption></figure>"
    )
    paywall = "<div class='paywall'>Subscribe to read the rest of this story.</div>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(article.title)} | {esc(feed.title)}</title>
<link rel="canonical" href="{canonical_url(feed, article)}">
<meta name="author" content="{esc(article.author)}">
<meta property="article:published_time" content="{article.date.isoformat()}">
<meta name="description" content="{esc(paragraphs[0][:200])}">
</head><body>
<header><nav><a href="/">Home</a> <a href="/{feed.slug}/">News</a> <a href="/{feed.slug}/">Opinion</a>
<a href="/{feed.slug}/">Sport</a> <a href="/{feed.slug}/feed.xml">RSS</a></nav></header>
<main><article>
<h1>{esc(article.title)}</h1>
<p class="byline">By {esc(article.author)}, {esc(feed.title)}</p>
<time datetime="{article.date.isoformat()}">{article.date:%d %B %Y}</time>
{caption}
{body}
{paywall if article.page == "paywall" else ""}
</article></main>
<aside><h2>Most read</h2><ul><li><a href="/{feed.slug}/">Weather this week</a></li>
<li><a href="/{feed.slug}/">Letters to the editor</a></li></ul></aside>
<footer><p>&copy; 2026 {esc(feed.title)}. All rights reserved.</p></footer>
</body></html>"""


def render_feed(feed: DemoFeed, articles: list[DemoArticle], base: str) -> str:
    esc = html.escape
    items = []
    for a in sorted(articles, key=lambda a: a.date, reverse=True):
        link = f"{base}/{feed.slug}/{a.slug}.html?utm_source=rss&amp;utm_medium=feed"
        content = "".join(f"<p>{esc(p)}</p>" for p in a.paragraphs)
        items.append(
            f"<item><title>{esc(a.title)}</title><link>{link}</link>"
            f'<guid isPermaLink="false">{feed.domain}:{a.slug}</guid>'
            f"<pubDate>{format_datetime(a.date)}</pubDate><author>{esc(a.author)}</author>"
            f"<description>{esc(a.paragraphs[0])}</description>"
            f"<content:encoded><![CDATA[{content}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{esc(feed.title)}</title><link>https://www.{feed.domain}/</link>"
        f"<description>{esc(feed.description)}</description><ttl>30</ttl>"
        + "".join(items)
        + "</channel></rss>"
    )


class _Handler(BaseHTTPRequestHandler):
    server: DemoHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the demo is quiet; the pipeline logs what matters

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        feeds, articles = corpus()
        if path == "/robots.txt":
            return self._send(200, "User-agent: *\nDisallow: /private/\n", "text/plain")
        site = self._site(feeds)
        parts = path.strip("/").split("/")
        feed = next((f for f in feeds if f.slug == parts[0] and site in (None, f)), None)
        if feed is None or len(parts) != 2:
            return self._send(404, "not found", "text/plain")
        mine = [a for a in articles if a.feed == feed.slug]
        if parts[1] == "feed.xml":
            base = self.server.base_url if site is None else self.server.site_url(site)
            body = render_feed(feed, mine, base)
            etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, "", "application/rss+xml", {"ETag": etag})
            return self._send(200, body, "application/rss+xml; charset=utf-8", {"ETag": etag})
        article = next((a for a in mine if f"{a.slug}.html" == parts[1]), None)
        if article is None or article.page == "missing":
            return self._send(404, "<h1>Page not found</h1>", "text/html")
        return self._send(200, render_page(feed, article), "text/html; charset=utf-8")

    def _site(self, feeds: tuple[DemoFeed, ...]) -> DemoFeed | None:
        """The outlet whose host name the request's ``Host`` header names, or None
        (127.0.0.1 or any other host: every outlet, each under its slug)."""
        host = self.headers.get("Host", "").rsplit(":", 1)[0].lower().rstrip(".")
        return next((f for f in feeds if host in (site_host(f), f.domain)), None)

    def _send(
        self, status: int, body: str, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if status != 304:
            self.wfile.write(data)


class DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def site_url(self, feed: DemoFeed) -> str:
        return f"http://{site_host(feed)}:{self.port}"


class DemoServer:
    """The demo sites on 127.0.0.1 (``port=0`` picks a free port)."""

    def __init__(self, port: int = 0) -> None:
        self.httpd = DemoHTTPServer(("127.0.0.1", port), _Handler)
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Where every outlet answers under its slug, for any HTTP client."""
        return self.httpd.base_url

    def feed_urls(self) -> dict[str, tuple[str, str]]:
        """Feed slug -> (title, URL under ``base_url``): for clients without the demo's
        lookup; their stories' source is 127.0.0.1."""
        feeds, _ = corpus()
        return {f.slug: (f.title, f"{self.base_url}/{f.slug}/feed.xml") for f in feeds}

    def site_feed_urls(self) -> dict[str, tuple[str, str]]:
        """Feed slug -> (title, URL on the outlet's own host name): for the demo's
        fetcher, which alone resolves those names."""
        feeds, _ = corpus()
        return {f.slug: (f.title, f"{self.httpd.site_url(f)}/{f.slug}/feed.xml") for f in feeds}

    def add_feeds(self, store: Store) -> None:
        """Register each outlet's feed (``site_feed_urls``) in ``store`` as
        ``demo-<slug>``; a feed already there is pointed at this run's port."""
        for slug, (title, url) in self.site_feed_urls().items():
            store.add_feed(url, title, interval=300, feed_id=FEED_PREFIX + slug)
            store.set_feed_url(FEED_PREFIX + slug, url)

    def resolve(self, host: str, port: int) -> list[str]:
        """The demo's name lookup (a ``netguard.Resolver``): an outlet's host name on
        this server's port is 127.0.0.1. Raises ``socket.gaierror`` for every other name
        or port, without asking any DNS server."""
        names = {site_host(f) for f in corpus()[0]}
        if host.lower().rstrip(".") in names and port == self.httpd.port:
            return ["127.0.0.1"]
        raise socket.gaierror(socket.EAI_NONAME, f"{host}:{port} is not a demo site")

    def fetcher(self, settings: Settings) -> Fetcher:
        """A ``Fetcher`` for the demo sites: names resolve through ``resolve`` only, and
        the one non-public network it may reach is 127.0.0.1/32, whatever
        ``settings.allow_private_hosts`` says. The caller closes it."""
        own = settings.model_copy(update={"allow_private_hosts": _LOOPBACK})
        return Fetcher(own, resolver=self.resolve)

    def __enter__(self) -> DemoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
