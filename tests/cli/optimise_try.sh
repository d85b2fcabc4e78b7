#!/usr/bin/env bash
# The agent-driven way: `optimise --start-only`, then `autoinfer try -m MSG`
# after each change, through the driver's own experiment step: a faster
# change kept, a slower one reverted, a build break, a locked-file edit,
# a concurrent try and a try during the driver's own experiment refused,
# the report, `--resume` of the driver after the tries, a spent budget; bad
# inputs (outside a run, no message, nothing to try); and a driver's agent
# that calls try during its turn. Fake evaluator.
source "$(dirname "$0")/optimise_lib.bash"
write_fake_eval
R=$(make_clone)
cd "$R" || exit 1
BASE=$(git rev-parse HEAD)
RES=.autoinfer/t1/results.tsv

# try TESTNAME ARGS...: runs `autoinfer try`, output in $TMP/TESTNAME.txt, status in $rc
try() {
  local name=$1; shift
  "$BIN" try --jobs 2 "$@" > "$TMP/$name.txt" 2>&1; rc=$?
}
says() { grep -q -- "$2" "$TMP/$1.txt" || { echo "--- $1:"; cat "$TMP/$1.txt"; return 1; }; }

# ---- bad inputs before a run ----
try none -m "x"
check "outside a run: refused (exit 6)" [ $rc -eq 6 ]
check "outside a run: says so" says none "autoinfer try: not in a run: the current branch 'main' is not a run's autoinfer/<tag>"
try nomsg
check "no message: exit 2" [ $rc -eq 2 ]
check "no message: says what is expected" says nomsg "autoinfer try: no message: say what you changed and why with -m MESSAGE or --message-file FILE"
try emptymsg -m "  "
check "an empty -m: exit 2 with the reason" bash -c "[ $rc -eq 2 ] && grep -q 'the message is empty' $TMP/emptymsg.txt"
try nofile --message-file "$TMP/absent.txt"
check "an unreadable --message-file: exit 2 naming it" bash -c "[ $rc -eq 2 ] && grep -q 'message-file $TMP/absent.txt: cannot read it' $TMP/nofile.txt"

# ---- start ----
"$BIN" optimise --tag t1 --strategy knobs --start-only --jobs 2 --eval-timeout 20 > "$TMP/start.out" 2> "$TMP/start.err"
rc=$?
check "--start-only exits 0" [ $rc -eq 0 ]
check "--start-only: row 0 and nothing else" [ "$(col $RES 1 | tr '\n' ' ')" = "0 " ]
check "--start-only: on the run's branch" [ "$(git branch --show-current)" = autoinfer/t1 ]
check "--start-only: prints the try command" grep -q "^  $BIN try -m \"what you changed and why\"" "$TMP/start.out"
check "--start-only: the judge's copies exist" [ -s "$(git rev-parse --git-common-dir)/autoinfer/t1/judge/MANIFEST" ]

try clean -m "nothing"
check "clean tree: refused (exit 6)" [ $rc -eq 6 ]
check "clean tree: nothing to try" says clean "autoinfer try: nothing to try: the tree of run 't1' has no change against the best commit"

# ---- 1: faster (kept) ----
printf '\n/* try 1 */\n' >> engine/sampler.c
echo "# fake-eval: ratio=1.2" >> pipeline.conf
try t1 -m "sampler: faster path"
check "faster change: kept (exit 0)" [ $rc -eq 0 ]
check "faster change: the verdict in the driver's words" says t1 "^\[exp 1\] KEEP (120.00 tok/s): improved"
check "faster change: what to read next" says t1 "^read: .*/.autoinfer/t1/evals/1.json .*/.autoinfer/t1/diffs/1.patch"
check "faster change: row 1 keep with the message" bash -c "[ \"\$(sed -n 3p $RES | cut -f17,18)\" = \"$(printf 'keep\tsampler: faster path')\" ]"
check "faster change: confirmed like the driver's keeps" grep -q "confirmed: improved" <<<"$(why 1)"
check "faster change: one commit on the branch" [ "$(git rev-list --count main..autoinfer/t1)" = 1 ]
check "faster change: the commit message is the driver's" bash -c "git log -1 --format=%s | grep -q '^autoinfer t1 exp 1: sampler: faster path'"
check "faster change: the report is refreshed" grep -q "sampler: faster path" .autoinfer/t1/report.md
check "faster change: tree clean" [ -z "$(git status --porcelain)" ]

