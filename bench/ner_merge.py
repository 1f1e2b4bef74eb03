"""Ways of combining the two NER models, scored on CoNLL-2003 dev and the news set.

Each text is parsed once; both models' raw entities are kept, and every variant
merges them its own way before our normalization (``extract_entities``) runs:

  a  today's merge (``NewsEntities._merge``, one type per name per article)
  b  a without "the small model's type wins on a PERSON/ORG disagreement"
  c  a without "one type per name per article" (``_merge_types``)
  bc both removed
  d  the news NER's PER/ORG/LOC/MISC as they are, plus the small model's entities of
     the types the news NER lacks (NORP, EVENT, LAW, …) where no span overlaps
  e  en_core_web_sm alone (reference)

    python bench/ner_merge.py [--conll FILE] [--news] [--shared DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from spacy.language import Language
from spacy.tokens import Doc, Span

from pipeline import entities
from pipeline.evaluation_ner import (
    NEWS_SET,
    SHARED_DATA,
    Span3,
    conll_documents,
    news_items,
    score_conll,
    score_news,
)
from pipeline.nlp import _CONLL_LABEL, NEWS_NER, NewsEntities, load_model

VARIANTS = ("a", "b", "c", "bc", "d", "e")


def _without_person_org_override(doc: Doc) -> Doc:
    """Today's merge, but the news NER keeps its PERSON or ORG when the models disagree."""
    onto = doc.spans["ontonotes"]
    swapped = [
        Span(doc, e.start, e.end, label=e.label_)
        for e in onto
        if e.label_ in ("PERSON", "ORG")
        and any(
            n.start == e.start
            and n.end == e.end
            and {_CONLL_LABEL.get(n.label_), e.label_} == {"PERSON", "ORG"}
            for n in doc.ents
        )
    ]
    # hide the small model's type where it would override; _merge then keeps the news type
    hidden = {(s.start, s.end) for s in swapped}
    doc.spans["ontonotes"] = [e for e in onto if (e.start, e.end) not in hidden]
    doc = NewsEntities._merge(doc)
    doc.spans["ontonotes"] = onto
    return doc


def _news_first(doc: Doc) -> Doc:
    ents = [
        Span(doc, e.start, e.end, label=_CONLL_LABEL.get(e.label_, e.label_), kb_id=NEWS_NER)
        for e in doc.ents
    ]
    return NewsEntities.with_other_types(doc, ents)


def _small_alone(doc: Doc) -> Doc:
    doc.ents = list(doc.spans["ontonotes"])
    return doc


MERGES: dict[str, Callable[[Doc], Doc]] = {
    "a": NewsEntities._merge,
    "b": _without_person_org_override,
    "c": NewsEntities._merge,
    "bc": _without_person_org_override,
    "d": _news_first,
    "e": _small_alone,
}


@contextmanager
def _one_type_per_name(keep: bool) -> Iterator[None]:
    saved = entities._merge_types
    if not keep:
        entities._merge_types = lambda groups: groups
    try:
        yield
    finally:
        entities._merge_types = saved


class Runner:
    """Parses a text once (both models), then gives each variant's mentions."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.news = cast(NewsEntities, nlp.get_pipe("news_entities"))
        self.seconds = {"small": 0.0, "news": 0.0, "rest": 0.0}

    def mentions(self, text: str) -> dict[str, list[Span3]]:
        t0 = time.perf_counter()
        with self.nlp.select_pipes(disable=["news_entities", "ner"]):
            doc = self.nlp(text)
        t1 = time.perf_counter()
        doc = self.nlp.get_pipe("ner")(doc)
        t2 = time.perf_counter()
        onto = list(doc.ents)
        doc = self.news.ner(self.news._stash(doc))
        t3 = time.perf_counter()
        news = list(doc.ents)
        self.seconds["rest"] += t1 - t0
        self.seconds["small"] += t2 - t1
        self.seconds["news"] += t3 - t2
        out: dict[str, list[Span3]] = {}
        for name in VARIANTS:
            doc.user_data.pop("newswire:text", None)
            doc.spans["ontonotes"] = onto
            doc.ents = news
            merged = MERGES[name](doc)
            with _one_type_per_name("c" not in name):
                index = entities.extract_entities(merged)
            out[name] = [(m.start, m.end, m.type) for m in index.mentions]
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conll", type=Path, default=SHARED_DATA / "conll2003" / "eng.testa")
    parser.add_argument("--news", action="store_true", help="also (only) the news set")
    parser.add_argument("--skip-conll", action="store_true")
    parser.add_argument("--annotations", type=Path, default=NEWS_SET)
    parser.add_argument("--shared", type=Path, default=SHARED_DATA)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runner = Runner(load_model())
    results: dict[str, Any] = {}
    if not args.skip_conll:
        docs = conll_documents(args.conll)
        found = [runner.mentions(d.text) for d in docs]
        ms = {k: round(1000 * v / len(docs), 1) for k, v in runner.seconds.items()}
        results["conll"] = {"ms_per_doc": ms}
        for name in VARIANTS:
            scores = score_conll(docs, [f[name] for f in found])
            scores.pop("lines")
            results["conll"][name] = scores
            print("conll", name, scores["f1"], {k: v["f1"] for k, v in scores["per_type"].items()})
    if args.news:
        runner.seconds = dict.fromkeys(runner.seconds, 0.0)
        items = news_items(args.annotations, args.shared)
        found = [runner.mentions(i.text) for i in items]
        ms = {k: round(1000 * v / len(items), 1) for k, v in runner.seconds.items()}
        results["news"] = {"ms_per_doc": ms}
        for name in VARIANTS:
            scores = score_news(items, [f[name] for f in found])
            results["news"][name] = scores
            conll4, typed = scores["conll4"]["f1"], scores["typed"]
            print("news", name, scores["f1"], "conll4", conll4, "typed", typed)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
