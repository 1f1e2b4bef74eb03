"""The demo corpus's gold labels (``event``, ``copy_of``) hold together, and the texts
the NER benchmark points into are still there."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

from pipeline.demo.server import DemoArticle, corpus, render_feed, render_page
from tests.conftest import ROOT


def by_event() -> dict[str, list[DemoArticle]]:
    events: dict[str, list[DemoArticle]] = defaultdict(list)
    for article in corpus()[1]:
        events[article.event].append(article)
    return events


def test_every_article_is_labelled_and_slugs_are_unique() -> None:
    _, articles = corpus()
    assert len({a.slug for a in articles}) == len(articles)
    assert all(a.event for a in articles)
    # A story alone in its event is named after itself, so labels never collide.
    alone = [members[0] for members in by_event().values() if len(members) == 1]
    assert alone and all(a.event == a.slug for a in alone)


def test_a_wire_copy_republishes_an_earlier_wire_story_of_its_event() -> None:
    _, articles = corpus()
    slugs = {a.slug: a for a in articles}
    copies = [a for a in articles if a.copy_of]
    assert len(copies) >= 4
    for copy in copies:
        original = slugs[copy.copy_of]
        assert original.feed == "continental-wire" != copy.feed, copy.slug
        assert not original.copy_of and original.event == copy.event, copy.slug
        assert original.date < copy.date, copy.slug
        assert copy.title != original.title, "a copy gets its own headline"


def test_events_have_several_outlets_within_two_days() -> None:
    several = {e: a for e, a in by_event().items() if len({x.feed for x in a}) > 1}
    # own reporting, not only wire copies: several outlets' articles that copy nothing
    reported = [e for e, a in several.items() if len({x.feed for x in a if not x.copy_of}) > 1]
    assert len(reported) >= 6
    for event, members in several.items():
        dates = sorted(a.date for a in members)
        assert dates[-1] - dates[0] <= timedelta(days=2), event


def test_the_labels_are_not_served() -> None:
    feeds, articles = corpus()
    by_slug = {f.slug: f for f in feeds}
    for labelled in (a for a in articles if a.copy_of or a.event != a.slug):
        feed, bare = by_slug[labelled.feed], replace(labelled, event="", copy_of="")
        assert render_page(feed, labelled) == render_page(feed, bare)
        base = "http://127.0.0.1:1"
        assert render_feed(feed, [labelled], base) == render_feed(feed, [bare], base)


def test_the_ner_benchmark_still_points_into_the_first_demo_articles() -> None:
    # bench/data/ner-news.json holds character offsets into demo bodies: new articles
    # are appended, never edited, so the annotated ones stay among the first thirty.
    items = json.loads((ROOT / "bench" / "data" / "ner-news.json").read_text())["items"]
    demo = [i for i in items if i["source"] == "demo"]
    first = {a.slug: a.body for a in corpus()[1][:30]}
    assert demo and all(i["id"] in first for i in demo)
    for item in demo:
        body = first[item["id"]]
        assert all(0 <= s < e <= len(body) and body[s:e].strip() for s, e, _ in item["entities"])
