# common.sh — what the CLI tests share. Source it after setting BIN:
#   BIN="${1:?usage: NAME.sh AUTOINFER_BINARY}"; source "$(dirname "$0")/lib/common.sh"
# It moves to the repository root and gives MODEL, a temporary directory $tmp
# (removed on exit), ok/bad counters, the expect_* checks and finish.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

# expect_error NAME RC WANT CMD...: CMD exits RC, writes nothing to stdout,
# and its stderr contains WANT.
expect_error() {
  local name="$1" want_rc="$2" want="$3"; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq "$want_rc" ] && [ ! -s "$tmp/out" ] && grep -qF -- "$want" "$tmp/err"; then
    ok "$name: $(head -n1 "$tmp/err")"
  else
    bad "$name: rc=$rc stderr='$(cat "$tmp/err")' stdout='$(head -c 300 "$tmp/out")' (want rc $want_rc and '$want')"
  fi
}

# expect_one_line NAME WANT CMD...: the strict form for file errors: exit 1,
# exactly one line on stderr containing WANT, nothing on stdout.
expect_one_line() {
  local name="$1" want="$2"; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && [ ! -s "$tmp/out" ] && grep -qF -- "$want" "$tmp/err"; then
    ok "$name: $(cat "$tmp/err")"
  else
    bad "$name: rc=$rc lines=$lines stderr='$(cat "$tmp/err")' (want '$want')"
  fi
}

# finish: the summary line and the exit status.
finish() {
  echo "$fails failed"
  [ "$fails" -eq 0 ]
}
