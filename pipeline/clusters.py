"""Stories, not copies: where a new story goes. It is a copy (``duplicate_of``) of the
earliest story with the same text, and it joins a same-event cluster (``cluster_id``),
incrementally, as stories arrive. Pure decisions over a ``Groups`` store, which keeps
the fingerprints, their band index and the clusters' union-find parents.

- Copies: candidates share a near-duplicate LSH band (``dedup.text_bands``); one is
  confirmed when the estimated containment of the smaller text in the larger passes
  ``GroupPolicy.duplicate`` (containment, not Jaccard: a short wire story with a site's
  boilerplate and an added paragraph is still the story, though the extras halve its
  Jaccard). A copy of a copy is a copy of the first.
- Events: candidates within ``window`` seconds share a loose event band
  (``dedup.event_bands``) or a pair of salient entities; one counts when the event
  signatures' Jaccard plus ``entity_weight`` times the overlap of salient entities
  passes ``GroupPolicy.event``. A copy always joins its original's cluster.
- Merges: a story that matches stories of several clusters joins them into one, the
  earliest (its first story is the earliest), whose id survives; ``Placement.absorbed``
  names the ids that no longer exist, so the index can relabel their stories.

Thresholds and layouts were chosen by measurement (``bench/dedup.py``, README).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations

from pipeline.dedup import (
    SHINGLE,
    event_bands,
    event_signature,
    from_bytes,
    shingle_hashes,
    similarity,
    text_bands,
    text_signature,
    to_bytes,
    words,
)
from pipeline.models import Article
from pipeline.store.base import Fingerprint, Groups

# entity types that name an event's actors and places; NORP ("Republicans") and MISC
# are shared by every story of a beat
SALIENT_TYPES = frozenset({"PERSON", "ORG", "LOC", "EVENT", "LAW", "PRODUCT", "WORK"})
SALIENT_MAX = 5


@dataclass(frozen=True)
class GroupPolicy:
    """Thresholds of the grouping (measured: ``bench/dedup.py``)."""

    duplicate: float = 0.7  # estimated containment of the smaller text in the larger
    event: float = 0.2  # event Jaccard + entity_weight * entity overlap
    entity_weight: float = 0.3
    window: float = 72 * 3600.0  # seconds around a story's time


@dataclass(frozen=True)
class Placement:
    """Where a story went: the story it copies (None for an original), its cluster, and
    the cluster ids its arrival merged into that one."""

    duplicate_of: str | None
    cluster_id: str
    absorbed: tuple[str, ...] = ()


def story_time(article: Article) -> float:
    """Seconds since the epoch when the story appeared: published, else fetched, else
    now (a story with neither is new)."""
    when = article.published_at or article.fetched_at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def salient_entities(article: Article) -> tuple[str, ...]:
    """Lower-cased names of the article's most salient actor and place entities."""
    ranked = sorted(
        (e for e in article.entities if e.type in SALIENT_TYPES), key=lambda e: -e.salience
    )
    return tuple(dict.fromkeys(e.name.lower() for e in ranked))[:SALIENT_MAX]


def fingerprint(article: Article) -> Fingerprint:
    """An article's fingerprint: body signatures, salient entities, time."""
    tokens = words(article.body)
    return Fingerprint(
        id=article.id,
        at=story_time(article),
        text=to_bytes(text_signature(article.body)),
        event=to_bytes(event_signature(f"{article.title}\n{article.body}")),
        entities=salient_entities(article),
        shingles=len(shingle_hashes(tokens, SHINGLE)),
    )


def entity_keys(entities: Iterable[str]) -> list[str]:
    """Band keys of pairs of salient entities: one shared name is a beat, two an event."""
    return [f"n:{a}|{b}" for a, b in combinations(sorted(set(entities)), 2)]


