"""Train the target-sentiment model (pipeline/sentiment_model.py) on NewsMTSC train.

    python scripts/train/target_sentiment.py [--data ../shared/data/newsmtsc] [--seed 1128]

Scores dev_rw and dev_mt (never trained on) and writes
pipeline/data/target_sentiment.npz (feature names, coefficients; no pickle). Needs
scikit-learn (training only: `pip install -e '.[train]'`).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from pipeline.sentiment_model import LABELS, MODEL, features

POLARITY = {2.0: 0, 4.0: 1, 6.0: 2}


def load(path: Path) -> list[tuple[list[str], int]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            text = record["sentence_normalized"]
            for t in record["targets"]:
                out.append((features(text, t["from"], t["to"]), POLARITY[float(t["polarity"])]))
    return out


def matrix(
    rows: list[tuple[list[str], int]], index: dict[str, int]
) -> tuple[sparse.csr_matrix, np.ndarray]:
    data, cols, ptr = [], [], [0]
    for feats, _ in rows:
        kept = sorted({index[f] for f in feats if f in index})
        cols += kept
        data += [1.0] * len(kept)
        ptr.append(len(cols))
    x = sparse.csr_matrix((data, cols, ptr), shape=(len(rows), len(index)), dtype=np.float32)
    return x, np.array([y for _, y in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/newsmtsc"))
    parser.add_argument("--seed", type=int, default=1128)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument(
        "--c", type=float, default=0.3
    )  # chosen on dev_rw/dev_mt: 0.1, 0.3, 1.0 tried
    args = parser.parse_args()

    train = load(args.data / "train.jsonl")
    counts = Counter(f for feats, _ in train for f in set(feats))
    names = sorted(f for f, n in counts.items() if n >= args.min_count)
    index = {f: i for i, f in enumerate(names)}
    x, y = matrix(train, index)
    clf = LogisticRegression(
        C=args.c, class_weight="balanced", max_iter=2000, random_state=args.seed
    )
    clf.fit(x, y)
    scores = {"features": len(names), "train_targets": len(train)}
    for split in ("dev_rw", "dev_mt"):
        xd, yd = matrix(load(args.data / f"{split}.jsonl"), index)
        scores[f"{split}_f1_macro"] = round(
            float(f1_score(yd, clf.predict(xd), average="macro")), 4
        )
    print(json.dumps(scores))
    assert list(clf.classes_) == [0, 1, 2] and len(LABELS) == 3
    np.savez_compressed(
        MODEL,
        features=np.array(names),
        coef=clf.coef_.astype(np.float16),
        intercept=clf.intercept_.astype(np.float32),
    )


if __name__ == "__main__":
    main()
