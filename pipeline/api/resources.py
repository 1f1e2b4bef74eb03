"""What the API runs on: the index and store, opened lazily and shared by request
threads, and the gauges read from them at scrape time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pipeline.errors import NewswireError, TransientError
from pipeline.index import Index, open_index
from pipeline.settings import Settings, mask_url_credentials
from pipeline.store import Store, feed_health, open_store

_Part = TypeVar("_Part")


class Resources:
    """The index and store, opened once per process and shared by request threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._index: Index | None = None
        self._store: Store | None = None
        self._lock = threading.Lock()

    @property
    def index(self) -> Index:
        """The index, opened on first use (again after a failed open, once fixed).
        Raises ``TransientError`` naming why it can not be opened."""
        with self._lock:
            if self._index is None:
                self._index = _opened("index", lambda: open_index(self.settings))
            return self._index

    @property
    def store(self) -> Store:
        """The store, as ``index``."""
        with self._lock:
            if self._store is None:
                self._store = _opened("store", lambda: open_store(self.settings))
            return self._store

    def close(self) -> None:
        for part in (self._index, self._store):
            if part is not None:
                part.close()


def reason(exc: BaseException) -> str:
    """One line saying why a part failed, URL credentials masked, for /health and 503s."""
    text = exc.reason if isinstance(exc, NewswireError) else f"{type(exc).__name__}: {exc}"
    return mask_url_credentials(" ".join(text.split()))[:300]


def _opened(part: str, open_part: Callable[[], _Part]) -> _Part:
    try:
        return open_part()
    except Exception as exc:
        # A damaged or unreadable database (sqlite3, OS errors), an engine that does not
        # answer or a missing client: the part is unavailable (503, with the reason),
        # the server is not broken (500), and the next request tries again.
        raise TransientError(f"{part} unavailable: {reason(exc)}") from exc


class Stats(Collector):
    """Gauges read at scrape time: stories indexed, feeds, failing feeds, dead letters."""

    def __init__(self, res: Resources) -> None:
        self.res = res

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            articles = self.res.index.count()
            rows = feed_health(self.res.store)
        except Exception:  # a scrape shows what it can; /health says what is wrong
            return
        yield GaugeMetricFamily("newswire_articles", "Stories in the index.", value=articles)
        yield GaugeMetricFamily("newswire_feeds", "Active feeds.", value=len(rows))
        yield GaugeMetricFamily(
            "newswire_feeds_failing",
            "Feeds whose last poll failed.",
            value=sum(r["state"] == "failing" for r in rows),
        )
        yield GaugeMetricFamily(
            "newswire_dead_letters",
            "Articles whose retries ran out.",
            value=sum(r["entries"].get("dead", 0) for r in rows),
        )
