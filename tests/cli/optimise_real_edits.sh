#!/usr/bin/env bash
# LONG (minutes on 2 cores): an agent's real engine edits, measured by the
# REAL harness on the real default model (issue 15 item 4), both ways (the
# driver runs the agent; the agent calls try), in a --worktree, across a
# --resume. The test first commits a slow decode path (20 ms a token); the
# scripted agent then, one experiment each:
#   1. restores it (a genuine speed-up): kept
#   2. puts a slow path back: reverted
#   3. breaks RoPE (positions at half speed) and calls $AUTOINFER_TRY itself:
#      its try reverts it (the quality gate or the work check)
#   4. breaks the build: a crash row with the compiler's words
#      -- the driver is killed (-9) once row 4 is written, and resumed --
#   5. hangs: killed at --agent-timeout (set to 20 s on --resume), a crash
#      row, the run goes on
# (rows are found by their description: the try and the resume take
# experiment numbers too)
source "$(dirname "$0")/optimise_lib.bash"
real_harness_case
R=$(make_clone)
cd "$R" || exit 1

cat > "$TMP/edits.py" <<'PY'
# edits.py WHAT: one real edit of engine/ (the agent's, and the test's setup)
import sys
SLOW = """    if (n == 1) { /* a slow decode path: MS ms of busy wait a token */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do clock_gettime(CLOCK_MONOTONIC, &t1);
        while ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6 < MS);
    }
"""
ANCHOR = "    cpu_backend *c = (cpu_backend *)b;\n    if (forward(c->st, tokens, n, pos, all_logits, err)) return -1;\n"
def edit(path, old, new):
    src = open(path).read()
    if old not in src: sys.exit(f"edits.py: the code to edit is not in {path}")
    open(path, "w").write(src.replace(old, new, 1))
what, f = sys.argv[1], "engine/cpu/forward.c"
if what == "slow":      # setup: a slow decode path
    edit(f, "#include <string.h>\n", "#include <string.h>\n#include <time.h>\n")
    edit(f, ANCHOR, ANCHOR.split("\n")[0] + "\n" + SLOW.replace("MS", "20") + ANCHOR.split("\n", 1)[1])
elif what == "restore": # 1: the slow path removed
    edit(f, SLOW.replace("MS", "20"), "")
elif what == "slower":  # 2: a slow path again
    edit(f, ANCHOR, ANCHOR.split("\n")[0] + "\n" + SLOW.replace("MS", "20") + ANCHOR.split("\n", 1)[1])
elif what == "rope":    # 3: wrong output
    edit(f, "double theta = pos * inv_freq[i];", "double theta = pos * inv_freq[i] * 0.5;")
elif what == "break":   # 4: a build break
    edit(f, "static void rope_angles(", "static void rope_angles(int broken = ;\nstatic void rope_angles_(")
PY
python3 "$TMP/edits.py" slow && git commit -qam "test setup: a slow decode path (20 ms a token)" ||
  { echo "FAIL: setup edit"; exit 1; }

cat > "$TMP/agent.sh" <<'AGENT'
#!/usr/bin/env bash
# one edit per call (not per experiment number: the agent's try and the
# resume take numbers too)
n=$(cat "$AUTOINFER_RUN_DIR/calls" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$AUTOINFER_RUN_DIR/calls"
say() { echo "$1" > "$AUTOINFER_MESSAGE"; }
case $n in
  1) python3 "$EDITS" restore && say "decode: drop the busy wait" ;;
  2) python3 "$EDITS" slower && say "decode: a slow path again" ;;
  3) python3 "$EDITS" rope && $AUTOINFER_TRY -m "rope: half the angle" > "$AUTOINFER_RUN_DIR/try.out" 2>&1
     echo $? > "$AUTOINFER_RUN_DIR/try.rc" ;;
  4) python3 "$EDITS" break && say "rope: a typo" ;;
  5) say "nothing yet"; sleep 300 ;;
esac
AGENT
export EDITS=$TMP/edits.py
args=(--tag r1 --worktree --agent "bash $TMP/agent.sh" --budget 6 --agent-timeout 600 --quick
      --rounds 6 --tokens 8 --final-rounds 6 --jobs 2 -m "$MODEL")
AI_LOOP_TEST_CRASH_AT=row:4 "$BIN" optimise "${args[@]}" > "$TMP/r1.1.txt" 2>&1; rc=$?
cat "$TMP/r1.1.txt"
check "the driver died after row 4 (rc $rc)" bash -c "[ $rc -eq 137 ] || [ $rc -eq 142 ]"
# the resumed run takes a shorter agent time limit, for the hang
"$BIN" optimise --resume --tag r1 --agent-timeout 20 > "$TMP/r1.2.txt" 2>&1; rc=$?
cat "$TMP/r1.2.txt"
RES=.autoinfer/r1/results.tsv
cut -f1,13,17,18,19 $RES   # the rows: experiment, ratio, status, description, why
check "the resumed run finishes (exit 0)" [ $rc -eq 0 ]
row_of() { # row_of DESCRIPTION-REGEX: the results row whose description matches
  awk -F'\t' -v re="$1" 'NR > 2 && $18 ~ re' $RES | head -n 1
}
field() { cut -f"$1" <<<"$2"; }
r1=$(row_of "^decode: drop the busy wait$"); r2=$(row_of "^decode: a slow path again$")
r3=$(row_of "^rope: half the angle$"); r4=$(row_of "^rope: a typo$"); r5=$(row_of "^nothing yet$")
check "1. restoring the fast path: kept" [ "$(field 17 "$r1")" = keep ]
check "1. with its A/B ratio above 1.3" awk "BEGIN { exit !($(field 13 "$r1") > 1.3) }"
check "2. a slower decode: reverted" [ "$(field 17 "$r2")" = revert ]
check "3. the agent's own try: reverted (exit 3)" [ "$(cat .autoinfer/r1/try.rc)" = 3 ]
check "3. wrong output: caught by the gate or the work check" \
  grep -qE "quality gate failed|not the model's" <<<"$(field 19 "$r3")"
check "4. a build break: a crash row" [ "$(field 17 "$r4")" = crash ]
check "4. with the compiler's words" grep -q "error:" <<<"$(field 19 "$r4")"
check "5. a hung agent: a crash row" [ "$(field 17 "$r5")" = crash ]
check "5. killed at --agent-timeout" grep -q "killed after the [0-9]* s time limit" <<<"$(field 19 "$r5")"
check "one commit kept on the branch" [ "$(git rev-list --count main..autoinfer/r1)" = 1 ]
check "the final A/B: faster than the baseline" \
  grep -qE "^autoinfer optimise: best vs baseline: decode x(1\.[3-9]|[2-9])" <(tail -n 1 "$TMP/r1.2.txt")
check "this checkout was left alone (--worktree)" [ "$(git branch --show-current)" = main ]
finish
