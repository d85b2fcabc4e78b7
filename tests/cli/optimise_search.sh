#!/usr/bin/env bash
# autoinfer optimise --strategy search (the default), with the fake evaluator:
# screening before full A/Bs, joint and refined moves, knobs the objective
# can't see left alone, confirmed keeps, the final best-vs-baseline A/B as
# the last line and the report's headline, the pipeline.conf it leaves,
# rejected moves not screened again after --resume, --objective,
# --max-memory, --knobs, and the refusals. Runs in a throwaway clone.
source "$(dirname "$0")/optimise_lib.bash"
write_fake_eval
R=$(make_clone)
cd "$R" || exit 1

# --- refusals ---------------------------------------------------------------
refused() { # refused "what" "expected message" args...
  local what=$1 msg=$2; shift 2
  out=$("$BIN" optimise --tag x "$@" 2>&1); rc=$?
  check "$what: usage error (rc $rc)" [ $rc -eq 2 ]
  check "$what: says '$msg'" grep -qF -- "$msg" <<<"$out"
}
refused "an unknown knob in --knobs" "--knobs: unknown knob 'nonsense'" --knobs threads,nonsense
refused "--knobs with coordinate descent" "--knobs needs --strategy search" --strategy knobs --knobs threads
refused "--final-rounds too few to conclude" "--final-rounds: 3 rounds can never keep anything" --final-rounds 3
refused "--screen-rounds 1" "--screen-rounds at least 2" --screen-rounds 1
refused "--objective bogus" "unknown objective 'bogus' (decode, prefill, ttft, request)" --objective bogus
refused "--prompt-tokens 70000" "--prompt-tokens: 70000, expected 1..65536" --prompt-tokens 70000
refused "--agent with coordinate descent" "--agent combines with --strategy search only" \
  --agent true --strategy knobs
check "no run was started by a refusal" [ ! -e .autoinfer/x ]

# --- the search to its end ------------------------------------------------------
# a subspace keeps the test short; prefill_chunk and cuda_launch are in it to
# check that the decode search on a CPU leaves them alone
SUB=temperature,threads,spin,prefetch,prefill_chunk,cuda_launch
"$BIN" optimise --tag s1 --knobs $SUB --jobs 2 > "$TMP/s1.txt" 2>&1; rc=$?
RES=.autoinfer/s1/results.tsv
check "the search finishes (exit 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 30 "$TMP/s1.txt"
check "it screens before the first full A/B" grep -q '^\[exp 1\] screen 1: ' "$TMP/s1.txt"
check "joint moves are screened (threads x spin)" \
  grep -q 'screen [0-9]*: threads 2 -> 4, spin yield -> spin: decode' "$TMP/s1.txt"
check "numeric knobs are refined between listed values (prefetch 8 -> 6)" \
  grep -q 'screen [0-9]*: prefetch 8 -> 6: decode' "$TMP/s1.txt"
check "a decode search screens no prefill-only knob" \
  bash -c "! grep -qE 'screen [0-9]*: prefill_chunk ' '$TMP/s1.txt'"
check "a search on the CPU screens no CUDA knob" bash -c "! grep -q 'screen [0-9]*: cuda_' '$TMP/s1.txt'"
check "the best-screened move gets the first full A/B (temperature 0.7 -> 0)" \
  [ "$(sed -n 3p $RES | cut -f18)" = "temperature 0.7 -> 0" ]
check "its keep is confirmed by a second A/B" \
  grep -qP '\tkeep\ttemperature 0.7 -> 0\timproved [^\t]*; confirmed: improved' $RES
check "the confirmation's report is kept" [ -s .autoinfer/s1/evals/1.confirm.json ]
check "spin is kept next (+3 %)" grep -qP '\tkeep\tspin yield -> spin\t' $RES
check "no move is fully evaluated twice" \
  [ "$(tail -n +2 $RES | cut -f18 | sort | uniq -d | wc -l)" = 0 ]
check "it ends when no move survives the screening" grep -q "no knob move improves any more" "$TMP/s1.txt"
check "the last line is the final best-vs-baseline A/B with its CI" \
  grep -qE '^autoinfer optimise: best vs baseline: decode x1\.11[0-9] \[1\.1[0-9]*, 1\.1[0-9]*\] \(\+11\.[0-9]%; final interleaved A/B, 60 rounds' \
  <(tail -n 1 "$TMP/s1.txt")
check "the final A/B ran best against the baseline build" [ -s .autoinfer/s1/evals/final.json ]
check "the best configuration is left as pipeline.conf" \
  bash -c "grep -q '^temperature = 0$' .autoinfer/s1/pipeline.conf && grep -q '^spin = spin$' .autoinfer/s1/pipeline.conf"
check "the report's headline is the final comparison" \
  bash -c "sed -n 3,6p .autoinfer/s1/report.md | grep -q 'best vs baseline: decode x1.11'"
check "the report says what each change trades away" \
  grep -q "What it trades away: temperature 0 is argmax decoding" .autoinfer/s1/report.md
check "the report says how to use the configuration" \
  grep -qF "autoinfer generate --conf $PWD/.autoinfer/s1/pipeline.conf" .autoinfer/s1/report.md
check "the branch holds the two kept commits" [ "$(git rev-list --count main..autoinfer/s1)" = 2 ]

