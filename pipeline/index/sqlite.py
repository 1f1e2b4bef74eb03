"""The embedded search backend: SQLite FTS5 with BM25 ranking, snippets and SQL facets."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.index.base import (
    TARGET_LABELS,
    TEXT_WEIGHTS,
    EntityName,
    Facets,
    Health,
    Hit,
    SearchQuery,
    SearchResult,
    fold,
    search_texts,
)
from pipeline.index.cursor import decode_cursor, encode_cursor
from pipeline.index.sqlite_facets import count_facets
from pipeline.models import Article, utc
from pipeline.query import exclusions, parse, positive, to_fts5
from pipeline.store.sqlite import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    language TEXT,
    published_at TEXT
);
-- What a search reads of every match, apart from the documents: in ``articles`` these
-- columns sit behind ``doc``, and reading them walks its overflow pages (~2 ms per
-- 1000 matches, most of a large search). rowid = articles.rowid.
CREATE TABLE IF NOT EXISTS article_keys (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
    language TEXT, published_at TEXT
);
CREATE INDEX IF NOT EXISTS article_keys_source ON article_keys (source);
CREATE INDEX IF NOT EXISTS article_keys_published ON article_keys (published_at);
-- superseded by the two above and entity_terms_article_type below
DROP INDEX IF EXISTS articles_source;
DROP INDEX IF EXISTS articles_published;
DROP INDEX IF EXISTS entity_terms_article;
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5 (
    title, summary, body, quotes, entities,  -- rowid = articles.rowid
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS article_entities (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    name TEXT NOT NULL, type TEXT NOT NULL, mentions INTEGER NOT NULL, salience REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS article_entities_article ON article_entities (article_id);
CREATE TABLE IF NOT EXISTS entity_terms (  -- names and aliases, lower-cased, for filters
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    term TEXT NOT NULL, type TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entity_terms_term ON entity_terms (term);
-- covering: a type filter checks each candidate story's types in the index alone
CREATE INDEX IF NOT EXISTS entity_terms_article_type ON entity_terms (article_id, type);
CREATE TABLE IF NOT EXISTS article_quotes (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    speaker TEXT NOT NULL, speaker_type TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS article_quotes_speaker ON article_quotes (speaker COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS article_quotes_article ON article_quotes (article_id);
CREATE TABLE IF NOT EXISTS article_stances (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    holder TEXT NOT NULL, target TEXT NOT NULL, stance TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT 'ISSUE'
);
CREATE INDEX IF NOT EXISTS article_stances_article ON article_stances (article_id);
CREATE INDEX IF NOT EXISTS article_stances_holder ON article_stances (holder COLLATE NOCASE);
"""
# BM25 with the shared weights, in the order of the FTS columns above (title, summary,
# body, quotes, entities: the fields of TEXT_WEIGHTS).
_BM25 = f"bm25(articles_fts, {', '.join(str(w) for w in TEXT_WEIGHTS.values())})"


