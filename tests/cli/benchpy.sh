#!/usr/bin/env bash
# bench/bench.py with both references: a missing llama-bench is one clear line
# and exit 1; with stand-in llama-bench scripts (fixed tok/s) the table keeps
# ik_llama.cpp's best settings, and "vs faster" divides by the faster reference.
# Usage: tests/cli/benchpy.sh path/to/autoinfer
BIN="${1:?usage: benchpy.sh AUTOINFER_BINARY}"
source "$(dirname "$0")/lib/common.sh"

expect_one_line "no llama.cpp" "no llama.cpp llama-bench in $tmp/none (build it with tools/oracle/setup.sh)" \
  python3 bench/bench.py --autoinfer "$BIN" --llama-dir "$tmp/none" --ik-dir ''

# stand-ins: llama.cpp 100 tok/s; ik_llama.cpp -rtr 0: fa 0 50, fa 1 60;
# -rtr 1: fa 0 300, fa 1 200 (so its best is "rtr 1, fa 0")
mkdir -p "$tmp/ll" "$tmp/ik" "$tmp/models"
cat >"$tmp/ll/llama-bench" <<'EOF'
#!/usr/bin/env python3
import json
print(json.dumps([{"samples_ts": [100.0]}]))
EOF
cat >"$tmp/ik/llama-bench" <<'EOF'
#!/usr/bin/env python3
import json, sys
a = sys.argv
rtr = a[a.index("-rtr") + 1]
tps = {("0", "0"): 50.0, ("0", "1"): 60.0, ("1", "0"): 300.0, ("1", "1"): 200.0}
print("a log line before the JSON")
print(json.dumps([{"flash_attn": f == "1", "samples_ts": [tps[(rtr, f)]]} for f in a[a.index("-fa") + 1].split(",")]))
EOF
chmod +x "$tmp/ll/llama-bench" "$tmp/ik/llama-bench"
expect_one_line "no ik_llama.cpp" "no ik_llama.cpp llama-bench in $tmp/none (build it with tools/oracle/setup-ik.sh, or pass --ik-dir '')" \
  python3 bench/bench.py --autoinfer "$BIN" --llama-dir "$tmp/ll" --ik-dir "$tmp/none"
if [ -f "$MODEL" ]; then
  ln -s "$PWD/$MODEL" "$tmp/models/smollm2-q4_1.gguf"
  out=$(python3 bench/bench.py --autoinfer "$BIN" --llama-dir "$tmp/ll" --ik-dir "$tmp/ik" \
        --models-dir "$tmp/models" --only smollm2-q4_1 --threads 1 --kinds prefill --reps 1 --bandwidth-mib 16 \
        --prefill 16 2>"$tmp/err"); rc=$?
  [ $rc -eq 0 ] && ok "bench.py exits 0" || bad "bench.py exit $rc: $(tail -5 "$tmp/err")"
  check=$(python3 - "$out" <<'EOF'
import sys
lines = sys.argv[1].splitlines()
hdr = next(l for l in lines if l.startswith("| model |"))
row = next(l for l in lines if l.startswith("| SmolLM2-135M |"))
cols = dict(zip([c.strip() for c in hdr.split("|")], [c.strip() for c in row.split("|")]))
num = lambda k: float(cols[k].split()[0].strip("*"))
errs = []
want = ["autoinfer tok/s", "llama.cpp tok/s", "ik_llama.cpp tok/s", "vs llama.cpp", "vs ik_llama.cpp", "vs faster"]
errs += ["no column %r" % k for k in want if k not in cols]
if not errs:
    ours = num("autoinfer tok/s")
    if num("llama.cpp tok/s") != 100.0: errs.append("llama.cpp %s" % cols["llama.cpp tok/s"])
    if "300.0" not in cols["ik_llama.cpp tok/s"] or "(rtr 1, fa 0)" not in cols["ik_llama.cpp tok/s"]:
        errs.append("ik best %s" % cols["ik_llama.cpp tok/s"])
    if abs(num("vs llama.cpp") - ours / 100) > 0.006: errs.append("vs llama.cpp %s" % cols["vs llama.cpp"])
    if abs(num("vs faster") - ours / 300) > 0.006 or cols["vs faster"] != cols["vs ik_llama.cpp"]:
        errs.append("vs faster %s" % cols["vs faster"])
if not any(l.startswith("prefill: ik_llama.cpp's best settings per cell: rtr 1, fa 0 in 1") for l in lines):
    errs.append("no best-settings line")
print("; ".join(errs))
EOF
)
  [ -z "$check" ] && ok "table: both references, ik's best settings, vs faster" || bad "table: $check
$out"
  printf '#!/bin/sh\necho "no json here"\n' >"$tmp/ik/llama-bench"
  expect_error "ik llama-bench without JSON" 1 "bench.py: ik_llama.cpp llama-bench printed no JSON: no json here" \
    python3 bench/bench.py --autoinfer "$BIN" --llama-dir "$tmp/ll" --ik-dir "$tmp/ik" \
    --models-dir "$tmp/models" --only smollm2-q4_1 --threads 1 --kinds prefill --reps 1 --prefill 16 --bandwidth-mib 16
else
  echo "skip (no $MODEL): the table run"
fi
finish
