"""Train the claim-stance model (pipeline/claim_model.py) on FNC-1 train.

    python scripts/train/claim_stance.py [--data ../shared/data/fnc1] [--seed 1128]

About 10% of the bodies (chosen with the seed) are held out: never trained on, listed
in pipeline/data/claim_stance.holdout.json, and scored here and by
`newswire eval stance --holdout`. Needs scikit-learn (training only:
`pip install -e '.[train]'`). Writes pipeline/data/claim_stance.npz (numpy arrays,
no pickle): vocabulary, idf, and the network's weights in float16.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.neural_network import MLPClassifier

from pipeline.claim_model import HOLDOUT, LABELS, MODEL, extra_features, tokens, vocabulary
from pipeline.evaluation import fnc_score


def tf_rows(texts: list[str], vocab: dict[str, int]) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for r, text in enumerate(texts):
        counts = Counter(t for t in tokens(text) if t in vocab)
        norm = math.sqrt(sum(n * n for n in counts.values())) or 1.0
        for word, n in counts.items():
            rows.append(r)
            cols.append(vocab[word])
            vals.append(n / norm)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(vocab)), dtype=np.float32)


def l2_rows(m: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ m


def features(
    heads: list[str], bodies: list[str], vocab: dict[str, int], idf: np.ndarray
) -> sparse.csr_matrix:
    h, b = tf_rows(heads, vocab), tf_rows(bodies, vocab)
    weight = sparse.diags(idf)
    cos = np.asarray(l2_rows(h @ weight).multiply(l2_rows(b @ weight)).sum(axis=1))
    extra = np.array(
        [extra_features(hd, bd) for hd, bd in zip(heads, bodies, strict=True)], dtype=np.float32
    )
    return sparse.hstack(
        [h, b, sparse.csr_matrix(cos), sparse.csr_matrix(extra)], format="csr", dtype=np.float32
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fnc1"))
    parser.add_argument("--seed", type=int, default=1128)
    parser.add_argument("--vocab", type=int, default=5000)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    with (args.data / "train_bodies.csv").open(encoding="utf-8", newline="") as f:
        body_text = {r["Body ID"]: r["articleBody"] for r in csv.DictReader(f)}
    with (args.data / "train_stances.csv").open(encoding="utf-8", newline="") as f:
        pairs = list(csv.DictReader(f))
    ids = sorted(body_text, key=int)
    random.Random(args.seed).shuffle(ids)
    held = set(ids[: len(ids) // 10])
    train = [p for p in pairs if p["Body ID"] not in held]
    test = [p for p in pairs if p["Body ID"] in held]

    train_bodies = sorted({p["Body ID"] for p in train}, key=int)
    docs = [p["Headline"] for p in train] + [body_text[b] for b in train_bodies]
    words = vocabulary(docs, args.vocab)
    vocab = {w: i for i, w in enumerate(words)}
    df = Counter(w for d in docs for w in set(tokens(d)) if w in vocab)
    idf = np.array([math.log((1 + len(docs)) / (1 + df[w])) + 1 for w in words], dtype=np.float32)

    def xy(rows: list[dict[str, str]]) -> tuple[sparse.csr_matrix, np.ndarray]:
        x = features(
            [r["Headline"] for r in rows], [body_text[r["Body ID"]] for r in rows], vocab, idf
        )
        return x, np.array([LABELS.index(r["Stance"]) for r in rows])

    x_train, y_train = xy(train)
    x_test, y_test = xy(test)
    started = time.monotonic()
    net = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        alpha=3e-2,  # strong L2: the hold-out is unseen bodies, and the net overfits the seen ones
        batch_size=500,
        learning_rate_init=1e-3,
        max_iter=args.epochs,
        random_state=args.seed,
        verbose=False,
    )
    net.fit(x_train, y_train)
    pred = net.predict(x_test)
    score = sum(fnc_score(LABELS[g], LABELS[p]) for g, p in zip(y_test, pred, strict=True))
    best = sum(fnc_score(LABELS[g], LABELS[g]) for g in y_test)
    print(
        json.dumps(
            {
                "train_pairs": len(train),
                "holdout_pairs": len(test),
                "holdout_bodies": len(held),
                "holdout_fnc_pct": round(100 * score / best, 2),
                "holdout_accuracy": round(float((pred == y_test).mean()), 4),
                "train_seconds": round(time.monotonic() - started, 1),
            }
        )
    )
    MODEL.parent.mkdir(exist_ok=True)
    np.savez_compressed(
        MODEL,
        vocab=np.array(words),
        idf=idf,
        w1=net.coefs_[0].astype(np.float16),
        b1=net.intercepts_[0].astype(np.float32),
        w2=net.coefs_[1].astype(np.float32),
        b2=net.intercepts_[1].astype(np.float32),
    )
    HOLDOUT.write_text(json.dumps({"seed": args.seed, "body_ids": sorted(held, key=int)}) + "\n")


if __name__ == "__main__":
    main()
