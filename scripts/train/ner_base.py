"""The starting point of scripts/train/ner_one.sh: en_core_web_sm's NER alone (it has
its own tok2vec, no static vectors) with our types it lacks added (MISC, WORK).

    python scripts/train/ner_base.py OUT_DIR

Starting from the small model rather than from the CoNLL news NER (ner.sh) keeps what
OntoNotes taught it about the names of the 2000s ("Hezbollah", "Hamas" organisations);
the CoNLL start typed them as people (docs/performance.md, "One entity model"). Its
OntoNotes labels we do not index (GPE, DATE, CARDINAL…) stay in its table, untrained
from here on: the training data has none of them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import get_args

from pseudo_label_ner import small_model  # the sibling script, on sys.path when run
from spacy.pipeline import EntityRecognizer

from pipeline.models import EntityType

CHECK = "Vice President Mike Pence met Hezbollah envoys in Beirut and Norwegian fishermen."


def main() -> None:
    out = Path(sys.argv[1])
    nlp = small_model()
    ner = nlp.get_pipe("ner")
    assert isinstance(ner, EntityRecognizer)
    for label in get_args(EntityType):
        if label not in ner.labels:
            ner.add_label(label)
    print([(e.text, e.label_) for e in nlp(CHECK).ents], sorted(ner.labels))
    nlp.to_disk(out)


if __name__ == "__main__":
    main()
