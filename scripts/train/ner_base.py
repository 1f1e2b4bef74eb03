"""The starting point of scripts/train/ner_one.sh: a CoNLL news NER (the one ner.sh
trains, e.g. pipeline/data/ner) with its PER renamed PERSON and our other types added,
its vectors widened back to float32.

    python scripts/train/ner_base.py CONLL_NER OUT_DIR

The renamed model finds the same entities as the CoNLL one (printed as a check); the added
labels start untrained.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import get_args

import spacy
import srsly  # type: ignore[import-untyped]
from spacy.pipeline import EntityRecognizer

from pipeline.models import EntityType

CHECK = "Vice President Mike Pence met Hezbollah envoys in Beirut and Norwegian fishermen."


def main() -> None:
    conll_ner, out = Path(sys.argv[1]), Path(sys.argv[2])
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(conll_ner, out)
    # CoNLL's PER is our PERSON: rename it in the transition table, keeping its weights
    moves = srsly.msgpack_loads((out / "ner" / "moves").read_bytes())
    table = json.loads(moves["moves"])
    for action in table.values():
        if "PER" in action:
            action["PERSON"] = action.pop("PER")
    moves["moves"] = json.dumps(table)
    (out / "ner" / "moves").write_bytes(srsly.msgpack_dumps(moves))
    nlp = spacy.load(out)
    vectors = nlp.vocab.vectors
    vectors.data = vectors.data.astype("float32")  # shrink_ner.py may have halved them
    ner = nlp.get_pipe("ner")
    assert isinstance(ner, EntityRecognizer)
    for label in get_args(EntityType):
        if label not in ner.labels:
            ner.add_label(label)
    print([(e.text, e.label_) for e in nlp(CHECK).ents], sorted(ner.labels))
    nlp.to_disk(out)


if __name__ == "__main__":
    main()