def containment(j: float, a: int, b: int) -> float:
    """The share of the smaller of two sets of sizes ``a`` and ``b`` inside the larger,
    from their Jaccard ``j``: |A∩B| = j(|A|+|B|)/(1+j)."""
    if min(a, b) <= 0:
        return 0.0
    return min(1.0, j * (a + b) / ((1 + j) * min(a, b)))


def is_copy(a: Fingerprint, b: Fingerprint, policy: GroupPolicy) -> bool:
    """Whether two fingerprints are the same text."""
    sa, sb = from_bytes(a.text), from_bytes(b.text)
    if sa is None or sb is None:
        return False
    return containment(similarity(sa, sb), a.shingles, b.shingles) >= policy.duplicate


def event_score(a: Fingerprint, b: Fingerprint, policy: GroupPolicy) -> float:
    """Event similarity: Jaccard of the event signatures plus the weighted overlap of the
    salient entities (shared names over the shorter list)."""
    sa, sb = from_bytes(a.event), from_bytes(b.event)
    text = similarity(sa, sb) if sa is not None and sb is not None else 0.0
    shared = len(set(a.entities) & set(b.entities))
    overlap = shared / min(len(a.entities), len(b.entities)) if shared else 0.0
    return text + policy.entity_weight * overlap


def find(groups: Groups, story: str) -> str:
    """The cluster id (union-find root) of ``story``; compresses the path it walked."""
    path = [story]
    while True:
        parent = groups.parents([path[-1]]).get(path[-1])
        if parent is None or parent == path[-1]:
            break
        path.append(parent)
    root = path[-1]
    if len(path) > 2:
        groups.set_parents({s: root for s in path[:-2]})
    return root


def keys_of(fp: Fingerprint) -> tuple[list[str], list[str]]:
    """A fingerprint's near-duplicate band keys and its event keys (bands and entities)."""
    text, event = from_bytes(fp.text), from_bytes(fp.event)
    return (
        text_bands(text) if text is not None else [],
        (event_bands(event) if event is not None else []) + entity_keys(fp.entities),
    )


def place(groups: Groups, fp: Fingerprint, policy: GroupPolicy | None = None) -> Placement:
    """File the story of ``fp`` and say where it went. A story filed before keeps its
    place (indexing twice changes nothing). The caller holds ``groups.grouping()``."""
    policy = policy or GroupPolicy()
    known = groups.fingerprints([fp.id]).get(fp.id)
    if known is not None:
        return Placement(known.duplicate_of, find(groups, fp.id))
    text_keys, event_keys = keys_of(fp)
    near = groups.band_members(text_keys) - {fp.id}
    around = groups.band_members(event_keys, fp.at - policy.window, fp.at + policy.window)
    others = groups.fingerprints(near | (around - {fp.id}))
    copies = [others[c] for c in near if c in others and is_copy(fp, others[c], policy)]
    originals = {c.duplicate_of or c.id for c in copies}
    first = _earliest(groups, originals)
    related = {c.id for c in copies} | {
        c
        for c in around & others.keys()
        if abs(others[c].at - fp.at) <= policy.window
        and event_score(fp, others[c], policy) >= policy.event
    }
    roots = {find(groups, c) for c in related}
    groups.add_fingerprint(
        Fingerprint(fp.id, fp.at, fp.text, fp.event, fp.entities, fp.shingles, first),
        text_keys + event_keys,
    )
    if not roots:
        return Placement(first, fp.id)
    survivor = _earliest(groups, roots)
    assert survivor is not None
    absorbed = tuple(sorted(roots - {survivor}))
    groups.set_parents({fp.id: survivor} | {r: survivor for r in absorbed})
    return Placement(first, survivor, absorbed)


def _earliest(groups: Groups, ids: set[str]) -> str | None:
    """The id of the earliest of ``ids`` (by time, then id); None for none."""
    if not ids:
        return None
    fps = groups.fingerprints(ids)
    return min(ids, key=lambda i: (fps[i].at if i in fps else float("inf"), i))
