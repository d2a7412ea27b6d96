#!/usr/bin/env bash
# Create .venv and install the pinned requirements, the course packages and a local MathJax.
# Idempotent: a stamp holds the hash of everything that decides the install, so a second run
# with nothing changed does no work.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv
MATHJAX_VERSION=3.2.2
STAMP=$VENV/.install-stamp

want=$(cat requirements.txt pyproject.toml rnntools/pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)
if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
  exit 0
fi

if [[ ! -x $VENV/bin/python ]]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] >= (3, 11), sys.version' \
  || { echo "install: Python 3.11 or newer is needed" >&2; exit 1; }

# This machine's pip configuration names local mirror folders that may not exist; pip warns once
# per package about them, which buries real errors, so only those lines are dropped.
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }
quiet_pip install --quiet -r requirements.txt
# rnnlib declares rnntools (the base package, ./rnntools) as a dependency: both in one command,
# so that pip resolves it to the local folder; every other dependency is pinned above already.
quiet_pip install --quiet --no-build-isolation -e ./rnntools -e .
"$VENV/bin/python" -m pip check

# MathJax 3 from the npm registry, so the book typesets math with no network when it is read.
# It lives outside _static on purpose: Jupyter Book adds every .js under _static to every page.
mj=$VENV/share/mathjax
if [[ ! -f $mj/VERSION || $(cat "$mj/VERSION") != "$MATHJAX_VERSION" ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "mathjax@$MATHJAX_VERSION" >/dev/null)
  rm -rf "$mj" && mkdir -p "$mj"
  tar -xzf "$tmp"/mathjax-*.tgz -C "$mj" --strip-components=2 package/es5
  echo "$MATHJAX_VERSION" > "$mj/VERSION"
  rm -rf "$tmp"
fi

echo "$want" > "$STAMP"
echo "install: .venv ready ($("$VENV/bin/python" --version))"
