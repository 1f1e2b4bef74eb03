"""The WHERE conditions of a SQLite search: words excluded, entity, speaker, stance,
target, source, language and date filters, over ``article_keys a``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from pipeline.index.base import TARGET_LABELS, SearchQuery, fold
from pipeline.models import utc
from pipeline.query import Node, exclusions, to_fts5


class Matches(NamedTuple):
    """A search's matching stories, as SQL to select from (columns rid, id, pub, source,
    cluster, rank) and its parameters: ``temp.hits`` once a search with words has
    ranked them into it, else a subquery over ``article_keys a`` with the filters."""

    sql: str
    params: list[Any]


def filters(q: SearchQuery, node: Node | None) -> tuple[list[str], list[Any]]:
    """The conditions (SQL over ``article_keys a``) and their parameters for ``q``'s
    filters and the excluded words of its parsed text ``node``."""
    where: list[str] = []
    params: list[Any] = []
    for excluded in exclusions(node):
        expr = to_fts5(excluded)
        if expr:
            where.append(
                "a.rowid NOT IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)"
            )
            params.append(expr)
    # A name or a speaker is rare: the stories naming it are found by its index
    # (IN) and drive the query. A type alone is common: each candidate story's own
    # types are checked instead (article_keys.types, ",ORG,PERSON,").
    if q.entity:
        term = "t.term = ?"
        params.append(q.entity.strip().lower())
        if q.type:
            term += " AND t.type = ?"
            params.append(q.type.strip().upper())
        where.append(f"a.id IN (SELECT t.article_id FROM entity_terms t WHERE {term})")
    elif q.type:
        kind = q.type.strip().upper()
        if "," in kind:  # a type is one word of the ",ORG,PERSON," list: this is none
            where.append("0")
        else:
            where.append("instr(a.types, ?) > 0")
            params.append(f",{kind},")
    target = fold(q.target or "")  # no words: no target filter
    if q.speaker and not (q.stance or target):  # with those, the speaker holds a stance
        where.append(
            "a.id IN (SELECT s.article_id FROM article_quotes s WHERE s.speaker = ? COLLATE NOCASE)"
        )
        params.append(q.speaker.strip())
    if q.stance or target:
        # "holder X, stance S, target T" is one condition on one stance
        cond = ["st.article_id = a.id"]
        if q.stance:
            cond.append("st.stance = ?")
            params.append(q.stance.strip().lower())
        else:
            cond.append(f"st.stance IN ({','.join('?' * len(TARGET_LABELS))})")
            params += TARGET_LABELS
        if q.speaker:
            cond.append("st.holder = ? COLLATE NOCASE")
            params.append(q.speaker.strip())
        if target:
            # the filter's words as a run of whole words of the target (target_matches)
            cond.append("(' ' || fold(st.target) || ' ') LIKE ? ESCAPE '\\'")
            params.append(f"% {_like_literal(target)} %")
        if q.speaker:  # a holder is rare and indexed: its stances drive, as above
            where.append(
                "a.id IN (SELECT st.article_id FROM article_stances st"
                f" WHERE {' AND '.join(cond[1:])})"
            )
        else:
            where.append(f"EXISTS (SELECT 1 FROM article_stances st WHERE {' AND '.join(cond)})")
    if q.source:
        # the site itself or a subdomain of it; the name's own % and _ are literal
        where.append("(a.source = ? OR a.source LIKE ? ESCAPE '\\')")
        src = q.source.strip().lower().removeprefix("www.")
        params += [src, "%." + _like_literal(src)]
    if q.language:
        where.append("a.language = ?")
        params.append(q.language.strip().lower())
    if q.since:
        where.append("a.published_at >= ?")
        params.append(utc_text(q.since))
    if q.until:
        where.append("a.published_at <= ?")
        params.append(utc_text(q.until))
    return where, params


def on_keys(q: SearchQuery, node: Node | None) -> bool:
    """Whether every condition of ``q`` reads ``article_keys`` alone (type, source,
    language, dates; no excluded words, no name, speaker, stance or target, which look
    in other tables)."""
    return not (exclusions(node) or q.entity or q.speaker or q.stance or fold(q.target or ""))


def _like_literal(text: str) -> str:
    """``text`` matched literally by ``LIKE ? ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def utc_text(when: datetime) -> str:
    """ISO time in UTC, so that string order is time order and days group by prefix."""
    return utc(when).isoformat()
