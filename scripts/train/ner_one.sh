#!/usr/bin/env bash
# One entity model for our nine types (issues 13, 17), trained but NOT shipped: it beats
# the shipped pair on both NER sets, on the analyze stage's CPU and on three of the four
# stance splits, but loses the stance dev split by one gold stance (and quotes dev by
# 0.0001 F1), whose floors stand (docs/performance.md, "One entity model"). Run again on
# another machine it gave another model, by as much as the choices below were settled by
# (the same page, "The recipe run again"); with today's rules, and with people's names
# swapped in half the training documents, it still falls under a stance precision
# floor (the same page, "Run again with today's rules", "With people's names swapped").
# Writes OUT_DIR/model-best.
#
#   scripts/train/ner_one.sh [DATA_DIR] [OUT_DIR]
#
# Starts from en_core_web_sm's NER (ner_base.py: its own tok2vec, no static vectors, our
# MISC and WORK added) and trains 6,000 steps (ner_one.cfg, seed 1128) on eng.train, its
# MISC given en_core_web_sm's finer type, mixed with news labelled by en_core_web_sm
# (pseudo_label_ner.py): the PolNeAR train texts but the 470 annotated for stances, and
# every third FNC-1 article body (2016–17); eng.testa plus a held-out tenth of the news
# pick the checkpoint. About 35 minutes on one core of the shared machine.
#
# Choices, on CoNLL dev and the news set (`newswire eval ner`, with our normalization;
# shipped pair 0.853 / 0.745), then on the four stance splits:
# - the start: the CoNLL news NER (ner.sh's, 750 steps, PolNeAR news only) 0.886 / 0.765,
#   and it types "Hezbollah" a person, 1996 Reuters not knowing it; with the FNC-1 bodies
#   added 0.877 / 0.777, still a person. en_core_web_sm's NER, the same data, 1,500 steps:
#   0.869 / 0.817, "Hezbollah" an organisation. Neither start wins both sets; the small
#   model's kept for the news set and the organisations it knows (the reference test);
# - the news, at 3,000 steps: every third FNC-1 body 0.874 / 0.804 against all of them
#   0.860 / 0.815, neither wins both sets; on the stance splits (F1, the shipped stance
#   model) the third wins fitted, unseen and held-out (0.387 / 0.337 / 0.317 against
#   0.377 / 0.335 / 0.313) and loses dev (0.245 against 0.246): the third kept;
# - the steps: 1,500, 3,000 and 6,000 give 0.869 / 0.817, 0.874 / 0.804, 0.883 / 0.801
#   (typed right where found 0.897, 0.882, 0.885). No count wins both NER sets: 6,000
#   wins CoNLL (and issue 13's bar, 0.88) and, against 1,500, all four stance splits
#   (dev 0.249 / 0.245, fitted 0.385 / 0.379, unseen 0.338 / 0.337, held-out 0.321 /
#   0.319), and loses the news set by 0.016; 6,000 kept, a trade, not a win on every set.
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-../shared/data}"
out="${2:-$(mktemp -d)}"
. .venv/bin/activate
export PYTHONPATH="$PWD" OMP_NUM_THREADS=1
work="$(mktemp -d)"
python scripts/train/ner_base.py "$work/base"
# the articles annotated for stances are left out: they measure the analysis
python scripts/train/pseudo_label_ner.py "$data/conll2003/eng.train" \
  "$data/polnear/train/text" "$work/labelled" "$data/conll2003/eng.testa" \
  --skip scripts/train/data/stances/train.json scripts/train/data/stances/heldout.json \
  --bodies "$data/fnc1/train_bodies.csv" --bodies-every 3
mkdir -p "$work/train" "$work/dev"
mv "$work/labelled/conll.spacy" "$work/labelled/news-train.spacy" "$work/train/"
mv "$work/labelled/testa.spacy" "$work/labelled/news-dev.spacy" "$work/dev/"
nice python -m spacy train scripts/train/ner_one.cfg --output "$out" \
  --paths.train "$work/train" --paths.dev "$work/dev" --paths.base "$work/base"
echo "trained $out/model-best (not installed: pipeline/nlp.py runs the shipped pair)"
