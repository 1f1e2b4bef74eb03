"""Facet counts for the SQLite backend, over a search's matches (``Matches``)."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict

from pipeline.index.base import (
    FACET_SAMPLE,
    FACET_SIZE,
    TARGET_LABELS,
    Facets,
    FacetValue,
    TargetValue,
)
from pipeline.index.sqlite_filters import Matches

# FACET_SAMPLE (base): the facets that need a join (entities, stances, targets) cost
# ~0.01 ms a row counted.


def count_facets(
    c: sqlite3.Connection, m: Matches, total: int, order: str, key: str = "id"
) -> Facets:
    """Facets of the ``total`` matches ``m``, counting distinct ``key``s
    (``id``: stories; ``cluster``: same-event clusters, so wire copies count once):
    sources and days exactly (they are columns of the hits); entities, stances and
    targets exactly up to FACET_SAMPLE matches, above it over the first FACET_SAMPLE by
    ``order`` (SQL: the result's order, without its tie-break) and flagged
    ``Facets.sampled``, so that their cost stays bounded at any size."""
    sampled = total > FACET_SAMPLE
    joined = m  # the rows joined to entities and stances
    if sampled:
        c.execute("CREATE TEMP TABLE IF NOT EXISTS sample (id TEXT, cluster TEXT)")
        c.execute("DELETE FROM temp.sample")
        c.execute(
            f"INSERT INTO temp.sample SELECT id, cluster FROM {m.sql} ORDER BY {order} LIMIT ?",
            [*m.params, FACET_SAMPLE],
        )
        joined = Matches("temp.sample", [])
    # sources and days: stories are the hits' rows; clusters need a distinct count
    counted = "*" if key == "id" else f"DISTINCT {key}"
    entities: dict[str, list[FacetValue]] = {}
    rows = c.execute(
        f"SELECT e.type, e.name, COUNT(DISTINCT h.{key}) n FROM {joined.sql} h"
        " JOIN article_entities e ON e.article_id = h.id"
        " GROUP BY e.type, e.name ORDER BY n DESC, e.name",
        joined.params,
    )
    for r in rows:
        bucket = entities.setdefault(r["type"], [])
        if len(bucket) < FACET_SIZE:
            bucket.append(FacetValue(value=r["name"], count=r["n"]))
    sources = [
        FacetValue(value=r["source"], count=r["n"])
        for r in c.execute(
            f"SELECT source, COUNT({counted}) n FROM {m.sql}"
            " GROUP BY source ORDER BY n DESC, source LIMIT ?",
            [*m.params, FACET_SIZE],
        )
    ]
    stances, targets = _stance_facets(
        c.execute(
            f"SELECT h.{key} AS story, st.target, st.stance, st.target_type FROM {joined.sql} h"
            " JOIN article_stances st ON st.article_id = h.id",
            joined.params,
        ).fetchall()
    )
    dates = [
        FacetValue(value=r["day"], count=r["n"])
        for r in c.execute(
            f"SELECT substr(pub, 1, 10) day, COUNT({counted}) n FROM {m.sql}"
            " WHERE pub IS NOT NULL GROUP BY day ORDER BY day",
            m.params,
        )
    ]
    return Facets(
        entities=entities,
        sources=sources,
        stances=stances,
        targets=targets,
        dates=dates,
        sampled=sampled,
    )


def _stance_facets(rows: list[sqlite3.Row]) -> tuple[list[FacetValue], list[TargetValue]]:
    """From the stance rows of the counted stories (or clusters: ``story`` is what is
    counted): stories per label (most first), and
    the FACET_SIZE targets with the most favor/against stories (ties by name), each
    split by label (most stories first), typed by their most common type."""
    per_label: dict[str, set[str]] = defaultdict(set)
    stories: dict[str, set[str]] = defaultdict(set)
    by_label: dict[tuple[str, str], set[str]] = defaultdict(set)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        per_label[r["stance"]].add(r["story"])
        if r["stance"] not in TARGET_LABELS:
            continue
        stories[r["target"]].add(r["story"])
        by_label[(r["target"], r["stance"])].add(r["story"])
        types[r["target"]][r["target_type"]] += 1
    stances = [
        FacetValue(value=label, count=len(ids))
        for label, ids in sorted(per_label.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    top = sorted(stories, key=lambda t: (-len(stories[t]), t))[:FACET_SIZE]
    out: list[TargetValue] = []
    for target in top:
        kind = min(types[target].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        labels = sorted(
            (label for label in TARGET_LABELS if (target, label) in by_label),
            key=lambda label: (-len(by_label[(target, label)]), label),
        )
        out += [
            TargetValue(
                value=target,
                stance=label,
                type=kind,
                count=len(by_label[(target, label)]),
            )
            for label in labels
        ]
    return stances, out
