#!/usr/bin/env bash
# The agent recipes of docs/loop.md ("Agent recipes"), each run through
# `optimise --agent` as written there, with a stand-in executable of that
# name on PATH: it checks the flags and how the prompt arrived, makes a real
# engine edit, writes the message and a note, and (aider) leaves its tool
# state in the root. Fake evaluator; one experiment per recipe.
source "$(dirname "$0")/optimise_lib.bash"
write_fake_eval
R=$(make_clone)
cd "$R" || exit 1
mkdir -p "$TMP/bin" "$TMP/calls"

# The recipe lines: the --agent argument of the line after each "# <Kind>" comment.
recipe() { # recipe KIND
  awk -v k="# $1" 'index($0, k) == 1 { getline; print; exit }' "$SRC/docs/loop.md" |
    sed -n "s/.* --agent '\(.*\)'\$/\1/p"
}

# What every stand-in does once its flags are checked: one real edit under
# engine/ (a kept speed-up for the fake evaluator), the message, a note.
cat > "$TMP/bin/edit.sh" <<'EDIT'
name=$1
printf '\n/* %s stand-in: experiment %s */\n' "$name" "$AUTOINFER_EXP" >> engine/sampler.c
printf '# fake-eval: ratio=1.2\n' >> pipeline.conf
echo "$name: sampler comment" > "$AUTOINFER_MESSAGE"
echo "$name was here" >> "$AUTOINFER_NOTES"
EDIT
# Each stand-in: die unless called as documented.
cat > "$TMP/bin/claude" <<'SH'
#!/usr/bin/env bash
die() { echo "stand-in claude: $*" >&2; exit 9; }
args=" $* "
[ "$1" = -p ] || die "no -p first"
[[ $args == *" --permission-mode acceptEdits "* ]] || die "no --permission-mode acceptEdits"
tools=""; while [ $# -gt 0 ]; do [ "$1" = --allowedTools ] && tools=$2; shift; done
for t in 'Bash(cmake:*)' 'Bash(./build-agent/autoinfer:*)' Edit Read; do
  [[ ",$tools," == *",$t,"* ]] || die "--allowedTools lacks $t: $tools"
done
grep -q '^# autoinfer experiment' || die "no prompt on stdin"
echo ok > "$STANDIN_CALLS/claude"
exec bash "$STANDIN_BIN/edit.sh" claude
SH
cat > "$TMP/bin/codex" <<'SH'
#!/usr/bin/env bash
die() { echo "stand-in codex: $*" >&2; exit 9; }
[ "$*" = "exec --sandbox workspace-write --ephemeral -" ] || die "called as: $*"
grep -q '^# autoinfer experiment' || die "no prompt on stdin"
echo ok > "$STANDIN_CALLS/codex"
exec bash "$STANDIN_BIN/edit.sh" codex
SH
cat > "$TMP/bin/aider" <<'SH'
#!/usr/bin/env bash
die() { echo "stand-in aider: $*" >&2; exit 9; }
args=" $* "
for f in --yes-always --no-auto-commits --no-gitignore; do
  [[ $args == *" $f "* ]] || die "no $f"
done
msg=""; chat=""; input=""
while [ $# -gt 0 ]; do
  case $1 in
    --message-file) msg=$2 ;; --chat-history-file) chat=$2 ;; --input-history-file) input=$2 ;;
  esac; shift
done
grep -q '^# autoinfer experiment' "$msg" || die "--message-file is not the prompt: $msg"
case $chat in "$AUTOINFER_RUN_DIR"/*) ;; *) die "chat history in the tree: $chat" ;; esac
case $input in "$AUTOINFER_RUN_DIR"/*) ;; *) die "input history in the tree: $input" ;; esac
echo chat > "$chat"; echo input > "$input"
mkdir -p .aider.tags.cache.v4 && echo cache > .aider.tags.cache.v4/cache.db  # as aider's repo map does
echo ok > "$STANDIN_CALLS/aider"
exec bash "$STANDIN_BIN/edit.sh" aider
SH
cat > "$TMP/bin/my-agent.sh" <<'SH'
#!/usr/bin/env bash
grep -q '^# autoinfer experiment' "$1" || { echo "stand-in script: \$1 is not the prompt: $1" >&2; exit 9; }
echo ok > "$STANDIN_CALLS/script"
exec bash "$STANDIN_BIN/edit.sh" script
SH
chmod +x "$TMP/bin"/*
export PATH=$TMP/bin:$PATH STANDIN_BIN=$TMP/bin STANDIN_CALLS=$TMP/calls

for kind in "Claude Code:claude" "Codex CLI:codex" "aider:aider" "a plain script:script"; do
  name=${kind#*:} kind=${kind%:*}
  cmd=$(recipe "$kind")
  check "$kind: a recipe line in docs/loop.md" [ -n "$cmd" ]
  [ -n "$cmd" ] || continue
  cmd=${cmd//\/path\/to\//$TMP/bin/}
  tag=r-$name
  git checkout -q main  # every recipe starts from the same best
  "$BIN" optimise --tag "$tag" --agent "$cmd" --budget 1 --eval-timeout 4 --jobs 2 > "$TMP/$tag.txt" 2>&1
  rc=$?
  check "$kind: the run finishes (exit 0)" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || tail -n 20 "$TMP/$tag.txt"
  RES=.autoinfer/$tag/results.tsv
  check "$kind: the stand-in was called as documented" [ -f "$TMP/calls/$name" ]
  check "$kind: its edit was evaluated and kept" [ "$(st 1)" = keep ]
  [ "$(st 1)" = keep ] || { row 1; cat ".autoinfer/$tag/logs/1.agent.log" 2>/dev/null; }
  check "$kind: the row's description is its message" [ "$(row 1 | cut -f18)" = "$name: sampler comment" ]
  check "$kind: the kept commit holds the engine edit" \
    bash -c "git show HEAD -- engine/sampler.c | grep -q '$name stand-in'"
  check "$kind: its note survives the experiment" grep -q "$name was here" ".autoinfer/$tag/notes.md"
  check "$kind: the prompt names the message file" grep -q ".autoinfer/$tag/message.txt" ".autoinfer/$tag/prompt.md"
done
check "aider: its tag cache is in no commit" bash -c "! git log --all --name-only --format= | grep -q aider"
check "aider: its tag cache is left alone" [ -f .aider.tags.cache.v4/cache.db ]
check "the tree is clean after the runs" [ -z "$(git status --porcelain)" ]
finish
