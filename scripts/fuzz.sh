#!/usr/bin/env bash
# Bounded libFuzzer run of the GGUF reader: scripts/fuzz.sh SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if [ ! -f tests/fuzz/fuzz_gguf.c ]; then
  echo "fuzz: no fuzz target yet"; exit 0
fi
