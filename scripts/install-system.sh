#!/usr/bin/env bash
# System packages that pip cannot install: Chromium (browser tests of the book), a Korean font
# (the glossary, so screenshots show Hangul rather than boxes) and bubblewrap (the grader's sandbox). Installed from Debian's packages when missing; a no-op otherwise.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v bwrap >/dev/null || need+=(bubblewrap)
fc-list 2>/dev/null | grep -qi nanum || need+=(fonts-nanum)
[[ ${#need[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "install-system: please install ${need[*]} (Debian: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-system: installed ${need[*]}"
