"""Serve the demo corpus as three small news sites with RSS feeds on 127.0.0.1.

Pages look like real ones: navigation, a byline, a photo caption with a credit
line, related links and a ``rel=canonical`` on the outlet's public domain (so
article ids do not depend on the local port). Feeds answer conditional GETs.
"""

from __future__ import annotations

import hashlib
import html
import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import yaml


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


def canonical_url(feed: DemoFeed, article: DemoArticle) -> str:
    return f"https://www.{feed.domain}/{article.date:%Y/%m}/{article.slug}"


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
        parts = path.strip("/").split("/")
        feed = next((f for f in feeds if f.slug == parts[0]), None)
        if feed is None or len(parts) != 2:
            return self._send(404, "not found", "text/plain")
        mine = [a for a in articles if a.feed == feed.slug]
        if parts[1] == "feed.xml":
            body = render_feed(feed, mine, self.server.base_url)
            etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, "", "application/rss+xml", {"ETag": etag})
            return self._send(200, body, "application/rss+xml; charset=utf-8", {"ETag": etag})
        article = next((a for a in mine if f"{a.slug}.html" == parts[1]), None)
        if article is None or article.page == "missing":
            return self._send(404, "<h1>Page not found</h1>", "text/html")
        return self._send(200, render_page(feed, article), "text/html; charset=utf-8")

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
    base_url = ""


class DemoServer:
    """The demo sites on 127.0.0.1 (``port=0`` picks a free port)."""

    def __init__(self, port: int = 0) -> None:
        self.httpd = DemoHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return self.httpd.base_url

    def feed_urls(self) -> dict[str, tuple[str, str]]:
        """Feed slug -> (title, URL)."""
        feeds, _ = corpus()
        return {f.slug: (f.title, f"{self.base_url}/{f.slug}/feed.xml") for f in feeds}

    def __enter__(self) -> DemoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
