#!/usr/bin/env bash
# autoinfer optimise: the built-in knob search (fake evaluator), the no-op
# strategy, refusals, and autoinfer report. Runs in a throwaway clone.
source "$(dirname "$0")/optimise_lib.bash"
write_fake_eval
R=$(make_clone)
cd "$R" || exit 1

# --- refusals -------------------------------------------------------------
echo "# local edit" >> README.md
out=$("$BIN" optimise --tag dirty 2>&1); rc=$?
check "a dirty tree is refused" [ $rc -ne 0 ]
check "the refusal lists the dirty path" grep -q "README.md" <<<"$out"
check "no branch was created for a refused run" \
  bash -c "! git rev-parse -q --verify refs/heads/autoinfer/dirty >/dev/null"
git checkout -q -- README.md
out=$("$BIN" optimise --tag 'bad tag' 2>&1); rc=$?
check "a bad tag is a usage error" [ $rc -eq 2 ]
out=$("$BIN" optimise --tag few --rounds 4 2>&1); rc=$?
check "--rounds 4 (no keep possible) is a usage error" [ $rc -eq 2 ]
check "the refusal says why and how many rounds it takes" \
  grep -q "4 rounds can never keep anything: .*2/2^4 = 0.125.*use 6 rounds or more" <<<"$out"

# --- coordinate descent over the knob table -----------------------------------
"$BIN" optimise --tag k1 --strategy knobs --jobs 2 > "$TMP/k1.txt" 2>&1; rc=$?
RES=.autoinfer/k1/results.tsv
check "the knob search finishes (exit 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 30 "$TMP/k1.txt"
check "it stops when no move improves" grep -q "no knob move improves" "$TMP/k1.txt"
check "the run is on branch autoinfer/k1" [ "$(git symbolic-ref --short HEAD)" = autoinfer/k1 ]
check "row 0 is the baseline" [ "$(col $RES 17 | head -n1)" = baseline ]
check "experiment numbers run 0..N without gaps" \
  [ "$(col $RES 1 | tr '\n' ' ')" = "$(seq 0 $(( $(col $RES 1 | wc -l) - 1 )) | tr '\n' ' ')" ]
check "the first experiment is the sampling knob temperature 0.7 -> 0" \
  [ "$(sed -n 3p $RES | cut -f18)" = "temperature 0.7 -> 0" ]
check "temperature 0 is kept (+8 %)" [ "$(sed -n 3p $RES | cut -f17)" = keep ]
check "spin is kept (+3 %)" grep -qP "\tkeep\tspin yield -> spin\t" $RES
check "a quantized KV cache fails the quality gate and is reverted" \
  grep -qP "\trevert\tkv_type f32 -> q8_0\tquality gate failed: sanity" $RES
check "a no-gain move is reverted as within noise" grep -qP "\trevert\ttop_p 0.9 -> 1\twithin noise" $RES
check "a slower move is reverted as slower" grep -qP "\trevert\tthreads 2 -> 1\tslower" $RES
check "the tradeoff column carries the knob's warning" grep -q "argmax" $RES
nkeep=$(col $RES 17 | grep -c '^keep$')
check "the branch holds exactly the kept commits ($nkeep)" \
  [ "$(git rev-list --count main..autoinfer/k1)" = "$nkeep" ]
check "kept commits say what changed" bash -c "git log -1 --format=%s autoinfer/k1 | grep -q \"spin yield -> spin\""
check "the working tree is clean afterwards" [ -z "$(git status --porcelain)" ]
check "pipeline.conf holds the best knobs" grep -q "^temperature = 0$" pipeline.conf
check "a second pass ran after the first kept something" \
  [ "$(grep -cP "\ttop_p 0.9 -> 1\t" $RES)" = 2 ]
check "the noise threshold comes from the A/A run (1 % floor)" grep -q "noise threshold 1.0%" $RES

# --- the report ------------------------------------------------------------------
"$BIN" report k1 > "$TMP/report.md" 2> "$TMP/report.err"; rc=$?
check "report exits 0" [ $rc -eq 0 ]
check "report has the seed's log columns" \
  grep -q "| # | Experiment | decode tok/s | prefill tok/s | KL | sanity | Decision | Tradeoff |" "$TMP/report.md"
check "report marks kept experiments" grep -q "| KEEP |" "$TMP/report.md"
check "report summary table" grep -q "avg_generation_tps" "$TMP/report.md"
check "report wrote chart.svg" [ -s .autoinfer/k1/chart.svg ]
check "chart.svg is well-formed XML" python3 -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" .autoinfer/k1/chart.svg
check "chart has a best-so-far line and a legend" grep -q "best so far" .autoinfer/k1/chart.svg
"$BIN" report autoinfer/k1 --quiet 2>/dev/null; rc=$?
check "report accepts the branch name" [ $rc -eq 0 ]
"$BIN" report nosuchrun > /dev/null 2>&1; rc=$?
check "report of an unknown run fails" [ $rc -ne 0 ]

# --- an existing run is not started twice --------------------------------------------
git checkout -q main
out=$("$BIN" optimise --tag k1 2>&1); rc=$?
check "an existing tag is refused" [ $rc -ne 0 ]
check "the refusal points at --resume" grep -q -- "--resume" <<<"$out"

# --- the no-op strategy: nothing is ever kept ----------------------------------------
"$BIN" optimise --tag n1 --strategy noop --budget 4 --recalibrate 2 > "$TMP/n1.txt" 2>&1; rc=$?
check "noop run exits 0" [ $rc -eq 0 ]
check "--recalibrate 2 re-measured the noise once (after experiment 2)" \
  [ "$(grep -c '^\[recalibrate\] A/A ratio' "$TMP/n1.txt")" = 1 ]
check "the recalibration's report is kept" [ -s .autoinfer/n1/evals/aa-2.json ]
check "4 no-op experiments were evaluated" [ "$(col .autoinfer/n1/results.tsv 17 | grep -c '^revert$')" = 4 ]
check "no no-op experiment was kept" [ "$(col .autoinfer/n1/results.tsv 17 | grep -c '^keep$')" = 0 ]
check "noop run's branch has no new commit" [ "$(git rev-list --count main..autoinfer/n1)" = 0 ]

# --- --worktree leaves the checkout alone ----------------------------------------------
git checkout -q main
"$BIN" optimise --tag w1 --strategy knobs --worktree --budget 2 --jobs 2 > "$TMP/w1.txt" 2>&1; rc=$?
check "worktree run exits 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 20 "$TMP/w1.txt"
check "the checkout stays on main" [ "$(git symbolic-ref --short HEAD)" = main ]
check "the worktree is on autoinfer/w1" [ "$(git -C .autoinfer/w1/tree symbolic-ref --short HEAD)" = autoinfer/w1 ]
check "worktree run kept temperature 0" [ "$(git rev-list --count main..autoinfer/w1)" = 1 ]
finish