# ---- 2: slower (reverted, tree restored) ----
printf 'int ai_zz_slow(void) { return 1; }\n' > engine/zz_slow.c
echo "# fake-eval: ratio=0.8" >> pipeline.conf
echo "matmul: slower split" > "$TMP/msg.txt"
rm .autoinfer/t1/bin/best   # stale: rebuilt from the best commit, the change stashed meanwhile
try t2 --message-file "$TMP/msg.txt"
check "a missing bin/best is rebuilt with the change stashed" says t2 "rebuilding the current best .*; the change in the tree is stashed meanwhile"
check "... and the stash is popped" [ -z "$(git stash list)" ]
check "slower change: reverted (exit 3)" [ $rc -eq 3 ]
check "slower change: verdict" says t2 "^\[exp 2\] revert (80.00 tok/s): slower -33.3%"
check "slower change: the message came from the file" [ "$(row 2 | cut -f18)" = "matmul: slower split" ]
check "slower change: tree restored" bash -c "[ ! -e engine/zz_slow.c ] && [ -z \"\$(git status --porcelain)\" ] && ! grep -q 'ratio=0.8' pipeline.conf"
check "slower change: the branch still holds one commit" [ "$(git rev-list --count main..autoinfer/t1)" = 1 ]

# ---- 3: build break (crash with the compiler's words) ----
printf 'int ai_zz_broken(void) { return }\n' > engine/zz_broken.c
try t3 -m "broken on purpose"
check "build break: crashed (exit 4)" [ $rc -eq 4 ]
check "build break: the compiler's words" grep -q "build failed.*zz_broken.c.*error" <<<"$(why 3)"
check "build break: what to read names the build log" says t3 "logs/3.build.log"
check "build break: the file is gone" [ ! -e engine/zz_broken.c ]

# ---- 4: a locked file (rejected) ----
echo "/* faster, promise */" >> harness/eval.c
echo "# fake-eval: ratio=1.2" >> pipeline.conf
try t4 -m "harness tweak"
check "locked-file edit: rejected (exit 5)" [ $rc -eq 5 ]
check "locked-file edit: names harness/eval.c" grep -q "lock: .*harness/eval.c" <<<"$(why 4)"
check "locked-file edit: reverted" git diff --quiet "$BASE" -- harness/

# ---- 5: a concurrent try is refused, the first completes ----
echo "# fake-eval: ratio=1.0" >> pipeline.conf
FAKE_EVAL_SLEEP=3 "$BIN" try --jobs 2 -m "slow evaluation" > "$TMP/t5.txt" 2>&1 &
first=$!
for _ in $(seq 100); do [ -e .autoinfer/t1/logs/5.eval.log ] && break; sleep 0.2; done
try t5b -m "meanwhile"
check "a concurrent try: refused (exit 6)" [ $rc -eq 6 ]
check "a concurrent try: says the run is busy" says t5b "autoinfer try: the run is busy: an experiment is in progress"
wait $first; rc=$?
check "the first try completes (reverted: same speed, exit 3)" [ $rc -eq 3 ]
check "rows 0-5, each once" [ "$(col $RES 1 | tr '\n' ' ')" = "0 1 2 3 4 5 " ]

# ---- 6: a try stopped (SIGTERM, as Ctrl-C) is logged and reverted ----
printf 'int ai_zz_stop(void) { return 1; }\n' > engine/zz_stop.c
FAKE_EVAL_SLEEP=30 "$BIN" try --jobs 2 -m "stopped midway" > "$TMP/t6.txt" 2>&1 &
stopped=$!
for _ in $(seq 150); do [ -e .autoinfer/t1/logs/6.eval.log ] && break; sleep 0.2; done
kill -TERM $stopped; wait $stopped; rc=$?
check "a stopped try: exit 130" [ $rc -eq 130 ]
check "a stopped try: an interrupted row" [ "$(st 6)" = interrupted ]
check "a stopped try: reverted" bash -c "[ ! -e engine/zz_stop.c ] && [ -z \"\$(git status --porcelain)\" ]"

# ---- the report shows the tries ----
"$BIN" report t1 > "$TMP/report.txt" 2>&1
check "report: the tries' rows" bash -c "grep -q 'sampler: faster path' $TMP/report.txt && grep -q 'matmul: slower split' $TMP/report.txt && grep -q 'harness tweak' $TMP/report.txt"

