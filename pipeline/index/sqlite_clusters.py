"""Collapsing a SQLite search by same-event cluster, over its matches (``Matches``):
the page of clusters (each at its best-ranked match), their sources, their count.

A cluster is shown where its best match falls in the result's order, so a page after
a cursor shows the clusters with no match at or before the cursor: none twice across
pages, none skipped. A window function over every match (``row_number() OVER
(PARTITION BY cluster)``) says the same but sorts them all (~0.5 s at 80k matches); a
page needs only its first clusters, found in the first matches in order.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pipeline.index.sqlite_filters import Matches


def has_copies(c: sqlite3.Connection, m: Matches) -> bool:
    """Whether a match is not its cluster's own story (``cluster <> id``). With none,
    every match is a cluster of its own and collapsing changes nothing: the common case
    (stories indexed before clustering, or no copies among the matches) costs no more
    than an expanded search."""
    row = c.execute(f"SELECT EXISTS (SELECT 1 FROM {m.sql} WHERE cluster <> id)", m.params)
    return bool(row.fetchone()[0])


def count(c: sqlite3.Connection, m: Matches) -> int:
    """Distinct clusters among the matches."""
    return int(c.execute(f"SELECT COUNT(DISTINCT cluster) FROM {m.sql}", m.params).fetchone()[0])


def page(
    c: sqlite3.Connection,
    m: Matches,
    order: str,
    after: str,
    params: list[Any],
    limit: int,
    offset: int,
) -> list[sqlite3.Row]:
    """The best match of each of the clusters ``offset`` to ``offset + limit`` whose best
    match comes after the cursor (``after``: SQL over ``temp.hits`` with ``params``,
    ``1`` for none), in ``order`` (SQL, with a tie-break: a total order).

    Reads the first matches after the cursor, a few times more than the page needs,
    more when clusters repeat in them; a cluster with a match at or before the cursor
    was shown by an earlier page and is left out.
    """
    want = offset + limit
    fetch = max(4 * want, 64)
    while True:
        rows = c.execute(
            f"SELECT * FROM {m.sql} WHERE {after} ORDER BY {order} LIMIT ?",
            [*m.params, *params, fetch],
        ).fetchall()
        best: dict[str, sqlite3.Row] = {}
        for r in rows:
            best.setdefault(r["cluster"], r)
        if after != "1" and best:
            shown = c.execute(
                f"SELECT DISTINCT cluster FROM {m.sql}"
                f" WHERE cluster IN ({','.join('?' * len(best))}) AND NOT ({after})",
                [*m.params, *best, *params],
            )
            for r in shown:
                del best[r["cluster"]]
        if len(best) >= want or len(rows) < fetch:
            return list(best.values())[offset:want]
        fetch *= 4


def sources(c: sqlite3.Connection, m: Matches, clusters: list[str]) -> dict[str, dict[str, int]]:
    """Matching stories per cluster and source, for the page's ``clusters``."""
    out: dict[str, dict[str, int]] = {k: {} for k in clusters}
    if clusters:
        for r in c.execute(
            f"SELECT cluster, source, COUNT(*) n FROM {m.sql}"
            f" WHERE cluster IN ({','.join('?' * len(clusters))}) GROUP BY cluster, source",
            [*m.params, *clusters],
        ):
            out[r["cluster"]][r["source"]] = r["n"]
    return out
