#!/usr/bin/env bash
# tools/calibrate_gate.sh — calibrates the quality gate (harness/gate.conf) on
# known-good and known-bad changes and prints the calibration table
# (markdown) that docs/eval.md records.
#
#   tools/calibrate_gate.sh [BIN] [OUTDIR]
#
# Cases (all against one baseline of the default model with pipeline.conf):
#   A/A, kv_type f16 / q8_0 / q4_0, weights requantized (q8_0, q4_0, q4_k),
#   and, when built, engine builds with a sampler that drops the top token
#   and a subtly wrong RoPE: set BAD_SAMPLER_BIN / BAD_ROPE_BIN to their
#   autoinfer binaries (patched copies of the tree, see docs/eval.md).
# Quality only (--quality-only): speed plays no part in the gate.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/autoinfer}
OUT=${2:-/tmp/autoinfer-calibrate-gate}
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$OUT"

n_case=0
run() { # name expect bin model extra... (PARALLEL=1: in the background)
    n_case=$((n_case + 1))
    if [ "${PARALLEL:-0}" = 1 ]; then
        run_one "$@" >"$OUT/row-$(printf %02d $n_case).md" &
    else
        run_one "$@"
    fi
}
run_one() {
    local name=$1 expect=$2 bin=$3 model=$4
    shift 4
    local file
    file=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.=-' '_')
    "$bin" eval --quality-only -m "$model" --baseline "$OUT/base" --allow-other-model \
        --json "$OUT/$file.json" "$@" >"$OUT/$file.log" 2>&1
    local rc=$?
    python3 - "$OUT/$file.json" "$name" "$expect" "$rc" <<'EOF'
import json, sys
path, name, expect, rc = sys.argv[1:]
try:
    q = json.load(open(path))["quality"]
except Exception as e:
    print(f"| {name} | {expect} | error (exit {rc}) | | | | | | | |")
    sys.exit(0)
f = lambda v, fmt: "n/a" if v is None else fmt % v
verdict = "pass" if q["pass"] else "FAIL"
ok = "-" if expect == "info" else ("yes" if (verdict == "pass") == (expect == "pass") else "**NO**")
fails = "; ".join(q["failures"]) or "-"
print(f"| {name} | {expect} | {verdict} | {ok} | {f(q['ppl_ratio'], '%.4f')} | {f(q['kl_mean'], '%.5f')} "
      f"| {f(q['kl_p99'], '%.4f')} | {f(q['top1_agree'], '%.4f')} | {f(q['sanity'], '%.1f')} "
      f"| {f(q.get('self_ppl_ratio'), '%.2f')} | {fails} |")
EOF
}

rm -f "$OUT"/row-*.md
echo "baseline: $BIN eval --save-baseline $OUT/base" >&2
"$BIN" eval --quality-only -m "$MODEL" --save-baseline "$OUT/base" --json "$OUT/base.json" \
    >"$OUT/base.log" 2>&1
[ -s "$OUT/base/refs.bin" ] || { echo "baseline failed: see $OUT/base.log" >&2; exit 1; }

for t in q8_0 q4_0 q4_k; do
    [ -f "$OUT/w-$t.gguf" ] || "$BIN" quantize -q "$MODEL" "$OUT/w-$t.gguf" "$t" >&2
done

echo "| case | expected | gate | as expected | ppl_ratio | kl_mean | kl_p99 | top1_agree | sanity | self_ppl_ratio | failures |"
echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|"
run "A/A" pass "$BIN" "$MODEL"
run "kv_type=f16" pass "$BIN" "$MODEL" --set kv_type=f16
run "kv_type=q8_0" info "$BIN" "$MODEL" --set kv_type=q8_0
run "kv_type=q4_0" fail "$BIN" "$MODEL" --set kv_type=q4_0
run "threads=1" pass "$BIN" "$MODEL" --set threads=1
run "temperature=0" pass "$BIN" "$MODEL" --set temperature=0
run "weights q8_0 (requant)" info "$BIN" "$OUT/w-q8_0.gguf"
run "weights q4_k (requant)" info "$BIN" "$OUT/w-q4_k.gguf"
run "weights q4_0 (requant)" fail "$BIN" "$OUT/w-q4_0.gguf"
[ -n "${BAD_SAMPLER_BIN:-}" ] && run "sampler drops top token" fail "$BAD_SAMPLER_BIN" "$MODEL"
[ -n "${BAD_ROPE_BIN:-}" ] && run "RoPE freq index +0.25" fail "$BAD_ROPE_BIN" "$MODEL"
wait
[ "${PARALLEL:-0}" = 1 ] && cat "$OUT"/row-*.md
exit 0
