"""Collapsing a SQLite search by same-event cluster, over the matches in ``temp.hits``:
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


def copies(c: sqlite3.Connection) -> int:
    """Matches that are not their cluster's own story (``cluster <> id``). With none,
    every match is a cluster of its own and collapsing changes nothing: the common case
    (stories indexed before clustering, or no copies among the matches) costs no more
    than an expanded search."""
    return int(c.execute("SELECT TOTAL(cluster <> id) FROM temp.hits").fetchone()[0])


def count(c: sqlite3.Connection) -> int:
    """Distinct clusters among the matches."""
    return int(c.execute("SELECT COUNT(DISTINCT cluster) FROM temp.hits").fetchone()[0])


def page(
    c: sqlite3.Connection,
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
            f"SELECT * FROM temp.hits WHERE {after} ORDER BY {order} LIMIT ?", [*params, fetch]
        ).fetchall()
        best: dict[str, sqlite3.Row] = {}
        for r in rows:
            best.setdefault(r["cluster"], r)
        if after != "1" and best:
            shown = c.execute(
                "SELECT DISTINCT cluster FROM temp.hits"
                f" WHERE cluster IN ({','.join('?' * len(best))}) AND NOT ({after})",
                [*best, *params],
            )
            for r in shown:
                del best[r["cluster"]]
        if len(best) >= want or len(rows) < fetch:
            return list(best.values())[offset:want]
        fetch *= 4


def sources(c: sqlite3.Connection, clusters: list[str]) -> dict[str, dict[str, int]]:
    """Matching stories per cluster and source, for the page's ``clusters``."""
    out: dict[str, dict[str, int]] = {k: {} for k in clusters}
    if clusters:
        for r in c.execute(
            "SELECT cluster, source, COUNT(*) n FROM temp.hits"
            f" WHERE cluster IN ({','.join('?' * len(clusters))}) GROUP BY cluster, source",
            clusters,
        ):
            out[r["cluster"]][r["source"]] = r["n"]
    return out
