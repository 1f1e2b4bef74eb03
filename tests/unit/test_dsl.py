"""The Elasticsearch/OpenSearch query and mapping builder, without an engine:
table-driven bodies for queries and filters, documents both ways, the mapping file,
and the one weights table every backend reads."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import InputError
from pipeline.index import TEXT_WEIGHTS, SearchQuery, encode_cursor
from pipeline.index import sqlite as sqlite_index
from pipeline.index.base import FACET_SAMPLE, own_cluster
from pipeline.index.dsl import (
    TEXT_FIELDS,
    cluster_sources_body,
    entity_names_body,
    from_document,
    load_mapping,
    mapping_hash,
    search_body,
    to_document,
    to_result,
)
from pipeline.index.dsl_facets import CLUSTER_PRECISION, TOTAL_PRECISION
from pipeline.models import Article, Entity, Quote, Stance


def _mm(query: str, kind: str) -> dict[str, Any]:
    return {"multi_match": {"query": query, "fields": TEXT_FIELDS, "type": kind}}


@pytest.mark.parametrize(
    ("text", "must"),
    [
        ("", []),
        ("   ", []),
        ("bridge", [_mm("bridge", "best_fields")]),
        ('"harbor bridge"', [_mm("harbor bridge", "phrase")]),
        ("brid*", [_mm("brid", "phrase_prefix")]),
        (
            "harbor bridge",
            [{"bool": {"must": [_mm("harbor", "best_fields"), _mm("bridge", "best_fields")]}}],
        ),
        (
            "tram OR ferry",
            [
                {
                    "bool": {
                        "should": [_mm("tram", "best_fields"), _mm("ferry", "best_fields")],
                        "minimum_should_match": 1,
                    }
                }
            ],
        ),
        (
            "bridge -toll",
            [
                {
                    "bool": {
                        "must": [
                            _mm("bridge", "best_fields"),
                            {"bool": {"must_not": [_mm("toll", "best_fields")]}},
                        ]
                    }
                }
            ],
        ),
    ],
)
def test_text_queries(text: str, must: list[dict[str, Any]]) -> None:
    # (without facets: by date, their sample scores the matches by date, tested below)
    assert search_body(SearchQuery(text=text, facets=False))["query"]["bool"]["must"] == must


SINCE = datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    ("query", "filters"),
    [
        (SearchQuery(), []),
        (
            SearchQuery(entity=" Marcus Hale ", type="person"),
            [{"nested": {"path": "entities", "query": {"bool": {"filter": [
                {"term": {"entities.terms": "Marcus Hale"}}, {"term": {"entities.type": "PERSON"}}]}}}}],
        ),
        (SearchQuery(speaker="Marcus Hale"), [{"term": {"quotes.speaker": "Marcus Hale"}}]),
        (
            SearchQuery(stance="Against"),
            [{"nested": {"path": "stances", "query": {"bool": {"filter": [
                {"term": {"stances.stance": "against"}}]}}}}],
        ),
        (  # with a stance, the speaker is its holder: one nested condition, no quote needed
            SearchQuery(speaker="Hale", stance="favor"),
            [
                {"nested": {"path": "stances", "query": {"bool": {"filter": [
                    {"term": {"stances.stance": "favor"}}, {"term": {"stances.holder": "Hale"}}]}}}},
            ],
        ),
        (  # a target alone: favor or against, its folded words inside the target
            SearchQuery(target="  Ceasefire   Próposal "),
            [{"nested": {"path": "stances", "query": {"bool": {"filter": [
                {"terms": {"stances.stance": ["favor", "against"]}},
                {"bool": {"should": [
                    {"term": {"stances.target": "ceasefire proposal"}},
                    {"wildcard": {"stances.target": {"value": "ceasefire proposal *"}}},
                    {"wildcard": {"stances.target": {"value": "* ceasefire proposal"}}},
                    {"wildcard": {"stances.target": {"value": "* ceasefire proposal *"}}},
                ], "minimum_should_match": 1}}]}}}}],
        ),
        (  # holder, label and target: one condition on one stance
            SearchQuery(speaker="Hale", stance="against", target="plan*"),
            [{"nested": {"path": "stances", "query": {"bool": {"filter": [
                {"term": {"stances.stance": "against"}}, {"term": {"stances.holder": "Hale"}},
                {"bool": {"should": [
                    {"term": {"stances.target": "plan*"}},
                    {"wildcard": {"stances.target": {"value": "plan\\* *"}}},
                    {"wildcard": {"stances.target": {"value": "* plan\\*"}}},
                    {"wildcard": {"stances.target": {"value": "* plan\\* *"}}},
                ], "minimum_should_match": 1}}]}}}}],
        ),
        (SearchQuery(target="   "), []),  # no words: no filter
        (SearchQuery(language=" EN "), [{"term": {"language": "en"}}]),
        (
            SearchQuery(since=SINCE),
            [{"range": {"published_at": {"gte": "2026-10-31T22:00:00+00:00"}}}],
        ),
        (
            SearchQuery(since=SINCE, until=SINCE + timedelta(days=1)),
            [{"range": {"published_at": {"gte": "2026-10-31T22:00:00+00:00", "lte": "2026-11-01T22:00:00+00:00"}}}],
        ),
    ],
)  # fmt: skip
def test_filters(query: SearchQuery, filters: list[dict[str, Any]]) -> None:
    assert search_body(query)["query"]["bool"]["filter"] == filters


def test_source_filter_matches_the_domain_and_its_subdomains() -> None:
    [source] = search_body(SearchQuery(source="www.Harbortimes.example"))["query"]["bool"]["filter"]
    text = json.dumps(source)
    assert '"source": "harbortimes.example"' in text and ".harbortimes.example" in text


@pytest.mark.parametrize(
    ("query", "sort"),
    [
        (SearchQuery(text="bridge"), [{"_score": "desc"}, {"id": "asc"}]),
        (SearchQuery(text="bridge", sort="date"), [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]),
        (SearchQuery(), [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]),
    ],
)  # fmt: skip
def test_sort(query: SearchQuery, sort: list[Any]) -> None:
    assert search_body(query)["sort"] == sort


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        (SearchQuery(limit=5), {"size": 5, "aggs": ...}, {"from", "search_after"}),
        (SearchQuery(offset=20), {"from": 20}, {"search_after"}),
        (SearchQuery(text="bridge", offset=20, cursor=encode_cursor([1.5, "id9"]), collapse=False),
         {"search_after": [1.5, "id9"]}, {"from"}),
        (SearchQuery(offset=20, cursor=encode_cursor([1732000000000, "id9"]), collapse=False),
         {"search_after": [1732000000000, "id9"]}, {"from"}),
        (SearchQuery(facets=False, collapse=False), {}, {"aggs", "collapse"}),
        # collapsed: one hit per cluster, clusters counted, paged by offset (the engines
        # refuse search_after with collapse)
        (SearchQuery(facets=False), {"collapse": {"field": "cluster_id"}, "aggs": ...}, {"search_after", "from"}),
        (SearchQuery(text="bridge", cursor=encode_cursor([30, "id9"])), {"from": 30}, {"search_after"}),
    ],
)  # fmt: skip
def test_paging_and_facets(query: SearchQuery, present: dict[str, Any], absent: set[str]) -> None:
    body = search_body(query)
    for key, value in present.items():
        assert key in body and (value is ... or body[key] == value), key
    assert not absent & set(body)
    assert "body" in body["_source"]["excludes"], "hits never carry the whole text"


def test_forged_cursor_is_an_input_error() -> None:
    with pytest.raises(InputError):
        search_body(SearchQuery(cursor="not-a-cursor"))


@pytest.mark.parametrize(
    ("prefix", "wildcard"),
    [("hal", "* hal*"), (" Ha*le? ", "* Ha\\*le\\?*"), ("a\\b", "* a\\\\b*")],
)
def test_entity_autocomplete_escapes_wildcards(prefix: str, wildcard: str) -> None:
    body = entity_names_body(prefix, 7)
    names = body["aggs"]["entities"]["aggs"]["matching"]
    should = names["filter"]["bool"]["should"]
    assert should[0]["prefix"]["entities.name"]["value"] == prefix.strip()
    assert should[1]["wildcard"]["entities.name"]["value"] == wildcard
    assert names["aggs"]["names"]["terms"]["size"] == 7


ARTICLE = Article(
    id="a1",
    url="https://harbortimes.example/bridge",
    canonical_url="https://harbortimes.example/bridge",
    source="harbortimes.example",
    title="Harbor bridge reopens",
    summary="The bridge reopened.",
    body="The bridge reopened on Monday.",
    language="en",
    published_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
    fetched_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
    entities=[Entity(name="Marcus Hale", type="PERSON", mentions=2, salience=1.0, aliases=["Hale"])],
    quotes=[Quote(speaker="Marcus Hale", speaker_type="PERSON", cue="said", text="At last.", direct=True, start=0, end=8)],
    stances=[Stance(holder="Marcus Hale", target="bridge", stance="favor", confidence=0.8, evidence="At last.")],
)  # fmt: skip


def test_documents_both_ways() -> None:
    doc = to_document(ARTICLE, indexed_at=datetime(2026, 11, 3, tzinfo=UTC))
    assert doc["entities"][0]["terms"] == ["Marcus Hale", "Hale"]
    assert doc["quotes_text"] == "Marcus Hale: At last." and "Hale" in doc["entities_text"]
    assert doc["indexed_at"] == "2026-11-03T00:00:00+00:00"
    # a story without a cluster is stored as its own: the engines collapse on the field
    assert from_document(json.loads(json.dumps(doc))) == own_cluster(ARTICLE)
    assert doc["cluster_id"] == "a1"
    clustered = ARTICLE.model_copy(update={"cluster_id": "c7", "duplicate_of": "a0"})
    assert from_document(json.loads(json.dumps(to_document(clustered)))) == clustered


@pytest.mark.parametrize(
    "cursor",
    [encode_cursor([0, "a"]), encode_cursor([-3, "a"]), encode_cursor([10_000, "a"]),
     encode_cursor([2.5, "a"]), encode_cursor(["x", "a"]), encode_cursor([True, "a"])],
)  # fmt: skip
def test_a_collapsed_cursor_holds_an_offset_within_the_window(cursor: str) -> None:
    with pytest.raises(InputError):
        search_body(SearchQuery(text="bridge", cursor=cursor))


def test_a_collapsed_date_cursor_filters_the_hits_not_the_counts() -> None:
    body = search_body(SearchQuery(cursor=encode_cursor([1732000000000, "id9"])))
    assert not {"from", "search_after"} & set(body)
    later_id = {"range": {"id": {"gt": "id9"}}}
    assert body["post_filter"]["bool"]["should"][0] == {
        "range": {"published_at": {"lt": 1732000000000, "format": "epoch_millis"}}
    }
    assert later_id in body["post_filter"]["bool"]["should"][1]["bool"]["filter"]
    undated = search_body(SearchQuery(sort="date", text="x", cursor=encode_cursor([None, "id9"])))
    assert later_id in undated["post_filter"]["bool"]["filter"]


def test_facets_count_clusters_by_cardinality() -> None:
    aggs = search_body(SearchQuery(collapse=False, facet_count="clusters"))["aggs"]
    assert "clusters" not in aggs, "an expanded search counts stories"
    # a bucket's counter is small (hundreds of buckets a search); the total is exact as
    # far as the engines go: "N with copies" compares it with the stories
    assert (CLUSTER_PRECISION, TOTAL_PRECISION) == (3_000, 40_000)
    count = {"cardinality": {"field": "cluster_id", "precision_threshold": CLUSTER_PRECISION}}
    assert aggs["sources"]["aggs"]["clusters"] == count
    assert aggs["dates"]["aggs"]["clusters"] == count
    assert aggs["sources"]["terms"]["order"] == [{"clusters": "desc"}, {"_key": "asc"}]
    names = aggs["sample"]["aggs"]["entities"]["aggs"]["types"]["aggs"]["names"]
    assert names["terms"]["order"] == [{"articles>clusters": "desc"}, {"_key": "asc"}]
    assert names["aggs"]["articles"] == {"reverse_nested": {}, "aggs": {"clusters": count}}
    stories = search_body(SearchQuery(facet_count="stories"))["aggs"]
    total = {"cardinality": {"field": "cluster_id", "precision_threshold": TOTAL_PRECISION}}
    assert stories["clusters"] == total, "the total still counts clusters"
    assert "aggs" not in stories["sources"]


def test_a_collapsed_search_counts_its_stories_apart_only_behind_a_post_filter() -> None:
    # hits.total counts every match, but what a post_filter (a date cursor) drops
    first = search_body(SearchQuery(type="ORG"))
    assert "post_filter" not in first and "stories" not in first["aggs"]
    assert "stories" not in search_body(SearchQuery(text="bridge", offset=10))["aggs"]
    after = search_body(SearchQuery(type="ORG", cursor=encode_cursor([1732000000000, "id9"])))
    assert "post_filter" in after
    assert after["aggs"]["stories"] == {"filter": {"match_all": {}}}


@pytest.mark.parametrize(
    ("query", "by_date"),
    [(SearchQuery(text="bridge"), False), (SearchQuery(text="bridge", sort="date"), True),
     (SearchQuery(type="ORG"), True)],
)  # fmt: skip
def test_facets_sample_the_first_matches_in_the_results_order(
    query: SearchQuery, by_date: bool
) -> None:
    body = search_body(query)
    sample = body["aggs"]["sample"]
    assert sample["sampler"] == {"shard_size": FACET_SAMPLE}
    assert set(sample["aggs"]) == {"entities", "stances"}, "sources and days count every match"
    [must] = body["query"]["bool"]["must"]
    bare = search_body(replace(query, facets=False))["query"]["bool"]
    assert body["query"]["bool"]["filter"] == bare["filter"]
    if not by_date:  # the sampler takes the best scores: relevance is the result's order
        assert [must] == bare["must"]
        return
    # by date the matches score their date: the newest are sampled, undated last
    assert must["function_score"] == {
        "query": bare["must"][0] if bare["must"] else {"match_all": {}},
        "field_value_factor": {"field": "published_at", "missing": 0},
        "boost_mode": "replace",
    }


def test_a_page_counts_its_few_clusters_by_value() -> None:
    # a page's clusters: bucketed by value, no global ordinals of every cluster id
    body = cluster_sources_body(SearchQuery(text="bridge"), ["c1", "c2"])
    terms = body["aggs"]["clusters"]["terms"]
    assert terms == {"field": "cluster_id", "size": 2, "execution_hint": "map"}


def test_to_result_reads_hits_total_facets_and_cursor() -> None:
    source = to_document(ARTICLE)
    resp = {
        "hits": {
            "total": {"value": 3},
            "hits": [{"_source": source, "_score": 2.345678, "sort": [2.3, "a1"],
                      "highlight": {"body": ["The <mark>bridge</mark> reopened"]}}],
        },
        "aggregations": {
            "sample": {"doc_count": 3,
            "entities": {"types": {"buckets": [{"key": "PERSON", "names": {"buckets": [
                {"key": "Marcus Hale", "articles": {"doc_count": 3}}]}}]}},
            "stances": {"labels": {"buckets": [{"key": "favor", "articles": {"doc_count": 1}},
                                               {"key": "against", "articles": {"doc_count": 2}}]},
                        "positions": {"targets": {"buckets": [
                            {"key": "ceasefire proposal", "articles": {"doc_count": 3},
                             "labels": {"buckets": [{"key": "favor", "articles": {"doc_count": 1}},
                                                    {"key": "against", "articles": {"doc_count": 2}}]},
                             "type": {"buckets": [{"key": "ISSUE", "doc_count": 4}]}},
                            {"key": "Marcus Hale", "articles": {"doc_count": 1},
                             "labels": {"buckets": [{"key": "favor", "articles": {"doc_count": 1}}]},
                             "type": {"buckets": [{"key": "PERSON", "doc_count": 1}]}}]}}}},
            "sources": {"buckets": [{"key": "harbortimes.example", "doc_count": 3}]},
            "dates": {"buckets": [{"key_as_string": "2026-11-02", "doc_count": 3}]},
        },
    }  # fmt: skip
    result = to_result(resp, SearchQuery(text="bridge", limit=1, collapse=False))
    [hit] = result.hits
    assert (result.total, hit.id, hit.score) == (3, "a1", 2.3457)
    assert hit.snippet == "The <mark>bridge</mark> reopened"
    assert [(v.value, v.count) for v in result.facets.stances] == [("against", 2), ("favor", 1)]
    assert [(v.value, v.stance, v.type, v.count) for v in result.facets.targets] == [
        ("ceasefire proposal", "against", "ISSUE", 2),
        ("ceasefire proposal", "favor", "ISSUE", 1),
        ("Marcus Hale", "favor", "PERSON", 1),
    ]
    assert hit.quotes == ARTICLE.quotes, "cards badge quotes: hits carry them"
    assert result.facets.entities["PERSON"][0].value == "Marcus Hale"
    assert not result.facets.sampled, "the sample held every match"
    assert result.next_cursor == encode_cursor([2.3, "a1"]), "a full page has a next cursor"
    assert to_result(resp, SearchQuery(text="bridge", limit=10, collapse=False)).next_cursor is None
    # collapsed: clusters from their cardinality, the page's offset in the cursor
    resp["aggregations"] |= {"clusters": {"value": 2}}
    result = to_result(resp, SearchQuery(text="bridge", limit=1, facet_count="stories"))
    assert (result.total, result.stories) == (2, 3), "stories: hits.total"
    resp["hits"]["total"] = {"value": 2500}
    sampled = to_result(resp, SearchQuery(text="bridge", facet_count="stories")).facets
    assert sampled.sampled, "3 of 2,500 counted"
    # behind a post_filter hits.total counts the page's side: the stories are counted apart
    resp["aggregations"] |= {"stories": {"doc_count": 4}}
    assert to_result(resp, SearchQuery(text="bridge", facet_count="stories")).stories == 4
    # the clusters' estimate (above TOTAL_PRECISION) never passes the stories it counts
    resp["aggregations"] |= {"clusters": {"value": 5}}
    estimated = to_result(resp, SearchQuery(text="bridge", facet_count="stories"))
    assert (estimated.total, estimated.stories) == (4, 4)
    assert result.hits[0].cluster is not None and result.hits[0].cluster.id == "a1"
    assert result.next_cursor == encode_cursor([1, "a1"])


def test_one_weights_table_for_every_backend() -> None:
    # Elasticsearch and OpenSearch: the fields boosted by their weights
    assert TEXT_FIELDS == ["title^6", "summary^2", "body", "quotes_text^1.5", "entities_text^3"]
    # SQLite: bm25() gets the same weights, in the order of its FTS columns
    columns = re.search(r"USING fts5 \(\s*([^-]*?),\s*--", sqlite_index._SCHEMA)
    assert columns is not None
    fts = [c.strip() for c in columns[1].split(",")]
    assert [f"{c}_text" if c in ("quotes", "entities") else c for c in fts] == list(TEXT_WEIGHTS)
    assert sqlite_index._BM25 == "bm25(articles_fts, 6.0, 2.0, 1.0, 1.5, 3.0)"


def test_targets_facet_counts_favor_and_against_by_raw_target() -> None:
    sample = search_body(SearchQuery(collapse=False))["aggs"]["sample"]["aggs"]
    aggs = sample["stances"]["aggs"]["positions"]
    assert aggs["filter"] == {"terms": {"stances.stance": ["favor", "against"]}}
    terms = aggs["aggs"]["targets"]["terms"]
    # as written (not folded), most stories first, ties by name: as SQLite ranks them
    assert terms["field"] == "stances.target.raw"
    assert terms["order"] == [{"articles": "desc"}, {"_key": "asc"}]


def test_the_mapping_holds_every_stance_field() -> None:
    # the mapping is strict: a stance field it lacks would refuse every document
    stances = load_mapping()["mappings"]["properties"]["stances"]
    assert stances["type"] == "nested"
    assert set(stances["properties"]) == set(Stance.model_fields)
    assert stances["properties"]["target"]["fields"]["raw"] == {"type": "keyword"}


def test_the_packaged_mapping_and_an_override(tmp_path: Path) -> None:
    packaged = load_mapping()
    assert set(packaged) == {"settings", "mappings"}
    assert packaged["mappings"]["properties"]["entities"]["type"] == "nested"
    for field in TEXT_WEIGHTS:
        assert field in packaged["mappings"]["properties"], f"{field} is searched, so mapped"
    own = tmp_path / "mine.json"
    own.write_text(json.dumps({"settings": {}, "mappings": {"properties": {}}}))
    assert load_mapping(own) == {"settings": {}, "mappings": {"properties": {}}}
    assert mapping_hash(load_mapping(own)) != mapping_hash(packaged)
    assert mapping_hash(packaged) == mapping_hash(json.loads(json.dumps(packaged)))


@pytest.mark.parametrize(("content", "message"), [(None, "mine.json"), ("{nope", "not valid JSON")])
def test_a_bad_mapping_override_is_an_input_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    own = tmp_path / "mine.json"
    if content is not None:
        own.write_text(content)
    with pytest.raises(InputError, match=message):
        load_mapping(own)