# --- rejected moves stay rejected after a crash and --resume ---------------------
git checkout -q main
AI_LOOP_TEST_CRASH_AT=propose:2 "$BIN" optimise --tag s2 --knobs $SUB --jobs 2 > "$TMP/s2.1.txt" 2>&1; rc=$?
check "s2: the driver died after experiment 2's screening (rc $rc)" bash -c "[ $rc -eq 137 ] || [ $rc -eq 142 ]"
first=$(grep -c '^\[exp 2\] screen ' "$TMP/s2.1.txt")
"$BIN" optimise --resume --tag s2 --jobs 2 > "$TMP/s2.2.txt" 2>&1; rc=$?
check "s2: resume finishes" [ $rc -eq 0 ]
again=$(grep -c '^\[exp 3\] screen ' "$TMP/s2.2.txt")
check "s2: the moves screened out before the crash are not screened again ($again < $first)" \
  [ "$again" -lt "$first" ]
check "s2: the same best as without the crash" \
  [ "$(git show autoinfer/s2:pipeline.conf | grep -c -e '^temperature = 0$' -e '^spin = spin$')" = 2 ]

# --- objective, constraint, subspace ----------------------------------------------
git checkout -q main
"$BIN" optimise --tag p1 --objective prefill --knobs temperature,prefill_chunk --jobs 2 > "$TMP/p1.txt" 2>&1; rc=$?
check "p1: a prefill search finishes" [ $rc -eq 0 ]
check "p1: it screens the prefill-only knob" grep -q 'screen [0-9]*: prefill_chunk 256 -> 64: prefill' "$TMP/p1.txt"
check "p1: it leaves the decode-only knob alone" bash -c "! grep -q 'screen [0-9]*: temperature' '$TMP/p1.txt'"
git checkout -q main
FAKE_EVAL_ARGS_LOG=$TMP/w1.args "$BIN" optimise --tag w1 --objective request --prompt-tokens 512 \
  --tokens 64 --knobs temperature,prefill_chunk --jobs 2 > "$TMP/w1.txt" 2>&1; rc=$?
check "w1: a search for a stated workload finishes" [ $rc -eq 0 ]
check "w1: it screens on the request figure" grep -q 'screen [0-9]*: temperature 0.7 -> 0: request' "$TMP/w1.txt"
check "w1: a prefill-only knob can move a request" grep -q 'screen [0-9]*: prefill_chunk 256 -> 64: request' "$TMP/w1.txt"
check "w1: every A/B gets the stated prompt length" \
  bash -c "[ \$(grep -c -- '^--ab' '$TMP/w1.args') -gt 2 ] && ! grep -- '^--ab' '$TMP/w1.args' | grep -qv -- '--prompt-tokens 512'"
check "w1: the plain baseline evaluation does not" bash -c "grep -v -- '^--ab' '$TMP/w1.args' | grep -q . && ! grep -v -- '^--ab' '$TMP/w1.args' | grep -q -- --prompt-tokens"
check "w1: the result is the request figure" grep -q "^autoinfer optimise: best vs baseline: request x" <(tail -n 1 "$TMP/w1.txt")
git checkout -q main
"$BIN" optimise --tag m1 --max-memory 100 --knobs temperature,spin --jobs 2 > "$TMP/m1.txt" 2>&1; rc=$?
check "m1: a search under a memory constraint finishes" [ $rc -eq 0 ]
check "m1: moves above the limit are screened out, saying why" \
  grep -q 'screen 1: .*constraint: peak memory 210 MB is above --max-memory 100 MB' "$TMP/m1.txt"
check "m1: nothing kept, and the last line says so" \
  grep -q "^autoinfer optimise: nothing was kept" <(tail -n 1 "$TMP/m1.txt")
git checkout -q main
FAKE_EVAL_ERROR_IF='^spin = spin$' "$BIN" optimise --tag f1 --knobs spin --jobs 2 > "$TMP/f1.txt" 2>&1; rc=$?
check "f1: a search whose screens fail finishes" [ $rc -eq 0 ]
check "f1: a failed screen says why, from the harness's own message" \
  grep -q "screen 1: spin yield -> spin: failed (exit 2): autoinfer eval: bad value for --noise (fake)" "$TMP/f1.txt"

# --- the agent and the search together: a knob re-tune after each agent keep --------
git checkout -q main
cat > "$TMP/agent.sh" <<'AGENT'
n=$(cat "$AUTOINFER_RUN_DIR/agent-calls" 2>/dev/null || echo 0); n=$((n + 1))
echo $n > "$AUTOINFER_RUN_DIR/agent-calls"
if [ $n = 1 ]; then  # a "faster engine" for the fake evaluator
  echo "# fake-eval: ratio=1.2" >> pipeline.conf; echo "a faster engine" > "$AUTOINFER_MESSAGE"
fi
AGENT
"$BIN" optimise --tag a1 --agent "bash $TMP/agent.sh" --strategy search --knobs temperature,spin \
  --budget 4 --jobs 2 > "$TMP/a1.txt" 2>&1; rc=$?
RES=.autoinfer/a1/results.tsv
check "a1: agent + search finishes" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 20 "$TMP/a1.txt"
check "a1: the agent's change is experiment 1, kept" grep -qP '^1\t.*\tkeep\ta faster engine\t' $RES
check "a1: then the search re-tunes the knobs (temperature, spin)" \
  [ "$(sed -n 4,5p $RES | cut -f17,18 | tr '\t\n' '  ')" = "keep temperature 0.7 -> 0 keep spin yield -> spin " ]
check "a1: when the re-tune is over the agent proposes again" \
  bash -c "grep -q 'the knobs are re-tuned; the agent proposes again' '$TMP/a1.txt' && grep -qP '^4\t.*\tno change proposed' $RES"
finish
