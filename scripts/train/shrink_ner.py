"""Shrink a trained news NER for shipping, in place (the last step of ner.sh).

    python scripts/train/shrink_ner.py [pipeline/data/ner]

- the static vectors table is stored as float16 (``pipeline.nlp`` widens it back to
  float32 when it loads the model): half the bytes, the same entities;
- the string table is dropped: vectors are looked up by hash, and the model's labels
  live in its own files, so nothing reads those strings.

``newswire eval ner`` before and after must print the same scores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    model = Path(sys.argv[1] if len(sys.argv) > 1 else "pipeline/data/ner")
    vectors = model / "vocab" / "vectors"
    with vectors.open("rb") as f:
        table = np.load(f, allow_pickle=False)
    with vectors.open("wb") as f:
        np.save(f, table.astype(np.float16), allow_pickle=False)
    (model / "vocab" / "strings.json").write_text(json.dumps([]))
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    print(f"{model}: vectors {table.shape} float16, strings dropped, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
