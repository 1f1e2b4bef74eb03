"""The embedded search backend: SQLite FTS5 with BM25 ranking, snippets and SQL facets."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipeline.index import sqlite_clusters as clusters
from pipeline.index.base import (
    TEXT_WEIGHTS,
    EntityName,
    Facets,
    Health,
    Hit,
    Outdated,
    Revise,
    SearchQuery,
    SearchResult,
    cluster_info,
    cluster_of,
    fold,
    own_cluster,
    search_texts,
)
from pipeline.index.cursor import decode_cursor, encode_cursor
from pipeline.index.sqlite_facets import count_facets
from pipeline.index.sqlite_filters import Matches, filters, on_keys, utc_text
from pipeline.index.sqlite_revise import count_outdated, revise_outdated
from pipeline.models import Article
from pipeline.query import parse, positive, to_fts5
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
-- 1000 matches, most of a large search). rowid = articles.rowid. ``cluster`` is the
-- story's same-event cluster (its own id when it has none), which searches collapse on.
-- ``types``: its entities' types, ",ORG,PERSON," (NULL for none), so that a type filter
-- reads the row it already has (a lookup in entity_terms per match cost ~0.4 ms per 1000).
CREATE TABLE IF NOT EXISTS article_keys (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
    language TEXT, published_at TEXT, cluster TEXT, types TEXT
);
-- stories per analysis version: `status` counts the outdated ones (sqlite_revise.py)
CREATE INDEX IF NOT EXISTS articles_analyzed_with ON articles (json_extract(doc, '$.analyzed_with'));
-- superseded by article_keys' indexes (_KEY_INDEXES) and entity_terms_article_type below
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
-- a story's rows (deletes cascade by article); was a type filter's, now article_keys.types
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
# Made after the cluster and types columns exist (``_migrate`` adds them to older
# databases). A search without words reads its matches from article_keys, with no table
# of them (``search``): the date, source and day indexes hold every column the filters
# and the counts read (date, types, source, language, cluster), so that counting the
# matches, and counting them by source and by day, reads one index and no row (by
# source and by day in order, with no sort); a story that is a copy is found in the
# partial index. The trigger keeps the cluster column in step with the document,
# whoever rewrites it (a cluster merge relabels stories in place).
_KEY_INDEXES = """
DROP INDEX IF EXISTS article_keys_published;
DROP INDEX IF EXISTS article_keys_source;
CREATE INDEX IF NOT EXISTS article_keys_cluster ON article_keys (cluster);
CREATE INDEX IF NOT EXISTS article_keys_by_date
    ON article_keys (published_at, types, source, language, cluster);
CREATE INDEX IF NOT EXISTS article_keys_by_source
    ON article_keys (source, cluster, published_at, types, language);
CREATE INDEX IF NOT EXISTS article_keys_by_day
    ON article_keys (substr(published_at, 1, 10), cluster, published_at, types, source, language);
CREATE INDEX IF NOT EXISTS article_keys_copies ON article_keys (published_at) WHERE cluster <> id;
CREATE TRIGGER IF NOT EXISTS article_keys_cluster AFTER UPDATE OF doc ON articles BEGIN
    UPDATE article_keys SET cluster = coalesce(json_extract(NEW.doc, '$.cluster_id'), NEW.id)
    WHERE rowid = NEW.rowid;
