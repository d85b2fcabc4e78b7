#!/usr/bin/env bash
# Bounded libFuzzer run of the GGUF reader: scripts/fuzz.sh [SECONDS]
# Builds build-fuzz/ with clang (reader built with ASan+UBSan and coverage),
# then fuzzes for SECONDS on a copy of tests/fuzz/corpus. Exits non-zero on
# any crash, leak, sanitizer report, timeout or oversized allocation; the
# input that did it is left in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if [ ! -f tests/fuzz/fuzz_gguf.c ]; then
  echo "fuzz: no fuzz target yet"; exit 0
fi
if ! command -v clang >/dev/null; then
  echo "fuzz: clang is not installed (scripts/setup.sh installs it)" >&2; exit 1
fi
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DAI_FUZZ=ON >/dev/null
cmake --build build-fuzz --target fuzz_gguf -j"$(nproc)" >/dev/null
# New inputs go to the working copy (the first directory); the committed
# seed corpus is only read.
work=build-fuzz/corpus
mkdir -p "$work" build-fuzz/artifacts
echo "fuzz: fuzz_gguf for ${secs}s on tests/fuzz/corpus"
# -malloc_limit_mb: a GGUF of at most max_len bytes never needs a large
# allocation, so one is a bug (an unbounded count reaching malloc).
set +e
./build-fuzz/fuzz_gguf -max_total_time="$secs" -max_len=65536 -timeout=10 \
  -malloc_limit_mb=256 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/artifacts/ \
  "$work" tests/fuzz/corpus > build-fuzz/fuzz.log 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
  tail -n 60 build-fuzz/fuzz.log >&2
  echo "fuzz: FAILED (exit $rc); the input is in build-fuzz/artifacts/" >&2
  exit 1
fi
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' build-fuzz/fuzz.log | tr '\n' ' '
echo
echo "fuzz: ok"
