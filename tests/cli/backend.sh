#!/usr/bin/env bash
# The knobs backend (auto|cpu|cuda) and cuda_block through `autoinfer
# generate`, by --set and by a --conf file: backend = cuda without a usable
# GPU is one clear line and exit 1 (no crash), backend = auto falls back to
# the CPU and generates, and bad values are rejected naming what is allowed.
# A machine with a GPU visible to nvidia-smi may run backend = cuda; the
# checks that need its absence say so and accept that.
# Usage: tests/cli/backend.sh path/to/autoinfer
BIN="${1:?usage: backend.sh AUTOINFER_BINARY}"
source "$(dirname "$0")/lib/common.sh"

gpu=0
command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU' && gpu=1

# expect_line NAME RC WANT CMD...: CMD exits RC (so no signal: that would be
# 128+N), writes exactly one line to stderr containing WANT and nothing to
# stdout.
expect_line() {
  local name="$1" want_rc="$2" want="$3"; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [ $rc -eq "$want_rc" ] && [ "$lines" -eq 1 ] && [ ! -s "$tmp/out" ] && grep -qF -- "$want" "$tmp/err"; then
    ok "$name: $(cat "$tmp/err")"
  else
    bad "$name: rc=$rc lines=$lines stderr='$(cat "$tmp/err")' stdout='$(head -c 300 "$tmp/out")' (want rc $want_rc and '$want')"
  fi
}

# (d) backend = gpu: not one of the choices. Checked when the configuration
# is read, before any model is opened, so it needs none.
expect_line "backend = gpu (--set)" 2 "bad value 'gpu' for backend: expected one of auto|cpu|cuda" \
  "$BIN" generate -m "$MODEL" -p hi --set backend=gpu
printf 'backend = gpu\n' >"$tmp/gpu.conf"
expect_line "backend = gpu (--conf)" 2 "gpu.conf:1: bad value 'gpu' for backend: expected one of auto|cpu|cuda" \
  "$BIN" generate -m "$MODEL" -p hi --conf "$tmp/gpu.conf"
# cuda_block outside its domain, also before the model
expect_line "cuda_block = 32" 2 "bad value '32' for cuda_block: out of range 64..1024" \
  "$BIN" generate -m "$MODEL" -p hi --set cuda_block=32
expect_line "cuda_block = 2048" 2 "bad value '2048' for cuda_block: out of range 64..1024" \
  "$BIN" generate -m "$MODEL" -p hi --set cuda_block=2048

if [ ! -f "$MODEL" ]; then
  echo "skip: $MODEL not present (make model): the checks that open it"
  finish
  exit
fi

# (a) backend = cuda: "built without CUDA", or in a CUDA build that no usable
# device was found; either way one line naming the knob and exit 1.
cuda_refused() {
  local name="$1"; shift
  if [ $gpu -eq 1 ] && "$@" >"$tmp/out" 2>"$tmp/err"; then
    ok "$name: a GPU is present and backend = cuda generates"
    return
  fi
  expect_line "$name" 1 "backend = cuda" "$@"
  grep -qiE "built without CUDA|device|GPU" "$tmp/err" && ok "$name: says why (no CUDA build or no device)" \
    || bad "$name: the message says neither 'built without CUDA' nor which device is missing: $(cat "$tmp/err")"
}
cuda_refused "backend = cuda (--set)" "$BIN" generate -m "$MODEL" -p hi -n 4 --set backend=cuda
printf 'temperature = 0\nbackend = cuda\n' >"$tmp/cuda.conf"
cuda_refused "backend = cuda (--conf)" "$BIN" generate -m "$MODEL" -p hi -n 4 --conf "$tmp/cuda.conf"

# (b) backend = auto (the default, and set explicitly) generates; without a
# GPU it is the CPU's forward pass, so greedy text matches backend = cpu.
gen() { "$BIN" generate -m "$MODEL" -n 16 --temp 0 --ignore-eos -p "Once upon a time" "$@"; }
cpu=$(gen --set backend=cpu 2>"$tmp/e_cpu"); rc_cpu=$?
auto=$(gen --set backend=auto 2>"$tmp/e_auto"); rc=$?
if [ $rc -eq 0 ] && grep -q "generated tokens: 16," "$tmp/e_auto" && [ -n "$auto" ]; then
  ok "backend = auto generates 16 tokens"
else
  bad "backend = auto: rc=$rc stderr='$(cat "$tmp/e_auto")'"
fi
printf 'backend = auto\n' >"$tmp/auto.conf"
gen --conf "$tmp/auto.conf" >/dev/null 2>"$tmp/err" && grep -q "generated tokens: 16," "$tmp/err" \
  && ok "backend = auto from a conf file generates" || bad "backend = auto (--conf): $(cat "$tmp/err")"
if [ $gpu -eq 1 ]; then
  echo "skip: a GPU is present, so backend = auto may take CUDA: not compared with the CPU's text"
elif [ $rc_cpu -eq 0 ] && [ "$auto" = "$cpu" ]; then
  ok "no GPU: backend = auto gives the CPU's greedy text"
else
  bad "backend = auto differs from backend = cpu (cpu rc=$rc_cpu): auto='$auto' cpu='$cpu' $(cat "$tmp/e_cpu")"
fi

# (c) cuda_block = 100 is in 64..1024 but not a whole number of warps: the
# pipeline refuses it when it resolves the knobs at open (exit 1, as for
# every error opening the pipeline), on any backend.
expect_line "cuda_block = 100 (--set)" 1 "cuda_block = 100: expected a multiple of 32" \
  "$BIN" generate -m "$MODEL" -p hi -n 4 --set cuda_block=100
printf 'cuda_block = 100\n' >"$tmp/block.conf"
expect_line "cuda_block = 100 (--conf)" 1 "cuda_block = 100: expected a multiple of 32" \
  "$BIN" generate -m "$MODEL" -p hi -n 4 --conf "$tmp/block.conf"
gen --set cuda_block=96 >/dev/null 2>"$tmp/err" && ok "cuda_block = 96 (a multiple of 32) is accepted" \
  || bad "cuda_block = 96: $(cat "$tmp/err")"

finish