# ---- the driver resumes after the tries; a try during its experiment is refused ----
FAKE_EVAL_SLEEP=2 "$BIN" optimise --resume --tag t1 --budget 6 --jobs 2 > "$TMP/resume.txt" 2>&1 &
driver=$!
for _ in $(seq 150); do grep -q '^\[exp 7\]' "$TMP/resume.txt" && break; sleep 0.2; done
try during -m "during the driver"
check "a try during the driver's experiment: refused (exit 6)" [ $rc -eq 6 ]
check "... as busy" says during "the run is busy"
wait $driver; rc=$?
check "the driver's --resume finishes (exit 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 20 "$TMP/resume.txt"
check "--resume saw the tries: 5 experiments done" grep -q "resuming run 't1' on autoinfer/t1 (5 experiments done)" "$TMP/resume.txt"
check "--resume continues at experiment 7" [ "$(col $RES 1 | tr '\n' ' ')" = "0 1 2 3 4 5 6 7 " ]
check "the driver's experiment 7 is its knob move" grep -q "temperature" <<<"$(row 7 | cut -f18)"
check "git and results.tsv agree: the keeps' commits only" \
  [ "$(git rev-list --count main..autoinfer/t1)" = "$(col $RES 17 | grep -c '^keep$')" ]
check "the try's kept change is on the branch" bash -c "git log --format=%s main..autoinfer/t1 | grep -q 'sampler: faster path'"
echo "# fake-eval: ratio=1.2" >> pipeline.conf
try spent -m "one more"
check "spent budget: refused (exit 6)" [ $rc -eq 6 ]
check "spent budget: says how to raise it" says spent "has spent its budget of 6 experiments"
check "spent budget: the change is left as it was" grep -q "ratio=1.2" pipeline.conf
git checkout -q -- pipeline.conf

# ---- the driver's agent calls try during its turn ----
git checkout -q main
cat > "$TMP/agent.sh" <<'AGENT'
#!/usr/bin/env bash
# turn 1: a try (kept), then a change left for the driver; turn 2: a slower
# try, nothing left (the turn was its try); turn 3: a change for the driver.
cp "$AUTOINFER_PROMPT" "$AUTOINFER_RUN_DIR/prompt-$AUTOINFER_EXP.md"
case $AUTOINFER_EXP in
  1) echo "# fake-eval: ratio=1.2" >> pipeline.conf
     $AUTOINFER_TRY -m "agent try: faster" > "$AUTOINFER_RUN_DIR/try-1.out"; echo $? > "$AUTOINFER_RUN_DIR/try-1.rc"
     printf '\n/* left for the driver */\n' >> engine/sampler.c
     echo "left for the driver" > "$AUTOINFER_MESSAGE" ;;
  3) echo "# fake-eval: ratio=0.7" >> pipeline.conf
     $AUTOINFER_TRY -m "agent try: slower" > "$AUTOINFER_RUN_DIR/try-3.out"; echo $? > "$AUTOINFER_RUN_DIR/try-3.rc" ;;
  *) echo "# fake-eval: ratio=1.0" >> pipeline.conf
     echo "agent change $AUTOINFER_EXP" > "$AUTOINFER_MESSAGE" ;;
esac
exit 0
AGENT
"$BIN" optimise --tag t2 --agent "bash $TMP/agent.sh" --budget 4 --jobs 2 --eval-timeout 20 > "$TMP/t2.txt" 2>&1
rc=$?
RES=.autoinfer/t2/results.tsv
check "agent + try: the run finishes (exit 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 20 "$TMP/t2.txt"
check "agent + try: the prompt names the try command" grep -q "$BIN try -m" .autoinfer/t2/prompt-1.md
check "agent + try: the agent's try ran and was kept (exit 0)" [ "$(cat .autoinfer/t2/try-1.rc)" = 0 ]
check "agent + try: rows 0-4" [ "$(col $RES 1 | tr '\n' ' ')" = "0 1 2 3 4 " ]
check "agent + try: row 1 is the try, kept" [ "$(row 1 | cut -f17,18)" = "$(printf 'keep\tagent try: faster')" ]
check "agent + try: row 2 is what the agent left, evaluated by the driver" [ "$(row 2 | cut -f18)" = "left for the driver" ]
check "agent + try: row 2 is judged against the try's keep" grep -q "within noise\|no change\|same speed" <<<"$(why 2)"
check "agent + try: the slower try was reverted (exit 3)" [ "$(cat .autoinfer/t2/try-3.rc)" = 3 ]
check "agent + try: row 3 is that try" [ "$(row 3 | cut -f17,18)" = "$(printf 'revert\tagent try: slower')" ]
check "agent + try: a turn of tries only adds no row of the driver's" grep -q "the agent's turn was its 1 try; nothing left to evaluate" "$TMP/t2.txt"
check "agent + try: row 4 is the next turn's change" [ "$(row 4 | cut -f18)" = "agent change 4" ]
check "agent + try: git and results.tsv agree" \
  [ "$(git rev-list --count main..autoinfer/t2)" = "$(col $RES 17 | grep -c '^keep$')" ]
