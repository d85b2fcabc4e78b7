#!/usr/bin/env bash
# LONG (several minutes on 2 cores): autoinfer optimise end to end with the
# REAL harness on the default model — baseline, A/A noise run, the search's
# screening of the sampling knob (temperature 0.7 -> 0 and its refinement),
# at most one full experiment, the final best-vs-baseline A/B, report. Tiny
# budget: 1 experiment, 6 A/B rounds of 8 tokens per prompt. Runs in a
# throwaway clone.
source "$(dirname "$0")/optimise_lib.bash"
real_harness_case
R=$(make_clone)
cd "$R" || exit 1

"$BIN" optimise --tag e2e --budget 1 --knobs temperature --final-rounds 6 --quick --rounds 6 \
  --tokens 8 --jobs 2 -m "$MODEL" \
  > "$TMP/e2e.txt" 2>&1; rc=$?
cat "$TMP/e2e.txt"
RES=.autoinfer/e2e/results.tsv
check "optimise on the real model exits 0" [ $rc -eq 0 ]
check "the search screened the sampling knob with the real harness" \
  grep -qE '^\[exp 1\] screen 1: temperature 0.7 -> 0: decode [-+][0-9.]+% \(2 rounds\)' "$TMP/e2e.txt"
# the screening promotes temperature 0 only when it measured faster, so the
# run has one experiment or none
nexp=$(($(col $RES 1 | wc -l) - 1))
check "baseline + at most 1 experiment logged ($nexp)" [ "$nexp" -le 1 ]
check "the baseline has a real decode speed" awk -F'\t' 'NR == 2 { exit !($3 > 1) }' $RES
check "the baseline has an A/A ratio" awk -F'\t' 'NR == 2 { exit !($13 > 0.5 && $13 < 2) }' $RES
if [ "$nexp" = 1 ]; then
  check "experiment 1 is the sampling knob" grep -qE '^temperature 0\.7 -> [0-9.]+$' <<<"$(sed -n 3p $RES | cut -f18)"
  check "experiment 1 was measured (ratio, KL)" \
    awk -F'\t' 'NR == 3 { exit !($13 > 0.3 && $11 != "-") }' $RES
  check "experiment 1 was decided" grep -qP "^1\t[0-9a-f]{12}\t.*\t(keep|revert)\t" $RES
  check "the harness's reports are kept" [ -s .autoinfer/e2e/evals/1.json ]
fi
check "the last line is the result: the final A/B's ratio with its CI, or nothing kept" \
  grep -qE '^autoinfer optimise: (best vs baseline: decode x[0-9.]+ \[[0-9.]+, [0-9.]+\]|nothing was kept)' \
  <(tail -n 1 "$TMP/e2e.txt")
check "the best configuration is left in the run directory" [ -s .autoinfer/e2e/pipeline.conf ]
check "the branch holds the kept commits" \
  [ "$(git rev-list --count main..autoinfer/e2e)" = "$(col $RES 17 | grep -c '^keep$')" ]
check "clean tree" [ -z "$(git status --porcelain)" ]
"$BIN" report > "$TMP/report.md"; rc=$?
check "report of the current branch's run" [ $rc -eq 0 ]
cat "$TMP/report.md"
check "chart written" [ -s .autoinfer/e2e/chart.svg ]
finish
