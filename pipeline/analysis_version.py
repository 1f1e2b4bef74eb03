"""What analysed a story: a short stable string stamped on every article
(``Article.analyzed_with``), so that ``newswire reanalyze`` and ``newswire status`` find
the stories that older models analysed.

``analysis_version(nlp.meta, steps)`` is ``{lang}_{name}-{version}/{digest}``: the spaCy
model's name and version as its meta says, then 12 hex digits of a SHA-256 over

- the bytes of every file shipped in ``pipeline/data/`` (the news NER, the sentiment
  and stance models, the claim model) with its path: retraining or replacing any of
  them changes the version, while installing them elsewhere (new mtimes) does not;
  the holdout sets there are evaluation data, not models, and are left out;
- the switched-on ``analysis_steps``, in their order;
- ``ANALYSIS_REVISION``, which we bump by hand when a change of the rules in code
  (quotes, stances) should send every story through ``reanalyze``.

The files are hashed once per process (about 50 MB, a fraction of a second), the
result cached per data directory.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import InputError

DATA_DIR = Path(__file__).parent / "data"
# 2: abbreviations, lists, places; 3: dating clauses, appositions, camps, prepositions;
# 4: gerunds after prepositions, speaker labels the tagger missed; 5: particle verbs,
# statements someone issued, more undoing nouns, "the issue of X", "support behind X",
# get behind / stand against / pound, take on / target / destroy of names only, a noun
# cue under a denied verb; 6: "voted / is in favor of X", rebuff / shun / rebut and
# other verbs against, balk / scoff / fire (back) at, tear into, vouch / root for, not
# congratulate, campaigns someone mounted or waged, admiration / critique / disdain and
# other stance nouns, "backlash against X", "anger at X", proponent / advocate /
# adversary and other people nouns; 7: party designations, honorifics' gender, authored
# articles, 'united in supporting'; 8: a thing with a camp prefix holds no side; 9: what
# someone "should" or "ought to" do is not their side (unless "I" or "we" say it); 10: no
# side from citing or facing another's stance noun, a clause is no name ("Trump accused
# Holt"), a word is short for an organisation of capitalised words only; 11: a name after
# "and" right before a verb with no subject is its subject ("… and Democrats accused X"),
# a gerund after "after" or "before" is the clause subject's ("after savaging X, Trump …"),
# two apostrophes are quotation marks (''…''), "as X put it" names the quote's speaker;
# 12: a direct quote written around its attribution ("A," X said. "B.") is one quote;
# 13: attributions written inside what they attribute ("X, critics argue, …") and made
# through a relative pronoun ("Hale, who says …") are quotes, not read for stances;
# 14: and they change nothing the stance step reads (cues, the next quote's speaker)
# 15, 16: four later kinds ("urged residents to …", "called for", "cited"/"accused" and
# their object, "he continued"), not read for stances and changing nothing that is;
# 17: their speakers without the guard of 16; 18: a direct quote's speaker past quoted
# words the parser took for its cue's subject, not read for stances; 19: and the name
# right after a subjectless cue right after a direct quote; 20: the first name between a
# quote and a cue parsed under it, and those direct quotes going on in the next one;
# 21: no possessive as their speaker, no going on into a quote with a cue of its own;
# 22: no stance from a killing, an election won ("defeated Sanders") or a milestone hit;
# 23: a quote's lean toward a group (NORP) is no stance candidate; 24: those a holder
# names as its examples ("Democrats, including Clinton, …") hold its stance too;
# 25: "George H.W. Bush" and "George W. Bush" are two people, not one entity
ANALYSIS_REVISION = 25
_NOT_MODELS = (".holdout.json",)


@functools.cache
def artifacts_digest(data_dir: Path = DATA_DIR) -> str:
    """SHA-256 (hex) over the relative path and bytes of each model file under
    ``data_dir``, in path order; cached per directory for the life of the process."""
    digest = hashlib.sha256()
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        if path.name.endswith(_NOT_MODELS):
            continue
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def analysis_version(
    meta: Mapping[str, Any], steps: Sequence[str], *, data_dir: Path = DATA_DIR
) -> str:
    """The version string of analyses made by the spaCy model of ``meta`` (a loaded
    pipeline's ``nlp.meta``, or ``model_meta``) with ``steps`` (see the module's
    docstring), e.g. ``en_core_web_sm-3.8.0/1f0c9a7e52b4``."""
    model = f"{meta.get('lang', 'xx')}_{meta.get('name', 'model')}-{meta.get('version', '0')}"
    mixed = hashlib.sha256(
        "\n".join([artifacts_digest(data_dir), ",".join(steps), str(ANALYSIS_REVISION)]).encode()
    )
    return f"{model}/{mixed.hexdigest()[:12]}"


def model_meta(name: str = "") -> dict[str, Any]:
    """The meta of the spaCy model ``nlp.load_model(name)`` loads, read from its
    package without loading it (``newswire status`` needs the version, not the model).
    ``InputError`` when none is installed."""
    import spacy.util

    from pipeline.nlp import DEFAULT_MODELS

    for candidate in (name,) if name else DEFAULT_MODELS:
        path = Path(candidate)
        try:
            meta: dict[str, Any] = spacy.util.get_model_meta(
                path if path.is_dir() else spacy.util.get_package_path(candidate)
            )
        except (ImportError, OSError, ValueError):
            continue
        return meta
    raise InputError(
        f"no spaCy model found (tried {', '.join((name,) if name else DEFAULT_MODELS)})"
    )


@functools.cache
def current_version(spacy_model: str, steps: tuple[str, ...]) -> str | None:
    """``analysis_version`` of the model ``spacy_model`` names (``model_meta``) with
    ``steps``, read once per process; None when no spaCy model is installed here (a
    machine that only serves or operates)."""
    try:
        return analysis_version(model_meta(spacy_model), steps)
    except InputError:
        return None