class SqliteIndex(SqliteDatabase):
    """Index in the same SQLite file as the store (or its own)."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        # targets compare folded (base.fold), as the engines' normalizer folds them
        self._conn.create_function("fold", 1, fold, deterministic=True)
        # a search's matches (temp.hits) can be 100k rows: keep them off the disk
        self._conn.execute("PRAGMA temp_store=MEMORY")

    def _migrate(self) -> None:
        """A database from before the keys table gets it filled; one from before stance
        target types gets the column, filled from the stored documents (their stances
        load with the model's default type)."""
        self._conn.execute(
            "INSERT INTO article_keys SELECT rowid, id, source, language, published_at"
            " FROM articles WHERE NOT EXISTS (SELECT 1 FROM article_keys)"
        )
        columns = {r["name"] for r in self._conn.execute("PRAGMA table_info(article_stances)")}
        if "target_type" in columns:
            return
        self._conn.execute(
            "ALTER TABLE article_stances ADD COLUMN target_type TEXT NOT NULL DEFAULT 'ISSUE'"
        )
        self.reindex()

    # writes ---------------------------------------------------------------

    def upsert_many(self, articles: Sequence[Article]) -> int:
        """Insert or replace each article by id, in one transaction."""
        with self._tx():
            for a in articles:
                self._delete(a.id)
                self._insert(a)
        return len(articles)

    def _insert(self, a: Article) -> None:
        c = self._conn
        rowid = c.execute(
            "INSERT INTO articles(id, doc, title, url, source, language, published_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                a.id,
                a.model_dump_json(),
                a.title,
                a.url,
                a.source,
                a.language,
                _utc(a.published_at) if a.published_at else None,
            ),
        ).lastrowid
        c.execute(
            "INSERT INTO article_keys VALUES (?,?,?,?,?)",
            (rowid, a.id, a.source, a.language, _utc(a.published_at) if a.published_at else None),
        )
        c.execute(
            "INSERT INTO articles_fts(rowid, title, summary, body, quotes, entities) VALUES (?,?,?,?,?,?)",
            (rowid, a.title, a.summary, a.body, *search_texts(a)),
        )
        c.executemany(
            "INSERT INTO article_entities VALUES (?,?,?,?,?)",
            [(a.id, e.name, e.type, e.mentions, e.salience) for e in a.entities],
        )
        c.executemany(
            "INSERT INTO entity_terms VALUES (?,?,?)",
            {(a.id, n.lower(), e.type) for e in a.entities for n in (e.name, *e.aliases)},
        )
        c.executemany(
            "INSERT INTO article_quotes VALUES (?,?,?)",
            {(a.id, q.speaker, q.speaker_type) for q in a.quotes},
        )
        c.executemany(
            "INSERT INTO article_stances(article_id, holder, target, stance, target_type)"
            " VALUES (?,?,?,?,?)",
            [(a.id, s.holder, s.target, s.stance, s.target_type) for s in a.stances],
        )

    def _delete(self, article_id: str) -> bool:
        c = self._conn
        row = c.execute("SELECT rowid FROM articles WHERE id=?", (article_id,)).fetchone()
        if row is None:
            return False
        c.execute("DELETE FROM articles_fts WHERE rowid=?", (row[0],))
        c.execute("DELETE FROM articles WHERE rowid=?", (row[0],))
        c.execute("DELETE FROM article_keys WHERE rowid=?", (row[0],))
        return True

    def refresh(self) -> None:
        """Nothing to do: a committed write is searchable at once."""

    def reindex(self) -> tuple[str, str, int]:
        """Rebuild every row (full text, entity, quote and stance tables) from the stored
        documents, in one transaction: readers see the old index until it commits."""
        with self._tx() as c:
            docs = [
                Article.model_validate_json(r["doc"]) for r in c.execute("SELECT doc FROM articles")
            ]
            for a in docs:
                self._delete(a.id)
                self._insert(a)
        return "articles", "articles", len(docs)

    def delete(self, article_id: str) -> bool:
        with self._tx():
            return self._delete(article_id)

    def relabel_cluster(self, old: str, new: str) -> int:
        """Clusters merged: ``old``'s stories carry ``new`` (in their stored documents)."""
        with self._tx() as c:
            return c.execute(
                "UPDATE articles SET doc = json_set(doc, '$.cluster_id', ?)"
                " WHERE json_extract(doc, '$.cluster_id') = ?",
                (new, old),
            ).rowcount

    # reads ----------------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM articles WHERE id=?", (article_id,)
            ).fetchone()
        return Article.model_validate_json(row["doc"]) if row else None

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def entity_names(self, prefix: str, limit: int = 10) -> list[EntityName]:
        prefix = prefix.strip().lower()
        if not prefix:
            return []
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # The name, or one of its words, starts with the prefix. Counted per name (the
        # model may type one name differently in different stories), typed by its
        # most common type.
        rows = self._conn.execute(
            "SELECT name, COUNT(DISTINCT article_id) n,"
            " (SELECT type FROM article_entities t WHERE t.name = e.name"
            "  GROUP BY type ORDER BY COUNT(*) DESC, type LIMIT 1) type"
            " FROM article_entities e WHERE name LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\'"
            " GROUP BY name ORDER BY n DESC, name LIMIT ?",
            (like, "% " + like, limit),
        ).fetchall()
        return [EntityName(name=r["name"], type=r["type"], count=r["n"]) for r in rows]

    def health(self) -> Health:
        try:
            n = self.count()
        except sqlite3.Error as exc:
            return Health(False, self.name, {"error": str(exc)})
        return Health(True, self.name, {"articles": n})

    def search(self, query: SearchQuery) -> SearchResult:
        """Full text (BM25, title weighted) with filters, snippets, facets and cursors.

        The matching set is computed once into a temporary table; the count, the
        page and the facets read it, and snippets are made for the page only.
        """
        node = parse(query.text)
        match = to_fts5(node) if node is not None and positive(node) else None
        where, params = self._filters(query, node)
        columns = "a.rowid AS rid, a.id, a.published_at AS pub, a.source"
        if match:
            base = (
                f"SELECT {columns}, {_BM25} AS rank"
                " FROM articles_fts JOIN article_keys a ON a.rowid = articles_fts.rowid"
                " WHERE articles_fts MATCH ?"
            )
            params = [match, *params]
        else:
            base = f"SELECT {columns}, 0.0 AS rank FROM article_keys a WHERE 1"
        by_date = query.sort == "date" or not match
        order = "pub IS NULL, pub DESC, id" if by_date else "rank, id"
        page_sql, page_params = "SELECT * FROM temp.hits", []
        if query.cursor:
            # dates sort as ISO text (None: undated), relevance by BM25 rank
            kinds = (str, type(None)) if by_date else (float, int)
            after, last_id = decode_cursor(query.cursor, kinds)
            if by_date and after is None:
                page_sql += " WHERE pub IS NULL AND id > ?"
                page_params = [last_id]
            elif by_date:
                page_sql += " WHERE (pub < ? OR pub IS NULL OR (pub = ? AND id > ?))"
                page_params = [after, after, last_id]
            else:
                page_sql += " WHERE (rank > ? OR (rank = ? AND id > ?))"
                page_params = [-after, -after, last_id]
        offset = 0 if query.cursor else max(0, query.offset)
        with self._lock:
            c = self._conn
            c.execute(
                "CREATE TEMP TABLE IF NOT EXISTS hits"
                " (rid INTEGER, id TEXT, pub TEXT, source TEXT, rank REAL)"
            )
            c.execute("DELETE FROM temp.hits")
            # by date, the matches go in newest first (the date index read backwards,
            # no sort): the facets' sample is then the first rows, unsorted too
            newest = " ORDER BY a.published_at DESC" if by_date else ""
            c.execute(
                f"INSERT INTO temp.hits {base}{''.join(f' AND {w}' for w in where)}{newest}",
                params,
            )
            total = c.execute("SELECT COUNT(*) FROM temp.hits").fetchone()[0]
            page = c.execute(
                f"{page_sql} ORDER BY {order} LIMIT ? OFFSET ?",
                [*page_params, max(0, query.limit), offset],
            ).fetchall()
            snippets = self._snippets(match, [r["rid"] for r in page])
            docs = {
                r["rowid"]: r["doc"]
                for r in c.execute(
                    f"SELECT rowid, doc FROM articles WHERE rowid IN ({','.join('?' * len(page))})",
                    [r["rid"] for r in page],
                )
            }
            facets = (
                count_facets(c, total, "rowid" if by_date else "rank") if query.facets else Facets()
            )
        hits = [_hit(docs[r["rid"]], r["rank"], snippets.get(r["rid"])) for r in page]
        next_cursor = None
        if page and len(page) == query.limit:
            last = page[-1]
            next_cursor = encode_cursor([last["pub"] if by_date else -last["rank"], last["id"]])
        return SearchResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def _snippets(self, match: str | None, rowids: list[int]) -> dict[int, str]:
        if not match or not rowids:
            return {}
        rows = self._conn.execute(
            "SELECT rowid, snippet(articles_fts, 2, '<mark>', '</mark>', '…', 24) AS body,"
            " snippet(articles_fts, 0, '<mark>', '</mark>', '…', 24) AS title FROM articles_fts"
            f" WHERE articles_fts MATCH ? AND rowid IN ({','.join('?' * len(rowids))})",
            [match, *rowids],
        )
        return {r["rowid"]: r["body"] if "<mark>" in r["body"] else r["title"] for r in rows}

    def _filters(self, q: SearchQuery, node: Any) -> tuple[list[str], list[Any]]:
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
        # (IN) and drive the query. A type alone is common: each candidate story is
        # checked instead (EXISTS), as reading every row of the type would cost more.
        if q.entity:
            term = "t.term = ?"
            params.append(q.entity.strip().lower())
            if q.type:
                term += " AND t.type = ?"
                params.append(q.type.strip().upper())
            where.append(f"a.id IN (SELECT t.article_id FROM entity_terms t WHERE {term})")
        elif q.type:
            where.append(
                "EXISTS (SELECT 1 FROM entity_terms t WHERE t.article_id = a.id AND t.type = ?)"
            )
            params.append(q.type.strip().upper())
        target = fold(q.target or "")  # no words: no target filter
        if q.speaker and not (q.stance or target):  # with those, the speaker holds a stance
            where.append(
                "a.id IN (SELECT s.article_id FROM article_quotes s"
                " WHERE s.speaker = ? COLLATE NOCASE)"
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
                where.append(
                    f"EXISTS (SELECT 1 FROM article_stances st WHERE {' AND '.join(cond)})"
                )
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
            params.append(_utc(q.since))
        if q.until:
            where.append("a.published_at <= ?")
            params.append(_utc(q.until))
        return where, params


def _like_literal(text: str) -> str:
    """``text`` matched literally by ``LIKE ? ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _utc(when: datetime) -> str:
    """ISO time in UTC, so that string order is time order and days group by prefix."""
    return utc(when).isoformat()


def _hit(doc_json: str, rank: float, snippet: str | None) -> Hit:
    doc = json.loads(doc_json)
    if not snippet or "<mark>" not in snippet:
        snippet = doc.get("summary") or doc.get("body", "")[:200]
    return Hit(
        id=doc["id"],
        title=doc["title"],
        url=doc.get("canonical_url") or doc["url"],
        source=doc["source"],
        published_at=doc.get("published_at"),
        snippet=snippet,
        score=round(-float(rank), 4) + 0.0,
        entities=doc.get("entities", [])[:10],
        stances=doc.get("stances", []),
        quotes=doc.get("quotes", []),
    )