END;
"""
_CLUSTER_OF_DOC = "coalesce(json_extract(doc, '$.cluster_id'), id)"
_TYPES_OF_KEY = (
    "(SELECT ',' || group_concat(DISTINCT t.type) || ',' FROM entity_terms t"
    " WHERE t.article_id = article_keys.id)"
)
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
        """A database from before the keys table gets it filled, one from before clusters
        gets their column (filled from the stored documents), one from before entity
        types on the keys gets them (from entity_terms); one from before stance
        target types gets the column, filled from the stored documents (their stances
        load with the model's default type). Each column is added and filled in one
        transaction: a migration stopped half-way leaves it to do again, not empty."""
        keys = {r["name"] for r in self._conn.execute("PRAGMA table_info(article_keys)")}
        if "cluster" not in keys:
            with self._tx() as c:
                c.execute("ALTER TABLE article_keys ADD COLUMN cluster TEXT")
                c.execute(
                    f"UPDATE article_keys SET cluster = (SELECT {_CLUSTER_OF_DOC} FROM articles"
                    " WHERE articles.rowid = article_keys.rowid)"
                )
        if "types" not in keys:
            with self._tx() as c:
                c.execute("ALTER TABLE article_keys ADD COLUMN types TEXT")
                c.execute(f"UPDATE article_keys SET types = {_TYPES_OF_KEY}")
        self._conn.executescript(_KEY_INDEXES)
        if self._conn.execute("SELECT 1 FROM article_keys LIMIT 1").fetchone() is None:
            with self._tx() as c:
                c.execute(
                    "INSERT INTO article_keys(rowid, id, source, language, published_at, cluster)"
                    f" SELECT rowid, id, source, language, published_at, {_CLUSTER_OF_DOC}"
                    " FROM articles"
                )
                c.execute(f"UPDATE article_keys SET types = {_TYPES_OF_KEY}")
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
                self._insert(own_cluster(a))
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
                utc_text(a.published_at) if a.published_at else None,
            ),
        ).lastrowid
        types = sorted({e.type for e in a.entities})
        c.execute(
            "INSERT INTO article_keys(rowid, id, source, language, published_at, cluster, types)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                rowid,
                a.id,
                a.source,
                a.language,
                utc_text(a.published_at) if a.published_at else None,
                cluster_of(a),
                f",{','.join(types)}," if types else None,
            ),
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
                self._insert(own_cluster(a))  # as the engines' reindex: no story without one
        return "articles", "articles", len(docs)

    def delete(self, article_id: str) -> bool:
        with self._tx():
            return self._delete(article_id)

    def relabel_cluster(self, old: str, new: str) -> int:
        """Clusters merged: ``old``'s stories carry ``new`` (in their stored documents)."""
        with self._tx() as c:
            return c.execute(
                "UPDATE articles SET doc = json_set(doc, '$.cluster_id', ?)"
                " WHERE rowid IN (SELECT rowid FROM article_keys WHERE cluster = ?)",
                (new, old),
            ).rowcount

    # reads ----------------------------------------------------------------

    def revise(self, outdated: Outdated, revise: Revise, batch_size: int) -> int:
        """In place, a transaction per batch (``sqlite_revise``)."""
        return revise_outdated(self, outdated, revise, batch_size)

    def count_outdated(self, outdated: Outdated) -> int:
        with self._lock:
            return count_outdated(self._conn, outdated)

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
        """Full text (BM25, title weighted) with filters, snippets, facets and cursors;
        collapsed, one hit per cluster (its best match by the result's order).

        Without words, and with filters on article_keys alone, the counts, the page
        and the facets read article_keys through the filters each time, from its
        covering indexes (``_KEY_INDEXES``), the page by reading the date index newest
        first (only stories of the same time are sorted, by id).
        Otherwise the matches are found once into a temporary table, which they read
        (ranking needs every match; a name, speaker or stance filter would be looked
        up again by each count). Snippets are made for the page only.
        """
        node = parse(query.text)
        match = to_fts5(node) if node is not None and positive(node) else None
        where, params = filters(query, node)
        columns = "a.rowid AS rid, a.id, a.published_at AS pub, a.source, a.cluster"
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
        # newest first, undated last (SQLite sorts NULL below every value)
        order = "pub DESC, id" if by_date else "rank, id"
        after, after_params = "1", []
        if query.cursor:
            # dates sort as ISO text (None: undated), relevance by BM25 rank
            kinds = (str, type(None)) if by_date else (float, int)
            value, last_id = decode_cursor(query.cursor, kinds)
            if by_date and value is None:
                after, after_params = "pub IS NULL AND id > ?", [last_id]
            elif by_date:
                # unary +: no index range on pub, so the page reads the date index in
                # order and stops at its limit (a range would sort every earlier match)
                after = "(+pub < ? OR +pub IS NULL OR (+pub = ? AND id > ?))"
                after_params = [value, value, last_id]
            else:
                after, after_params = (
                    "(rank > ? OR (rank = ? AND id > ?))",
                    [-value, -value, last_id],
                )
        offset = 0 if query.cursor else max(0, query.offset)
        limit = max(0, query.limit)
        with self._lock, _snapshot(self._conn):
            c = self._conn
            selected = f"{base}{''.join(f' AND {w}' for w in where)}"
            if match or not on_keys(query, node):
                c.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS hits"
                    " (rid INTEGER, id TEXT, pub TEXT, source TEXT, cluster TEXT, rank REAL)"
                )
                c.execute("DELETE FROM temp.hits")
                # by date, the matches go in newest first: the facets' sample is then
                # the first rows, with no sort
                newest = " ORDER BY a.published_at DESC" if by_date else ""
                c.execute(f"INSERT INTO temp.hits {selected}{newest}", params)
                m = Matches("temp.hits", [])
                sample_order = "rowid" if by_date else "rank"
            else:
                m = Matches(f"({selected})", params)
                sample_order = "pub DESC"
            stories = c.execute(f"SELECT COUNT(*) FROM {m.sql}", m.params).fetchone()[0]
            # with no copies among the matches, every match is a cluster of its own
            grouped = (query.collapse or query.count_clusters) and clusters.has_copies(c, m)
            total = clusters.count(c, m) if query.collapse and grouped else stories
            if query.collapse and grouped:
                page = clusters.page(c, m, order, after, after_params, limit, offset)
            else:
                page = c.execute(
                    f"SELECT * FROM {m.sql} WHERE {after} ORDER BY {order} LIMIT ? OFFSET ?",
                    [*m.params, *after_params, limit, offset],
                ).fetchall()
            snippets = self._snippets(match, [r["rid"] for r in page])
            docs = {
                r["rowid"]: r["doc"]
                for r in c.execute(
                    f"SELECT rowid, doc FROM articles WHERE rowid IN ({','.join('?' * len(page))})",
                    [r["rid"] for r in page],
                )
            }
            sources = (
                clusters.sources(c, m, [r["cluster"] for r in page])
                if query.collapse and grouped
                else {r["cluster"]: {r["source"]: 1} for r in page}
            )
            facets = (
                count_facets(
                    c,
                    m,
                    stories,
                    sample_order,
                    "cluster" if query.count_clusters and grouped else "id",
                )
                if query.facets
                else Facets()
            )
        hits = [_hit(docs[r["rid"]], r["rank"], snippets.get(r["rid"])) for r in page]
        if query.collapse:
            for hit, r in zip(hits, page, strict=True):
                hit.cluster = cluster_info(r["cluster"], r["source"], sources[r["cluster"]])
        next_cursor = None
        if page and len(page) == query.limit:
            last = page[-1]
            next_cursor = encode_cursor([last["pub"] if by_date else -last["rank"], last["id"]])
        return SearchResult(
            total=total, stories=stories, hits=hits, facets=facets, next_cursor=next_cursor
        )

    def cluster(self, cluster_id: str, limit: int = 200) -> list[Article]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT a.doc FROM article_keys k JOIN articles a ON a.rowid = k.rowid"
                " WHERE k.cluster = ?"
                " ORDER BY k.published_at IS NULL, k.published_at, k.id LIMIT ?",
                (cluster_id, max(0, limit)),
            ).fetchall()
        return [Article.model_validate_json(r["doc"]) for r in rows]

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


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: a search's statements (matches, page, documents, snippets,
    facets) see one state of the file, though another process writes meanwhile (a
    story rewritten between two of them gets another rowid: its document was missing)."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")
