#!/usr/bin/env bash
# autoinfer optimise --resume after the driver is killed (kill -9 via the
# TEST-ONLY failpoints) at every step of an experiment and during the
# baseline, and Ctrl-C (SIGINT) mid-evaluation: git and results.tsv must
# agree, no row lost or duplicated. Fake evaluator, throwaway clone.
source "$(dirname "$0")/optimise_lib.bash"
write_fake_eval
R=$(make_clone)
cd "$R" || exit 1

# consistent TAG NEXP: rows 0..N in order, NEXP non-interrupted experiments,
# the branch = the kept commits, a clean tree, nothing pending.
consistent() {
  local tag=$1 nexp=$2 res=.autoinfer/$1/results.tsv
  local n; n=$(col "$res" 1 | wc -l)
  check "$tag: rows numbered 0..$((n - 1)) once each" \
    [ "$(col "$res" 1 | tr '\n' ' ')" = "$(seq 0 $((n - 1)) | tr '\n' ' ')" ]
  check "$tag: $nexp experiments done" \
    [ "$(col "$res" 17 | grep -vc -e '^baseline$' -e '^interrupted$')" = "$nexp" ]
  local kept; kept=$(tail -n +2 "$res" | awk -F'\t' '$17 == "keep" { print $2 }' | tr '\n' ' ')
  local onbranch; onbranch=$(git log --reverse --format=%h --abbrev=12 "main..autoinfer/$tag" | tr '\n' ' ')
  check "$tag: the branch holds exactly the kept commits [$kept]" [ "$kept" = "$onbranch" ]
  check "$tag: clean tree" [ -z "$(git status --porcelain)" ]
  check "$tag: nothing pending" grep -qP '"pending":\s*null' ".autoinfer/$tag/state.json"
}

# kill -9 at each step of experiment 2 (and after experiment 1's row: a keep
# whose state update was lost), then resume to a budget of 4.
for point in propose:2 commit:2 building:2 build:2 evaluating:2 row:2 row:1; do
  tag=r${point/:/}
  git checkout -q main
  sleep_s=0; [ "$point" = evaluating:2 ] && sleep_s=1  # an evaluation that lasts
  FAKE_EVAL_SLEEP=$sleep_s AI_LOOP_TEST_CRASH_AT=$point "$BIN" optimise --tag "$tag" --strategy knobs --budget 4 --jobs 2 \
    > "$TMP/$tag.1.txt" 2>&1; rc=$?
  check "$tag: the driver died at $point (rc $rc)" bash -c "[ $rc -eq 137 ] || [ $rc -eq 142 ]"
  "$BIN" optimise --resume --tag "$tag" --jobs 2 > "$TMP/$tag.2.txt" 2>&1; rc=$?
  check "$tag: resume finishes" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || tail -n 20 "$TMP/$tag.2.txt"
  consistent "$tag" 4
  res=.autoinfer/$tag/results.tsv
  ninter=$(col "$res" 17 | grep -c '^interrupted$')
  case $point in
    row:*) check "$tag: a written row is completed, not interrupted" [ "$ninter" = 0 ] ;;
    *) check "$tag: the cut-off experiment is logged as interrupted" [ "$ninter" = 1 ]
       check "$tag: ... and retried (top_p tried twice)" [ "$(grep -c 'top_p 0.9 -> 1' "$res")" = 2 ] ;;
  esac
  check "$tag: temperature 0 kept" grep -qP "\tkeep\ttemperature 0.7 -> 0\t" "$res"
done

# kill during the baseline's A/A evaluation: resume redoes the baseline.
git checkout -q main
AI_LOOP_TEST_CRASH_AT=aa:0 FAKE_EVAL_SLEEP=1 "$BIN" optimise --tag rbase --strategy knobs --budget 2 --jobs 2 \
  > "$TMP/rbase.1.txt" 2>&1; rc=$?
check "rbase: died during the baseline (rc $rc)" [ $rc -eq 142 ]
"$BIN" optimise --resume --tag rbase > "$TMP/rbase.2.txt" 2>&1; rc=$?
check "rbase: resume finishes" [ $rc -eq 0 ]
consistent rbase 2
check "rbase: one baseline row" [ "$(col .autoinfer/rbase/results.tsv 17 | grep -c '^baseline$')" = 1 ]

# Ctrl-C in the middle of experiment 2's evaluation.
git checkout -q main
FAKE_EVAL_SLEEP=2 "$BIN" optimise --tag rint --strategy knobs --budget 3 --jobs 2 > "$TMP/rint.1.txt" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  grep -qP '"exp":\s*2,' .autoinfer/rint/state.json 2>/dev/null &&
    grep -qP '"step":\s*"eval"' .autoinfer/rint/state.json 2>/dev/null && break
  sleep 0.05
done
out=$("$BIN" optimise --resume --tag rint 2>&1); rc=$?
check "rint: a second driver on the same run is refused" [ $rc -ne 0 ]
check "rint: ... saying the run is in use" grep -q "in use by another autoinfer optimise" <<<"$out"
sleep 0.5
kill -INT $pid
wait $pid; rc=$?
check "rint: Ctrl-C exits 130" [ $rc -eq 130 ]
check "rint: says how to continue" grep -q -- "--resume --tag rint" "$TMP/rint.1.txt"
check "rint: the unfinished experiment is logged as interrupted" \
  [ "$(sed -n 4p .autoinfer/rint/results.tsv | cut -f17)" = interrupted ]
check "rint: and reverted (clean tree)" [ -z "$(git status --porcelain)" ]
sleep 0.2
left=$(pgrep -f "$TMP/fake_eval[.]sh" | xargs -r ps -o pid,ppid,stat,args -p)
check "rint: no evaluation left running" [ -z "$left" ]
[ -z "$left" ] || echo "$left"
"$BIN" optimise --resume > "$TMP/rint.2.txt" 2>&1; rc=$?
check "rint: --resume on the run's branch needs no tag" [ $rc -eq 0 ]
consistent rint 3
finish
