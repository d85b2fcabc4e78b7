# optimise_lib.bash — shared by tests/cli/optimise_*.sh (sourced, not a test).
#
# Every test works in a throwaway clone of this repository (never the real
# working tree) and, except optimise_e2e.sh, replaces the harness with the
# TEST-ONLY fake evaluator below (AI_LOOP_TEST_EVAL), so the driver's logic is
# tested in seconds. The fake's speed model: see fake_speed.

set -uo pipefail

BIN=$(readlink -f "$1")
SRC=$(pwd)
TMP=$(mktemp -d /tmp/autoinfer-optimise-XXXXXX)
FAILS=0
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
check() { # check "description" command...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
  if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
  echo "all checks passed"; exit 0
}

# A clone of the committed tree with the model reachable, on branch main.
make_clone() {
  local dir=$TMP/repo
  git clone -q "$SRC" "$dir"
  git -C "$dir" checkout -q -B main
  git -C "$dir" config user.email test@localhost
  git -C "$dir" config user.name test
  mkdir -p "$dir/models"
  # the fake never runs it, but optimise checks that the model is a GGUF
  # whose tensors the harness can count: the smallest such file
  [ -f "$dir/models/SmolLM2-135M-Instruct.Q4_1.gguf" ] ||
    tiny_gguf "$dir/models/SmolLM2-135M-Instruct.Q4_1.gguf"
  echo "$dir"
}

# tiny_gguf PATH: GGUF v3, no metadata, two 32-float tensors (a layer, the head).
tiny_gguf() {
  python3 - "$1" <<'PY'
import struct, sys
def s(x): return struct.pack("<Q", len(x)) + x.encode()
hdr = b"GGUF" + struct.pack("<IQQ", 3, 2, 0)
for i, name in enumerate(["blk.0.attn_norm.weight", "token_embd.weight"]):
    hdr += s(name) + struct.pack("<IQIQ", 1, 32, 0, i * 128)
hdr += b"\0" * ((32 - len(hdr) % 32) % 32)
open(sys.argv[1], "wb").write(hdr + b"\0" * 256)
PY
}

# The long cases with the REAL harness on the default model: sets MODEL, or
# skips (exit 0) without the model, and under the ASan suite, where they
# would only repeat themselves (the candidates are Release builds made by the
# loop whatever the driver's build is; AI_E2E_FORCE=1 runs them there too).
real_harness_case() {
  MODEL=$SRC/models/SmolLM2-135M-Instruct.Q4_1.gguf
  if [ ! -f "$MODEL" ]; then echo "SKIP: $MODEL missing (make model)"; exit 0; fi
  case $BIN in
    *asan*) [ -z "${AI_E2E_FORCE:-}" ] && { echo "SKIP: long end-to-end case runs in the release suite only (AI_E2E_FORCE=1 runs it)"; exit 0; } ;;
  esac
  unset AI_LOOP_TEST_EVAL AI_LOOP_TEST_CRASH_AT
}

# The fake evaluator: same arguments as `autoinfer eval`.
write_fake_eval() {
  cat > "$TMP/fake_eval.sh" <<'FAKE'
#!/usr/bin/env bash
# TEST-ONLY stand-in for `autoinfer eval`; behaviour chosen by "# fake-eval:"
# lines in the candidate's (B's) pipeline.conf.
shift  # "eval"
[ -n "${FAKE_EVAL_ARGS_LOG:-}" ] && echo "$*" >> "$FAKE_EVAL_ARGS_LOG"
ab=0; a=""; b=""; json=""; conf=""; save=""; noise=0.01; data=""
while [ $# -gt 0 ]; do
  case $1 in
    --ab) ab=1 ;;
    --a) a=$2; shift ;;
    --b) b=$2; shift ;;
    --json) json=$2; shift ;;
    --conf) conf=$2; shift ;;
    --save-baseline) save=$2; shift ;;
    --noise) noise=$2; shift ;;
    --data) data=$2; shift ;;
    *) ;;
  esac
  shift
done
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
is() { awk "BEGIN { exit !($1) }"; }
knob() { # knob CONF KEY DEFAULT
  local v=""
  [ -n "$1" ] && [ -f "$1" ] && v=$(sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\([^#[:space:]]*\).*/\1/p" "$1" | tail -n1)
  echo "${v:-$3}"
}
speed() { # a synthetic speed model of the knobs (tok/s)
  local c=$1 s=100
  [ "$(knob "$c" temperature 0.7)" = 0 ] && s=$(calc "$s*1.08")
  case $(knob "$c" threads 2) in 1) s=$(calc "$s*0.6") ;; 3) s=$(calc "$s*0.97") ;; 4) s=$(calc "$s*0.9") ;; esac
  [ "$(knob "$c" spin yield)" = spin ] && s=$(calc "$s*1.03")
  case $(knob "$c" kernels auto) in avx2) s=$(calc "$s*0.9") ;; scalar) s=$(calc "$s*0.3") ;; esac
  local m; m=$(sed -n 's/^# fake-eval: ratio=\(.*\)/\1/p' "$c" 2>/dev/null | tail -n1)
  [ -n "$m" ] && s=$(calc "$s*$m")
  echo "$s"
}
mode=""
bconf=${b#*:}; [ "$bconf" = "$b" ] && bconf=""
aconf=${a#*:}; [ "$aconf" = "$a" ] && aconf=""
[ $ab = 0 ] && bconf=$conf
[ -n "$bconf" ] && mode=$(sed -n 's/^# fake-eval: \([a-z]*\)$/\1/p' "$bconf" | tail -n1)
# FAKE_EVAL_ERROR_IF=REGEX: an error exit (usage, as the harness's own) when B's conf matches
[ -n "${FAKE_EVAL_ERROR_IF:-}" ] && [ -n "$bconf" ] && grep -qE "$FAKE_EVAL_ERROR_IF" "$bconf" && {
  echo "autoinfer eval: bad value for --noise (fake)" >&2; exit 2; }
[ -n "${FAKE_EVAL_SLEEP:-}" ] && sleep "$FAKE_EVAL_SLEEP"
case $mode in
  tamper) chmod u+w "$data/gate.conf"; echo "kl_mean_max = 100" >> "$data/gate.conf" ;;
  segv) kill -SEGV $$ ;;
  hang) sleep 1000 ;;
  error) echo "autoinfer eval: engine failure: bad tensor" >&2; exit 1 ;;
