#!/usr/bin/env bash
# One command for the side-by-side CPU benchmark (issue 6):
#   bench/run.sh [bench.py options]     e.g. --reps 5 (default), --only smollm2, --threads 1
# 1. builds the llama.cpp reference (tools/oracle/setup.sh: llama-bench from the
#    vendored llama.cpp of the llama-cpp-python sdist) unless .oracle/BIN_READY,
#    and the ik_llama.cpp one (tools/oracle/setup-ik.sh, from the
#    ik-llama-cpp-python sdist) unless .oracle-ik/READY;
# 2. builds autoinfer (Release) in build-bench/;
# 3. prepares the model matrix in models/bench/ (bench/prepare.sh);
# 4. runs bench/bench.py: the three engines interleaved, bandwidth in the same
#    window, a markdown table on stdout (also saved in bench/results/).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .oracle/BIN_READY ] || tools/oracle/setup.sh >&2
[ -f .oracle-ik/READY ] || tools/oracle/setup-ik.sh >&2
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target autoinfer >/dev/null
bench/prepare.sh 2>/dev/null
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
python3 bench/bench.py --autoinfer build-bench/autoinfer --json "bench/results/$stamp.json" "$@" \
  | tee "bench/results/$stamp.md"
