#!/usr/bin/env bash
# Build the HTML book into _build/html; every warning is an error.
# Jupyter Book's execution cache only notices a chapter's own code changing, not the results
# files or the rnnlib code it loads, so the cache is cleared whenever those change.
set -euo pipefail
cd "$(dirname "$0")/.."
JB=${JB:-.venv/bin/jupyter-book}

inputs=$(find results rnnlib rnntools data -type f \
           \( -name '*.json' -o -name '*.npz' -o -name '*.py' -o -name '*.txt' \) -print0 \
         | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
mkdir -p _build
if [[ ! -f _build/.book-inputs-$inputs ]]; then
  rm -rf _build/.jupyter_cache _build/.book-inputs-*
  touch "_build/.book-inputs-$inputs"
fi
exec "$JB" build . -W -n --keep-going "$@"
