#!/usr/bin/env bash
# On a GPU machine without network (the lent H100), from the repo root with
# .gpu/ carried (bench/gpu/pack.sh makes it here): builds autoinfer with
# CUDA, runs the GPU tests on the 4-layer cut of SmolLM2 (standing in for
# the default model) and on synthetic full-size shapes, a compute-sanitizer
# memcheck of a short generate, and quick decode/prefill figures for each
# launch mode. Writes logs under $OUT when set.
#   scripts/gpu-check.sh [--no-tests] [--no-bench] [--quick]
# --quick: no memcheck, the bench on SmolLM2 Q4_1 (graph, persistent) and
# Qwen2.5-0.5B Q4_0 (graph) only: a call of about 4 minutes.
# --minimal: only test_cuda and autoinfer built, the tests on the tiny and
# the cut model, one graph-launch bench and the profile of SmolLM2 Q4_1.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
tests=1 bench=1 quick=0 minimal=0
for a in "$@"; do case $a in --no-tests) tests=0 ;; --no-bench) bench=0 ;; --quick) quick=1 ;;
  --minimal) quick=1 minimal=1 ;; esac; done
log() { echo "== $*"; }

# Debian packages the build needs, unpacked into a private root when the
# system lacks them (never into /).
if ! pkg-config --exists libpcre2-8 libcjson cmocka 2>/dev/null; then
  R=/tmp/sysroot; mkdir -p $R
  for f in .gpu/debs/*.deb; do dpkg -x "$f" $R; done
  export PATH=$R/usr/bin:$PATH LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
  export PKG_CONFIG_SYSROOT_DIR=$R PKG_CONFIG_LIBDIR=$R/usr/lib/x86_64-linux-gnu/pkgconfig:$R/usr/share/pkgconfig
  log "dependencies from .gpu/debs into $R"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
log build
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DAI_CUDA=on > "$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
targets=(); [ $minimal = 1 ] && targets=(--target test_cuda autoinfer)
cmake --build build-gpu -j16 "${targets[@]}" > "$OUT/build.log" 2>&1 || { grep -E "error|Error" -A3 "$OUT/build.log" | head -60; exit 1; }
B=build-gpu/autoinfer

mkdir -p models/gpu
[ -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] || cp .gpu/models/smollm2-cut4.gguf models/SmolLM2-135M-Instruct.Q4_1.gguf
V=models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f models/gpu/qwen-vocab.gguf ] && [ -f .gpu/models/qwen2.5-vocab.gguf.xz ]; then
  xz -dc .gpu/models/qwen2.5-vocab.gguf.xz > models/gpu/qwen-vocab.gguf
fi
synth() { # shape type file vocab
  [ -f "models/gpu/$3" ] || $B synth --shape "$1" --type "$2" -o "models/gpu/$3" --vocab-from "$4" > /dev/null
}
log synth
synth smollm2-135m q4_1 smollm2-q4_1.gguf $V &
[ $quick = 1 ] || synth smollm2-135m q8_0 smollm2-q8_0.gguf $V &
[ $minimal = 1 ] || synth qwen2.5-0.5b q4_0 qwen05-q4_0.gguf models/gpu/qwen-vocab.gguf &
wait
ls -la models/gpu

if [ $tests = 1 ]; then
  log test_cuda
  tm=models/gpu/smollm2-q4_1.gguf; [ $quick = 1 ] || tm=$tm:models/gpu/qwen05-q4_0.gguf
  [ $minimal = 1 ] && tm=""
  tt=120; [ $minimal = 1 ] && tt=75
  AI_GPU_TEST_MODELS=$tm \
    timeout $tt build-gpu/test_cuda 2>&1 | tee "$OUT/test_cuda.log" | grep -v "^\[ RUN\|^\[       OK"
  [ $quick = 1 ] || log compute-sanitizer memcheck
  [ $quick = 1 ] || timeout 45 compute-sanitizer --tool memcheck --leak-check no $B generate -m $V -p "Hello there" -n 8 \
    --set backend=cuda --set temperature=0 2>&1 | tail -6
fi
if [ $bench = 1 ]; then
  echo "== decode / prefill tok/s by launch mode (greedy, decode 128 after 8 tokens, prefill 512; 3 reps)"
  run_bench() { # model launch...
    local m=$1; shift
    r=$(timeout 40 $B bench -m models/gpu/$m.gguf --decode 128 --prefill 512 --reps 3 --set backend=cuda "$@" 2>&1)
    echo "$m $*: $(echo "$r" | grep -o 'kind=[a-z]* tokens=[0-9]* tps=[0-9.]*' | sed 's/tokens=[0-9]* //' | tr '\n' ' ')"
  }
  run_bench smollm2-q4_1 --set cuda_launch=graph
  [ $quick = 1 ] || run_bench smollm2-q4_1 --set cuda_launch=graph --set cuda_pdl=on
  [ $minimal = 1 ] || run_bench smollm2-q4_1 --set cuda_launch=persistent
  [ $quick = 1 ] || run_bench smollm2-q8_0 --set cuda_launch=graph
  [ $minimal = 1 ] || run_bench qwen05-q4_0 --set cuda_launch=graph
  AI_CUDA_PROFILE=1 timeout 30 $B bench -m models/gpu/smollm2-q4_1.gguf --decode 128 --prefill 16 --reps 1 \
    --set backend=cuda --set cuda_launch=graph 2>&1 | grep "cuda profile"
fi