esac
sb=$(speed "$bconf")
qpass=true; fails='[]'; status=ok; why=""; plaus=true; roof=1000; sanity=0.8
kv=$(knob "$bconf" kv_type f32)
if [ "$kv" = q8_0 ] || [ "$kv" = q4_0 ] || [ "$mode" = quality ]; then
  qpass=false; sanity=0.4; fails='["sanity 0.40 < 0.60"]'
fi
# "gate": a candidate of KL 0.158 that passes only under a gate loosened
# to allow it, read as the harness reads it (--data DIR/gate.conf)
if [ "$mode" = gate ]; then
  kmax=$(knob "$data/gate.conf" kl_mean_max 0)
  is "$kmax < 0.158" && { qpass=false; fails='["kl_mean 0.158 > '"$kmax"'"]'; }
fi
if [ "$mode" = implausible ]; then
  sb=5000; status=implausible; plaus=false; why="decode 5000 tok/s is above the roofline 1000 tok/s"
fi
if [ "$mode" = crash ]; then status=crash; why="candidate B: killed by signal 11 (SIGSEGV) in round 1"; fi
if [ $ab = 1 ]; then
  sa=$(speed "$aconf")
  r=$(calc "$sb/$sa")
  lo=$(calc "$r-0.005"); hi=$(calc "$r+0.005")
  verdict="no change"
  is "$lo > 1+$noise" && verdict=improved
  is "$hi < 1-$noise" && verdict=regressed
  cmp=$(printf '"compare": {"status": "%s", "why": "%s", "decode_ratio": %.4f, "ci_lo": %.4f, "ci_hi": %.4f, "p": 0.01, "noise": %s, "verdict": "%s", "prefill_ratio": 1.0, "figures": {"prefill": {"ratio": 1.0, "ci_lo": 0.99, "ci_hi": 1.01, "p": 1, "verdict": "no change"}, "ttft": {"ratio": 1.0, "ci_lo": 0.99, "ci_hi": 1.01, "p": 1, "verdict": "no change"}, "request": {"ratio": %.4f, "ci_lo": %.4f, "ci_hi": %.4f, "p": 0.01, "verdict": "%s"}}, "a": {"decode_tps": {"median": %.2f, "ci_lo": %.2f, "ci_hi": %.2f}}, "b": {"decode_tps": {"median": %.2f, "ci_lo": %.2f, "ci_hi": %.2f}, "prefill_tps": {"median": 900, "ci_lo": 880, "ci_hi": 920}, "peak_rss_mb": {"median": 210}}},' \
    "$status" "$why" "$r" "$lo" "$hi" "$noise" "$verdict" "$r" "$lo" "$hi" "$verdict" "$sa" "$(calc "$sa*0.99")" "$(calc "$sa*1.01")" "$sb" "$(calc "$sb*0.99")" "$(calc "$sb*1.01")")
else
  cmp=""
fi
cat > "$json.tmp" <<JSON
{"schema": 1, "build": {"commit": "0000", "dirty": false, "cflags": "fake"},
 "speed": {"decode_tps": {"median": $sb, "ci_lo": $(calc "$sb*0.99"), "ci_hi": $(calc "$sb*1.01")},
           "prefill_tps": {"median": 900, "ci_lo": 880, "ci_hi": 920}, "peak_rss_mb": {"median": 210}},
 "quality": {"pass": $qpass, "sanity": $sanity, "ppl": 9.5, "ppl_ratio": 1.0, "kl_mean": 0.0004, "kl_p99": 0.003, "top1_agree": 0.99, "failures": $fails},
 "device": {"backend": "cpu"},
 "plausible": {"ok": $plaus, "roofline_tps": $roof, "why": "$why"},
 "changes": {"knobs": [], "engine_lines_added": 0, "engine_lines_removed": 0},
 $cmp
 "duration_s": 1.0}
JSON
mv "$json.tmp" "$json"
if [ -n "$save" ]; then mkdir -p "$save"; cp "$json" "$save/baseline.json"; fi
echo "avg_generation_tps: $sb"
[ "$status" != ok ] && exit 4
[ "$qpass" = false ] && exit 3
exit 0
FAKE
  chmod +x "$TMP/fake_eval.sh"
  export AI_LOOP_TEST_EVAL=$TMP/fake_eval.sh
  # TEST-ONLY: the runs of one test share one build folder (one full build)
  export AI_LOOP_TEST_BUILD_DIR=$TMP/build
}

# Column N (1-based) of results.tsv rows (header skipped).
col() { tail -n +2 "$1" | cut -f"$2"; }
# Experiment N's row of $RES (the test's results.tsv), its status and its reason.
row() { sed -n "$(( $1 + 2 ))p" "$RES"; }
st() { row "$1" | cut -f17; }
why() { row "$1" | cut -f19; }
