#!/usr/bin/env bash
# autoinfer optimise --agent: a scripted agent makes one kind of bad (or good)
# candidate per experiment; each must be handled and logged with its reason:
# segfault, hang, build failure, implausible speed, evaluation error, lock
# violations (harness/, program.md, tests/), a failing agent, an agent that
# commits by itself, no change, and "simplicity wins". Fake evaluator.
source "$(dirname "$0")/optimise_lib.bash"
write_fake_eval
R=$(make_clone)
cd "$R" || exit 1
BASE=$(git rev-parse HEAD)

cat > "$TMP/agent.sh" <<'AGENT'
#!/usr/bin/env bash
# A scripted "coding agent": experiment N does case N.
cp "$AUTOINFER_PROMPT" "$AUTOINFER_RUN_DIR/prompt-$AUTOINFER_EXP.md"
conf() { echo "# fake-eval: $1" >> pipeline.conf; }
case $AUTOINFER_EXP in
  1) conf segv; echo "crash the evaluation" > "$AUTOINFER_MESSAGE" ;;
  2) conf hang ;;
  3) printf 'int ai_zz_broken(void) { return }\n' > engine/zz_broken.c ;;
  4) conf implausible ;;
  5) echo "/* faster, promise */" >> harness/eval.c; conf ratio=1.2 ;;
  6) echo "I changed the rules" >> program.md ;;
  7) mkdir -p tests && echo "x" > tests/zz_new.txt; printf 'int ai_zz_ok(void) { return 1; }\n' > engine/zz_ok.c ;;
  8) exit 3 ;;
  9) conf error ;;
  10) printf 'int ai_zz_a(void);\nint ai_zz_a(void) { return 1; }\nint ai_zz_b(void);\nint ai_zz_b(void) { return 2; }\n' > engine/zz_extra.c
      conf ratio=1.05
      git add -A && git commit -q -m "agent's own commit" ;;
  11) : ;;
  12) git rm -q engine/zz_extra.c; echo "remove unused helpers" > "$AUTOINFER_MESSAGE" ;;
esac
exit 0
AGENT

"$BIN" optimise --tag f1 --agent "bash $TMP/agent.sh" --budget 12 --eval-timeout 4 --jobs 2 \
  > "$TMP/f1.txt" 2>&1; rc=$?
RES=.autoinfer/f1/results.tsv
check "the agent run finishes (exit 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 30 "$TMP/f1.txt"
check "12 experiments + baseline logged" [ "$(col $RES 1 | tr '\n' ' ')" = "0 1 2 3 4 5 6 7 8 9 10 11 12 " ]
check "segfault: crash row" [ "$(st 1)" = crash ]
check "segfault: reason names the signal" grep -q "SIGSEGV" <<<"$(why 1)"
check "the agent's message is the description" [ "$(row 1 | cut -f18)" = "crash the evaluation" ]
check "hang: crash row" [ "$(st 2)" = crash ]
check "hang: reason says time limit" grep -q "hang: evaluation killed after the" <<<"$(why 2)"
check "build failure: crash row" [ "$(st 3)" = crash ]
check "build failure: reason quotes the compiler" grep -q "build failed.*zz_broken.c.*error" <<<"$(why 3)"
check "build failure: the broken file is gone" [ ! -e engine/zz_broken.c ]
check "implausible: reverted" [ "$(st 4)" = revert ]
check "implausible: reason" grep -q "implausible speed" <<<"$(why 4)"
check "harness edit: rejected" [ "$(st 5)" = reject ]
check "harness edit: reason names harness/eval.c" grep -q "lock: .*harness/eval.c" <<<"$(why 5)"
check "harness edit: reverted" git diff --quiet "$BASE" -- harness/
check "program.md edit: rejected" [ "$(st 6)" = reject ]
check "program.md edit: reason names program.md" grep -q "program.md" <<<"$(why 6)"
check "tests/ edit: rejected" [ "$(st 7)" = reject ]
check "tests/ edit: reason names the path" grep -q "tests/zz_new.txt" <<<"$(why 7)"
check "tests/ edit: the file and the engine part are gone" bash -c "[ ! -e tests/zz_new.txt ] && [ ! -e engine/zz_ok.c ]"
check "failing agent: crash row" [ "$(st 8)" = crash ]
check "failing agent: reason" grep -q "agent failed (exit 3" <<<"$(why 8)"
check "evaluation error: crash row" [ "$(st 9)" = crash ]
check "evaluation error: reason has the harness's message" grep -q "engine failure: bad tensor" <<<"$(why 9)"
check "agent's own commit: folded in and kept" [ "$(st 10)" = keep ]
check "no change: reverted" [ "$(st 11)" = revert ]
check "no change: reason" grep -q "no change proposed" <<<"$(why 11)"
check "removing code at equal speed is kept" [ "$(st 12)" = keep ]
check "simplicity reason" grep -q "simplicity wins" <<<"$(why 12)"
check "the branch holds the two kept commits only" [ "$(git rev-list --count main..autoinfer/f1)" = 2 ]
check "one commit per kept experiment (the agent's commit was folded)" \
  bash -c "! git log --format=%s main..autoinfer/f1 | grep -q \"agent's own commit\""
check "tree clean after the run" [ -z "$(git status --porcelain)" ]
check "only engine/ and pipeline.conf differ from the baseline" \
  [ -z "$(git diff --name-only "$BASE" | grep -v -e '^engine/' -e '^pipeline.conf$')" ]
check "failed diffs are kept" bash -c "[ -s .autoinfer/f1/diffs/3.patch ] && [ -s .autoinfer/f1/diffs/5.patch ]"
check "agent changes without a message are described by their paths" grep -q "engine/zz_extra.c" <<<"$(row 10 | cut -f18)"
check "the prompt states the rules" grep -q "Change only files under" .autoinfer/f1/prompt-1.md
check "the prompt lists recent results" grep -q "SIGSEGV" .autoinfer/f1/prompt-3.md
check "the prompt names the current best" grep -q "## Current best" .autoinfer/f1/prompt-11.md
check "the prompt gives the last evaluation's gate figures" grep -q "quality gate: .*KL mean" .autoinfer/f1/prompt-11.md
check "the prompt shows a reverted attempt's diff and reason" \
  bash -c "grep -q '## The latest attempts that were not kept' .autoinfer/f1/prompt-11.md && grep -q '^+++ b/' .autoinfer/f1/prompt-11.md"
check "the prompt has the knob table" grep -q "^| threads |" .autoinfer/f1/prompt-11.md
check "the prompt names the notes file" grep -q "\.autoinfer/f1/notes.md" .autoinfer/f1/prompt-11.md
check "progress lines show experiment k of N" grep -q "^\[exp 12\] 12 of 12 | best" "$TMP/f1.txt"
finish
