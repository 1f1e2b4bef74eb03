"""Check and time ``AttributeLookup`` (pipeline/attributes.py) against spaCy's ruler.

    python scripts/attribute_lookup.py same [--texts DIR ...]   # identity, default: PolNeAR
    python scripts/attribute_lookup.py time [--texts DIR] [--rounds 4]

``same`` runs the analyze stage twice over every text, once with our pipeline as
``load_model`` builds it and once with spaCy's attribute ruler left in its place, and
counts the tokens whose (text, tag, pos, morph, lemma, dep, head, entity, sentence start)
differ and the articles whose ``Analysis`` JSON differs: both must be 0.

``time`` runs the tagger and parser once over the texts, then, rounds alternating, the
ruler and the lookup over copies of those docs, and prints CPU ms per article of each.
Texts are read from ``../shared/data`` and never copied.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throughput import load_texts  # noqa: E402
from pipeline import nlp as nlp_module  # noqa: E402
from pipeline.analyze import analysis_input, analyze_batch  # noqa: E402
from pipeline.attributes import AttributeLookup  # noqa: E402
from pipeline.models import Extracted  # noqa: E402

POLNEAR = ROOT.parent / "shared" / "data" / "polnear"
DEFAULT_TEXTS = [POLNEAR / "dev" / "text", POLNEAR / "train" / "text"]


def articles(folders: list[Path]) -> list[Extracted]:
    """Each text file as an article, read as the benches read them."""
    return [Extracted(title=t, body=b) for folder in folders for t, b in load_texts(folder)]


def pipelines() -> tuple[Language, Language]:
    """(ours as ``load_model`` builds it, the same with spaCy's ruler kept)."""
    new = nlp_module.load_model()
    assert isinstance(new.get_pipe("attribute_ruler"), AttributeLookup)
    keep = nlp_module.replace_attribute_ruler
    nlp_module.replace_attribute_ruler = lambda nlp: None  # type: ignore[assignment]
    try:
        for name in nlp_module.DEFAULT_MODELS:
            try:
                old = nlp_module.load_model(name)
                break
            except nlp_module.InputError:
                continue
    finally:
        nlp_module.replace_attribute_ruler = keep
    assert not isinstance(old.get_pipe("attribute_ruler"), AttributeLookup)
    return new, old


def token_rows(doc: Doc) -> list[tuple[Any, ...]]:
    return [
        (t.text, t.tag_, t.pos_, str(t.morph), t.lemma_, t.dep_, t.head.i, t.ent_iob_,
         t.ent_type_, t.is_sent_start)
        for t in doc
    ]  # fmt: skip


def analyzed(nlp: Language, items: list[Extracted]) -> tuple[list[list[Any]], list[str]]:
    """Each article's token rows (as the pipeline left them) and ``Analysis`` JSON."""
    rows: list[list[Any]] = []
    pipe = nlp.pipe

    def recording(texts: Iterable[str], **kwargs: Any) -> Iterator[Doc]:
        for doc in pipe(texts, **kwargs):
            rows.append(token_rows(doc))
            yield doc

    nlp.pipe = recording  # type: ignore[method-assign]
    try:
        out = []
        for n in range(0, len(items), 16):
            out += [a.model_dump_json() for a in analyze_batch(nlp, items[n : n + 16])]
    finally:
        del nlp.pipe
    return rows, out


def same(folders: list[Path]) -> None:
    items = articles(folders)
    new, old = pipelines()
    new_rows, new_json = analyzed(new, items)
    old_rows, old_json = analyzed(old, items)
    tokens = sum(len(r) for r in old_rows)
    differ = sum(
        sum(a != b for a, b in zip(n, o, strict=False)) + abs(len(n) - len(o))
        for n, o in zip(new_rows, old_rows, strict=True)
    )
    json_differ = sum(a != b for a, b in zip(new_json, old_json, strict=True))
    print(f"{len(items)} articles, {tokens} tokens: {differ} tokens differ, ", end="")
    print(f"{json_differ} analyses differ")
    lookup = new.get_pipe("attribute_ruler")
    sizes = [len(column) for column in lookup.columns]
    print(f"cached: {sizes} values of {lookup.reads}, {len(lookup.outcomes)} outcomes")
    if differ or json_differ:
        raise SystemExit("the lookup and the ruler differ")


def timing(folders: list[Path], rounds: int) -> None:
    items = articles(folders)
    _, old = pipelines()
    ruler = old.get_pipe("attribute_ruler")
    lookup = AttributeLookup.from_ruler(ruler)  # on the same vocabulary as the docs
    texts = [analysis_input(old, x.body) for x in items]
    with old.select_pipes(enable=["tok2vec", "tagger", "newline_sentences", "parser"]):
        docs = list(old.pipe(texts))
    spent = {"ruler": 0.0, "lookup": 0.0}
    for _ in range(rounds):
        for name, component in (("ruler", ruler), ("lookup", lookup)):
            copies = [d.copy() for d in docs]
            started = time.process_time()
            for doc in copies:
                component(doc)
            spent[name] += time.process_time() - started
    per = {k: round(1000 * v / (rounds * len(docs)), 2) for k, v in spent.items()}
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}: "
        f"{len(docs)} articles x {rounds} rounds, CPU ms per article: {per}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["same", "time"])
    parser.add_argument("--texts", type=Path, nargs="+", default=None)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    if args.mode == "same":
        same(args.texts or DEFAULT_TEXTS)
    else:
        timing(args.texts or DEFAULT_TEXTS[:1], args.rounds)


if __name__ == "__main__":
    main()
