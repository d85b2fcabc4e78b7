#!/usr/bin/env bash
# tests/cli/eval.sh BIN — `autoinfer eval` end to end on the real default model:
# bad input, eval + baseline, A/A quality (KL 0), a known-bad config (gate
# fails), A/A compare (no change), cheating workers (the work check, the
# protocol), a crashing and a hanging candidate.
# Sizes are small (--quick, few rounds) to keep it to a few minutes.
set -uo pipefail
BIN=$(realpath "$1")
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
T=$(mktemp -d /tmp/autoinfer-evaltest-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok()   { echo "ok   - $1"; }
bad()  { echo "FAIL - $1"; fails=$((fails + 1)); }
expect_rc() { # name want got
    if [ "$2" = "$3" ]; then ok "$1 (exit $3)"; else bad "$1: exit $3, expected $2"; fi
}
expect_grep() { # name pattern file
    if grep -q -- "$2" "$3"; then ok "$1"; else bad "$1: '$2' not in $3"; sed 's/^/    /' "$3" | tail -20; fi
}

if [ ! -f "$MODEL" ]; then echo "skip: $MODEL missing (make model)"; exit 0; fi

# ---- bad input: clear one-line errors, no evaluation ----
"$BIN" eval --frobnicate >"$T/o" 2>&1; expect_rc "unknown option" 2 $?
"$BIN" eval --runs zero >"$T/o" 2>&1; expect_rc "bad --runs" 2 $?
"$BIN" eval --ab --a "$BIN" --b "$BIN" --noise 11 >"$T/o" 2>&1; expect_rc "bad --noise" 2 $?
expect_grep "bad --noise is named" "bad value '11' for --noise: expected a fraction in 0..10" "$T/o"
"$BIN" eval --via "$BIN" >"$T/o" 2>&1; expect_rc "--via outside a quality run" 2 $?
expect_grep "--via: says what it is for" "needs --quality-only" "$T/o"
"$BIN" eval --quick --set no_such_knob=1 >"$T/o" 2>&1; expect_rc "unknown knob" 1 $?
expect_grep "unknown knob is named" "unknown knob 'no_such_knob'" "$T/o"
"$BIN" eval --quick --set threads=lots >"$T/o" 2>&1; expect_rc "bad knob value" 1 $?
expect_grep "bad value is named" "bad value 'lots'" "$T/o"
printf 'temperature = 0.7\nbogus = 1\n' >"$T/bad.conf"
"$BIN" eval --quick --conf "$T/bad.conf" >"$T/o" 2>&1; expect_rc "unknown knob in pipeline.conf" 1 $?
expect_grep "conf line is named" "bad.conf:2" "$T/o"
"$BIN" eval --quick --baseline "$T/nowhere" >"$T/o" 2>&1; expect_rc "missing baseline" 1 $?
expect_grep "missing baseline message" "no such directory" "$T/o"
"$BIN" eval -m "$T/none.gguf" --quick >"$T/o" 2>&1; expect_rc "missing model" 1 $?
# --json that cannot be written fails before the evaluation (which takes minutes), in one line
"$BIN" eval --quick --json "$T/no/such/dir/r.json" >"$T/o" 2>&1; expect_rc "--json in a missing directory" 1 $?
expect_grep "--json message names the path" "^autoinfer eval: --json: $T/no/such/dir/r.json.tmp: cannot write: No such file or directory$" "$T/o"
mkdir "$T/dir.json"
"$BIN" eval --quick --json "$T/dir.json" >"$T/o" 2>&1; expect_rc "--json naming a directory" 1 $?
expect_grep "--json directory refused" "dir.json: not a regular file (a directory); refusing to replace it" "$T/o"
# the harness counts bytes per token from the file itself, before the pipeline opens
head -c 3000000 "$MODEL" >"$T/trunc.gguf"
"$BIN" eval -m "$T/trunc.gguf" --quick >"$T/o" 2>&1; expect_rc "truncated model" 1 $?
expect_grep "truncated model: the harness's reader says so" "trunc.gguf: tensor data ends at offset .* past end of file" "$T/o"
"$BIN" eval --ab --a "$BIN" --b "$BIN" -m "$T/trunc.gguf" --rounds 2 >"$T/o" 2>&1; expect_rc "--ab on a truncated model" 1 $?
expect_grep "--ab truncated model message" "past end of file" "$T/o"

# A sanitizer build runs the model ~20x slower: there, only the cheap checks
# (bad input above, crashing / hanging candidates below) run.
SANITIZED=0
"$BIN" eval --build-id | grep -q 'asan' && SANITIZED=1
if [ $SANITIZED = 0 ]; then
# ---- eval + save a baseline ----
"$BIN" eval --quick --save-baseline "$T/base" --json "$T/base.json" >"$T/eval.log" 2>&1
rc=$?
if [ $rc = 0 ] || [ $rc = 3 ]; then ok "eval --save-baseline (exit $rc)"; else bad "eval --save-baseline: exit $rc"; tail -5 "$T/eval.log"; fi
for line in avg_generation_tps: avg_prompt_tps: avg_peak_memory_gb: avg_perplexity: sanity_check: \
            quality_pass: decode_tps_ci: kl_mean: top1_agree: ppl_ratio: build: "CHANGES FROM BASELINE" \
            peak_gpu_mb: "^device: " "peak GPU memory " "bytes per token counted by the harness"; do
    expect_grep "summary line $line" "^$line\|$line" "$T/eval.log"
done
for f in baseline.json refs.bin pipeline.conf; do
    [ -s "$T/base/$f" ] && ok "baseline has $f" || bad "baseline lacks $f"
done
python3 - "$T/base.json" <<'EOF' && ok "JSON has every key" || bad "JSON keys"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ["build", "model", "speed", "quality", "plausible", "changes"]:
    assert k in d, k
for k in ["commit", "dirty", "cflags"]: assert k in d["build"], k
for k in ["path", "arch", "n_params", "bytes"]: assert k in d["model"], k
for k in ["decode_tps", "prefill_tps", "ttft_ms", "peak_rss_mb"]:
    s = d["speed"][k]
    assert all(x in s for x in ["median", "ci_lo", "ci_hi", "samples"]), k
    assert len(s["samples"]) == 2, k
assert d["speed"]["decode_tps"]["median"] > 0
for k in ["pass", "sanity", "sanity_detail", "ppl", "ppl_ratio", "kl_mean", "kl_p99",
          "top1_agree", "self_ppl", "failures"]:
    assert k in d["quality"], k
assert len(d["quality"]["sanity_detail"]) == 5
for k in ["ok", "roofline_tps", "bandwidth_gbps", "why", "bytes_per_token",
          "engine_bytes_per_token", "backend", "bandwidth_source"]:
    assert k in d["plausible"], k
# bytes per token: the harness's own count from the GGUF (the engine's alongside)
p = d["plausible"]
assert p["bytes_per_token"] == 96576768, p["bytes_per_token"]
assert d["model"]["bytes_per_token"] == p["bytes_per_token"]
assert p["engine_bytes_per_token"] == 96576768, p["engine_bytes_per_token"]
dev = d["device"]
assert dev["backend"] in ("cpu", "cuda") and dev["name"], dev
assert p["backend"] == dev["backend"]
if dev["backend"] == "cpu":
    # no GPU figures on the CPU: null, and the source is the CPU read probe
    assert d["speed"]["peak_gpu_mb"] is None and d["speed"]["engine_gpu_mb"] is None
    assert dev["gpu_peak_mb"] is None and dev["gpu_note"], dev
    assert p["bandwidth_source"].startswith("CPU streaming read"), p["bandwidth_source"]
else:
    # the harness's GPU measurement beside the pipeline's own figure
    assert d["speed"]["peak_gpu_mb"]["median"] > 0 and d["speed"]["engine_gpu_mb"] > 0
    assert "device-to-device copy" in p["bandwidth_source"], p["bandwidth_source"]
    assert p["bandwidth_gbps"] > 100, p["bandwidth_gbps"]
for k in ["knobs", "engine_lines_added", "engine_lines_removed", "functions_added",
          "functions_removed"]:
    assert k in d["changes"], k
EOF

# ---- the same configuration against its own baseline: KL 0, top-1 1 ----
"$BIN" eval --quick --baseline "$T/base" --json "$T/aa.json" >"$T/aa.log" 2>&1
rc=$?
if [ $rc = 0 ] || [ $rc = 3 ]; then ok "eval --baseline (exit $rc)"; else bad "eval --baseline: exit $rc"; tail -5 "$T/aa.log"; fi
python3 - "$T/aa.json" <<'EOF' && ok "A/A quality: KL ~0, top-1 1, no knob changes" || bad "A/A quality"
import json, sys
q = json.load(open(sys.argv[1]))
c = q["changes"]
q = q["quality"]
assert q["kl_mean"] < 1e-4, q["kl_mean"]
assert q["top1_agree"] > 0.999, q["top1_agree"]
assert abs(q["ppl_ratio"] - 1) < 1e-3, q["ppl_ratio"]
assert not any("kl" in f or "top1" in f or "ppl" in f for f in q["failures"]), q["failures"]
assert c["knobs"] == [], c["knobs"]
EOF

# ---- a known-bad configuration: the gate fails, and the monitor names the knob ----
"$BIN" eval --quick --baseline "$T/base" --set kv_type=q4_0 --json "$T/bad.json" >"$T/bad.log" 2>&1
expect_rc "q4_0 KV fails the gate" 3 $?
expect_grep "quality_pass False" "^quality_pass: False" "$T/bad.log"
expect_grep "change monitor names kv_type" "kv_type: f32 -> q4_0" "$T/bad.log"
expect_grep "tradeoff warning shown" "Tradeoff warnings" "$T/bad.log"

# ---- corrupt / foreign baselines ----
cp -r "$T/base" "$T/corrupt"
printf 'x' | dd of="$T/corrupt/refs.bin" bs=1 seek=1000 conv=notrunc 2>/dev/null
"$BIN" eval --quick --baseline "$T/corrupt" >"$T/o" 2>&1; expect_rc "corrupt refs.bin" 1 $?
expect_grep "corrupt message" "corrupt reference file" "$T/o"
cp -r "$T/base" "$T/other"
python3 - "$T/other/baseline.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["baseline_meta"]["model_bytes"] += 1
json.dump(d, open(sys.argv[1], "w"))
EOF
"$BIN" eval --quick --baseline "$T/other" >"$T/o" 2>&1; expect_rc "baseline of another model" 1 $?
expect_grep "other model message" "another model" "$T/o"
echo '{"nope": 1}' >"$T/other/baseline.json"
"$BIN" eval --quick --baseline "$T/other" >"$T/o" 2>&1; expect_rc "baseline.json without meta" 1 $?

# ---- A/A compare: no change ----
# a noise threshold above 50 %: what optimise passes on from a loaded machine's A/A
"$BIN" eval --ab --a "$BIN" --b "$BIN" --rounds 3 --tokens 8 --noise 0.75 --no-quality --json "$T/ab.json" >"$T/ab.log" 2>&1
expect_rc "A/A compare" 0 $?
expect_grep "A/A verdict" "^verdict: no change" "$T/ab.log"
python3 - "$T/ab.json" <<'EOF' && ok "compare JSON" || bad "compare JSON"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["compare"]
for k in ["decode_ratio", "ci_lo", "ci_hi", "p", "noise", "verdict", "prefill_ratio",
          "prefill_ci_lo", "prefill_ci_hi", "a", "b", "status", "why"]:
    assert k in c, k
assert c["status"] == "ok" and c["rounds"] == 3 and c["noise"] == 0.75
assert len(c["a"]["decode_tps"]["samples"]) == 3
# the roofline's bytes are the harness's count, not a worker's say-so
assert d["plausible"]["bytes_per_token"] == 96576768, d["plausible"]
assert d["device"]["backend"] == c["b"]["backend"] == d["plausible"]["backend"], d["device"]
assert "peak_gpu_mb" in d["speed"] and "peak_gpu_mb" in c["b"]
for k in ["build", "model", "speed", "quality", "plausible", "changes"]: assert k in d, k
EOF


# ---- the judge measures from outside and checks the work (worker.c, stream.c, workcheck.c) ----
python3 - "$T/ab.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["compare"]
w = c["work_check"]
# every B token of the checked rounds re-scored; honest sampling pays no excess surprise
assert w["rounds"] == 3 and w["tokens"] == 3 * 5 * 8, w
assert w["excess"] < 0.5 <= w["limit"], w
assert isinstance(c["prompt_seed"], (int, float)), c
EOF
[ $? = 0 ] && ok "A/A: the judge re-scored B's tokens (work check)" || bad "A/A work check figures"
# cheats, each a stand-in worker: caught, and the status says how
"$BIN" quantize -q --layers 20 "$MODEL" "$T/cut.gguf" keep >/dev/null
printf '#!/bin/bash\nexec %s eval --worker -m %s "${@:5}"\n' "$BIN" "$T/cut.gguf" >"$T/fewer-layers"
cat >"$T/replay" <<'EOF'
#!/usr/bin/env python3
# answers every request with the same canned tokens (a cache of known answers)
import sys
print("autoinfer-worker 1 cpu 96576768 0 stand-in", flush=True)
for line in sys.stdin:
    if line.startswith("quit"): break
    for i in range(int(line.split()[1])): print([504, 3060, 314, 253, 1345, 282, 5288, 30][i % 8], flush=True)
    print("end", flush=True)
EOF
cat >"$T/fake-line" <<'EOF'
#!/bin/sh
# prints a result line of the old protocol instead of tokens
echo "autoinfer-worker 1 cpu 96576768 0 stand-in"; read req
echo '{"ok": true, "decode_tps": 1e6, "decode_tps_med": 1e6, "tokens": 8}'; sleep 5
EOF
cat >"$T/early-stop" <<'EOF'
#!/bin/sh
# sends fewer tokens than asked and ends the request
echo "autoinfer-worker 1 cpu 96576768 0 stand-in"; read req; echo 42; echo 43; echo end; sleep 5
EOF
cat >"$T/early-exit" <<'EOF'
#!/bin/sh
# sends fewer tokens than asked, then exits
echo "autoinfer-worker 1 cpu 96576768 0 stand-in"; read req; echo 42; echo 43; exit 0
EOF
printf '#!/bin/sh\necho "{\\"ok\\": true}"\n' >"$T/old-worker"
chmod +x "$T/fewer-layers" "$T/replay" "$T/fake-line" "$T/early-stop" "$T/early-exit" "$T/old-worker"
"$BIN" eval --ab --a "$BIN" --b "$T/fewer-layers" --rounds 2 --tokens 8 --no-quality >"$T/o" 2>&1
expect_rc "cheat: decoding 20 of 30 layers" 4 $?
expect_grep "fewer layers: caught by the work check" "compare_status: implausible" "$T/o"
expect_grep "fewer layers: the reason says so" "speed-run tokens are not the model's" "$T/o"
"$BIN" eval --ab --a "$BIN" --b "$T/replay" --rounds 2 --tokens 8 --no-quality >"$T/o" 2>&1
expect_rc "cheat: replayed answers" 4 $?
expect_grep "replay: caught by the work check" "speed-run tokens are not the model's" "$T/o"
"$BIN" eval --ab --a "$BIN" --b "$T/fake-line" --rounds 2 --tokens 8 --no-quality >"$T/o" 2>&1
expect_rc "cheat: a fake result line" 4 $?
expect_grep "fake line: a protocol error, never a result" "B: token 1 of 8: expected a token id, the worker printed '{\"ok\"" "$T/o"
"$BIN" eval --ab --a "$BIN" --b "$T/early-stop" --rounds 2 --tokens 8 --no-quality >"$T/o" 2>&1
expect_rc "cheat: stopping early" 4 $?
expect_grep "early stop: counted by the judge" "B: the worker ended the request after 2 of 8 tokens" "$T/o"
"$BIN" eval --ab --a "$BIN" --b "$T/early-exit" --rounds 2 --tokens 8 --no-quality >"$T/o" 2>&1
expect_rc "cheat: exiting early" 4 $?
expect_grep "early exit: counted by the judge" "B: the worker closed its output (after 2 of 8 tokens)" "$T/o"
"$BIN" eval --ab --a "$T/old-worker" --b "$BIN" --rounds 2 --tokens 8 --no-quality >"$T/o" 2>&1
expect_rc "a worker of another protocol" 4 $?
expect_grep "another protocol: said so" "A: the worker does not speak protocol 1" "$T/o"

fi # SANITIZED

# ---- a crashing and a hanging candidate: a status, never a hang ----
printf '#!/bin/sh\nkill -SEGV $$\n' >"$T/crash"; chmod +x "$T/crash"
"$BIN" eval --ab --a "$BIN" --b "$T/crash" --rounds 2 --tokens 4 --no-quality --json "$T/c.json" >"$T/o" 2>&1
expect_rc "crashing candidate" 4 $?
expect_grep "crash status" "compare_status: crash" "$T/o"
printf '#!/bin/sh\nexec sleep 60\n' >"$T/hang"; chmod +x "$T/hang"
start=$(date +%s)
"$BIN" eval --ab --a "$T/hang" --b "$BIN" --rounds 2 --tokens 4 --timeout 2 --no-quality >"$T/o" 2>&1
expect_rc "hanging candidate" 4 $?
expect_grep "timeout status" "compare_status: timeout" "$T/o"
[ $(( $(date +%s) - start )) -lt 30 ] && ok "hang killed at the time limit" || bad "hang took too long"

echo "$fails failure(s)"
[ $fails = 0 ]