check "agent + try: tree clean" [ -z "$(git status --porcelain)" ]
# ---- the agent-driven recipes of docs/loop.md, with stand-ins ----
# recipe KIND: the line after the comment "# KIND, agent-driven", with T -> the tag
recipe() {
  awk -v k="# $1, agent-driven" 'index($0, k) == 1 { getline; print; exit }' "$SRC/docs/loop.md" |
    sed "s/--tag T /--tag $2 /"
}
git checkout -q main
mkdir -p build "$TMP/bin" "$TMP/calls"
ln -sf "$BIN" build/autoinfer
cat > "$TMP/bin/claude" <<'SH'
#!/usr/bin/env bash
die() { echo "stand-in claude: $*" >&2; exit 9; }
[ "$1" = -p ] || die "no -p first"
[[ $2 == *'build/autoinfer try -m "'* ]] || die "the prompt does not give the try command: $2"
args=" $* "
[[ $args == *" --permission-mode acceptEdits "* ]] || die "no --permission-mode acceptEdits"
tools=""; while [ $# -gt 0 ]; do [ "$1" = --allowedTools ] && tools=$2; shift; done
[[ ",$tools," == *",Bash(build/autoinfer try:*),"* ]] || die "--allowedTools lacks the try command: $tools"
[[ ",$tools," == *",Bash(cmake"* ]] && die "--allowedTools lets it build: $tools"
# what the allowed tools let it do: an edit, then the try
printf '\n/* claude stand-in */\n' >> engine/sampler.c
echo "# fake-eval: ratio=1.2" >> pipeline.conf
build/autoinfer try -m "claude: sampler comment" > "$STANDIN_CALLS/claude.out" 2>&1
echo $? > "$STANDIN_CALLS/claude.rc"
SH
cat > "$TMP/bin/my-agent-loop.sh" <<'SH'
#!/usr/bin/env bash
# a faster change, then a slower one; the exit statuses in order
for r in 1.2 0.7; do
  echo "# fake-eval: ratio=$r" >> pipeline.conf
  build/autoinfer try -m "script: ratio $r" > /dev/null 2>&1
  echo $? >> "$STANDIN_CALLS/script.rc"
done
SH
chmod +x "$TMP/bin/claude" "$TMP/bin/my-agent-loop.sh"
export STANDIN_CALLS=$TMP/calls

line=$(recipe "Claude Code" r1)
check "the Claude Code agent-driven recipe is in docs/loop.md" [ -n "$line" ]
PATH="$TMP/bin:$PATH" bash -c "$line" > "$TMP/r1.txt" 2>&1; rc=$?
RES=.autoinfer/r1/results.tsv
check "Claude Code agent-driven: the line runs (exit 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 5 "$TMP/r1.txt"
check "Claude Code agent-driven: its try was kept" [ "$(cat "$TMP/calls/claude.rc" 2>/dev/null)" = 0 ]
check "Claude Code agent-driven: row 1 is its try" [ "$(row 1 | cut -f17,18)" = "$(printf 'keep\tclaude: sampler comment')" ]

git checkout -q main
line=$(recipe "a plain script" r2 | sed "s#/path/to/my-agent-loop.sh#$TMP/bin/my-agent-loop.sh#")
check "the plain-script agent-driven recipe is in docs/loop.md" grep -q "my-agent-loop.sh" <<<"$line"
bash -c "$line" > "$TMP/r2.txt" 2>&1; rc=$?
RES=.autoinfer/r2/results.tsv
check "plain script agent-driven: the line runs (exit 0)" [ $rc -eq 0 ]
check "plain script agent-driven: kept, then reverted (exit 0, 3)" [ "$(tr '\n' ' ' < "$TMP/calls/script.rc")" = "0 3 " ]
check "plain script agent-driven: rows 1-2 are its tries" \
  [ "$(col $RES 18 | tail -n 2 | tr '\n' '|')" = "script: ratio 1.2|script: ratio 0.7|" ]
finish
