#!/usr/bin/env bash
# One entity model for our nine types (issue 13), trained but NOT shipped: it beat the
# shipped pair on both NER sets but missed the issue's CoNLL bar and lowered the quotes
# and stances evals below their floors (numbers below). Writes OUT_DIR/model-best.
#
#   scripts/train/ner_one.sh [DATA_DIR] [OUT_DIR] [CONLL_NER]
#
# Starts from the CoNLL news NER (CONLL_NER, default pipeline/data/ner, trained by
# ner.sh), its PER renamed PERSON and NORP/EVENT/LAW/WORK/PRODUCT added (ner_base.py);
# trains 750 steps (ner_one.cfg, seed 1128) on eng.train, its MISC given
# en_core_web_sm's finer type, mixed with the PolNeAR train texts pseudo-labelled by
# en_core_web_sm (pseudo_label_ner.py: 9 in 10 articles, about three news tokens to
# one of CoNLL's); eng.testa plus the held-out tenth of the articles pick the
# checkpoint. About 35 minutes on the shared machine.
#
# Measured 2026-11-29 (shipped pair → this model, our normalization without "one type
# per name per article" and without its type cues, the model's types trusted):
# CoNLL dev F1 0.840 → 0.874; news set F1 0.713 → 0.743, typed 0.836 → 0.852; quotes
# F1 0.5524 → 0.5516 (source accuracy 0.9245 → 0.9254); stances P 0.511 → 0.490,
# F1 0.266 → 0.256. Re-measured 1 December 2026 with today's rules, the 470 articles
# annotated for stances left out of the pseudo-labels (docs/performance.md, "One entity
# model"): CoNLL dev 0.853 → 0.886, news set 0.745 → 0.765, stance F1 up on all four
# splits but precision down on two, "Hezbollah" typed PERSON in the reference article,
# the stage 1.43–1.51× → 0.99–1.02× en_core_web_sm's CPU; still not shipped. Choices
# (spaCy scorer, fine-typed testa / held-out news): all the news (0.876 / 0.862 at 750
# steps) vs a third (0.878 / 0.854): neither wins on both, the simpler mix kept; 750
# steps beat 500 on both (0.867 / 0.857).
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-../shared/data}"
out="${2:-$(mktemp -d)}"
conll_ner="${3:-pipeline/data/ner}"
. .venv/bin/activate
export PYTHONPATH="$PWD" OMP_NUM_THREADS=1
work="$(mktemp -d)"
python scripts/train/ner_base.py "$conll_ner" "$work/base"
# the articles annotated for stances are left out: they measure the analysis
python scripts/train/pseudo_label_ner.py "$data/conll2003/eng.train" \
  "$data/polnear/train/text" "$work/labelled" "$data/conll2003/eng.testa" \
  --skip scripts/train/data/stances/train.json scripts/train/data/stances/heldout.json
mkdir -p "$work/train" "$work/dev"
mv "$work/labelled/conll.spacy" "$work/labelled/news-train.spacy" "$work/train/"
mv "$work/labelled/testa.spacy" "$work/labelled/news-dev.spacy" "$work/dev/"
nice python -m spacy train scripts/train/ner_one.cfg --output "$out" \
  --paths.train "$work/train" --paths.dev "$work/dev" --paths.base "$work/base"
echo "trained $out/model-best (not installed: pipeline/nlp.py runs the shipped pair)"
