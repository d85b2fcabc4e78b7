#!/usr/bin/env bash
# autoinfer bench: the lines bench/bench.py parses (sample, model, memory) and
# the arithmetic of the memory line. Figures only: the peak-RSS bound itself is
# reported by the benchmark (bench/bench.py's "### memory" table), never
# asserted here. Usage: tests/cli/bench.sh path/to/autoinfer
BIN="${1:?usage: bench.sh AUTOINFER_BINARY}"
source "$(dirname "$0")/lib/common.sh"

if [ -f "$MODEL" ]; then
  # SmolLM2-135M: 30 layers, 3 KV heads of 64 -> f32 rows of 768 bytes,
  # q8_0 rows of 204 bytes; KV = 30 x 2 x slots x row.
  out=$("$BIN" bench -m "$MODEL" -t 1 --decode 8 --prefill 16 --set ctx=64 2>/dev/null); rc=$?
  [ $rc -eq 0 ] && ok "bench exits 0" || bad "bench exit $rc: $out"
  grep -qE '^sample kind=decode tokens=8 tps=[0-9.]+$' <<<"$out" && ok "decode sample line" || bad "decode sample: $out"
  grep -qE '^sample kind=prefill tokens=16 tps=[0-9.]+$' <<<"$out" && ok "prefill sample line" || bad "prefill sample: $out"
  grep -qE '^model .*bytes_per_token=[0-9]+ weight_bytes=[0-9]+' <<<"$out" && ok "model line" || bad "model line: $out"
  mem=$(grep '^memory ' <<<"$out")
  [ "$(tail -n1 <<<"$out")" = "$mem" ] && ok "memory line comes after the samples" || bad "memory line not last: $out"
  size=$(stat -L -c %s "$MODEL")
  # checks: file size, KV of 64 f32 slots, KV used = 8 + max(8, 16 warm-up) = 24
  # positions, bound = 1.10 x (file + kv), ratio = peak / (file + kv), VmHWM
  # at least the resident set at the end.
  check=$(python3 - "$mem" "$size" <<'EOF'
import re, sys
d = dict(re.findall(r"(\w+)=(\S+)", sys.argv[1]))
size = int(sys.argv[2])
f, kv, used, peak = (int(d[k]) for k in ("model_file_bytes", "kv_bytes", "kv_used_bytes", "peak_rss_bytes"))
errs = []
if f != size: errs.append("file %d != %d" % (f, size))
if kv != 30 * 2 * 64 * 768: errs.append("kv_bytes %d" % kv)
if used != 30 * 2 * 24 * 768: errs.append("kv_used_bytes %d" % used)
if d["kv_slots"] != "64" or d["kv_type"] != "f32": errs.append("slots/type %s %s" % (d["kv_slots"], d["kv_type"]))
if abs(float(d["bound_bytes"]) - 1.10 * (f + kv)) > 1: errs.append("bound %s" % d["bound_bytes"])
if abs(float(d["ratio"]) - peak / (f + kv)) > 1e-3: errs.append("ratio %s" % d["ratio"])
if abs(float(d["ratio_used"]) - peak / (f + used)) > 1e-3: errs.append("ratio_used %s" % d["ratio_used"])
if peak < int(d["end_rss_anon_bytes"]) + int(d["end_rss_file_bytes"]): errs.append("peak below end RSS")
print("; ".join(errs) or "ok")
EOF
)
  [ "$check" = ok ] && ok "memory line: file, KV, bound and ratio add up ($mem)" || bad "memory line: $check ($mem)"
  # the KV cache follows the knobs: a rotating window of 32 q8_0 slots, plus
  # prefill_chunk - 1 = 7 slots so a pass never evicts keys it still needs
  mem=$("$BIN" bench -m "$MODEL" -t 1 --decode 8 --prefill 0 --set ctx=64 --set kv_window=32 \
        --set prefill_chunk=8 --set kv_type=q8_0 2>/dev/null | grep '^memory ')
  grep -qF "kv_bytes=$((30 * 2 * 39 * 204)) kv_slots=39 kv_type=q8_0" <<<"$mem" && ok "kv_window and kv_type size the KV" \
    || bad "kv_window/kv_type: $mem"
else
  echo "skip: $MODEL not present (make model)"
fi

# kernel figures: one line per weight format, both rates positive (a tiny
# matrix: the figures are meaningless here, the lines are what bench.py reads)
out=$("$BIN" bench --kernels --mib 1 --reps 1 2>&1); rc=$?
[ $rc -eq 0 ] && ok "bench --kernels exits 0" || bad "bench --kernels exit $rc: $out"
n=$(grep -cE '^sample kind=kernel type=[a-z0-9_]+ kernel=dot(4|4p)? bytes_per_weight=[0-9.]+ cache_gbps=[0-9.]*[1-9][0-9.]* stream_gbps=[0-9.]*[1-9][0-9.]*$' <<<"$out")
[ "$n" = 8 ] && ok "bench --kernels: 8 formats" || bad "bench --kernels lines ($n): $out"
# the batched tile's rates, where it runs (AVX-512 VNNI): 1-3 groups per format
if grep -q '^kernels isa=avx512' <<<"$out"; then
  n=$(grep -cE '^sample kind=gemm type=[a-z0-9_]+ groups=[123] cache_gmacs=[0-9.]*[1-9][0-9.]*$' <<<"$out")
  [ "$n" = 24 ] && ok "bench --kernels: gemm tile rates" || bad "bench --kernels gemm lines ($n): $out"
fi

for n in x -1 1000001 " 5" 5x 99999999999999999999; do
  expect_error "bench --decode '$n'" 2 "--decode expects a whole number in 0..1000000, got '$n'" "$BIN" bench --decode "$n"
done
expect_error "ctx too small" 2 "too small for these token counts" "$BIN" bench --set ctx=64 --prefill 512
finish
