#!/usr/bin/env bash
# One device call that does everything a GPU session needs, in under 10
# minutes: bench/gpu/run.sh (llama.cpp reference built in the background,
# autoinfer, the model matrix, interleaved rounds) and, once autoinfer is
# built and while the reference still builds, the GPU tests (test_cuda on
# the tiny model and the 4-layer cut of the real SmolLM2), then the
# per-stage profile and the launch modes on SmolLM2 Q4_1.
#   scripts/gpu-all.sh [BUDGET_S]     (run.sh's budget, default 420)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
budget=${1:-420}
bash bench/gpu/run.sh --budget "$budget" > "$OUT/run.txt" 2>&1 &
RUN=$!
# wait for run.sh's autoinfer build (its binary, then no build running)
for _ in $(seq 1 200); do
  [ -x build-gpu/autoinfer ] && ! pgrep -f "cmake --build build-gpu " > /dev/null && break
  sleep 2
done
[ -d /tmp/sysroot ] && export LD_LIBRARY_PATH=/tmp/sysroot/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-} \
  PATH=/tmp/sysroot/usr/bin:$PATH PKG_CONFIG_SYSROOT_DIR=/tmp/sysroot \
  PKG_CONFIG_LIBDIR=/tmp/sysroot/usr/lib/x86_64-linux-gnu/pkgconfig:/tmp/sysroot/usr/share/pkgconfig
mkdir -p models
[ -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] || cp .gpu/models/smollm2-cut4.gguf models/SmolLM2-135M-Instruct.Q4_1.gguf
echo "== test_cuda"
if cmake --build build-gpu -j8 --target test_cuda > "$OUT/test-build.log" 2>&1; then
  timeout 150 build-gpu/test_cuda > "$OUT/test_cuda.log" 2>&1
  echo "test_cuda exit $?"; grep -v "^\[ RUN\|^\[       OK" "$OUT/test_cuda.log" | tail -40
else
  grep -E "error" -A3 "$OUT/test-build.log" | head -30
fi
echo "== memcheck"
timeout 60 compute-sanitizer --tool memcheck --leak-check no build-gpu/autoinfer generate \
  -m models/SmolLM2-135M-Instruct.Q4_1.gguf -p "Hello there" -n 8 --set backend=cuda --temp 0 2>&1 | tail -4
wait $RUN
echo "== run.sh"; tail -40 "$OUT/run.txt"
M=models/gpu/smollm2-q4_1.gguf
if [ -s $M ]; then
  echo "== launch modes (SmolLM2 Q4_1 synthetic, decode 128 / prefill 512, 3 reps)"
  for L in graph stream persistent "graph --set cuda_pdl=on" "persistent --set cuda_pdl=on"; do
    r=$(timeout 40 build-gpu/autoinfer bench -m $M --decode 128 --prefill 512 --reps 3 --set backend=cuda --set cuda_launch=$L 2>&1)
    echo "$L: $(echo "$r" | grep -o 'kind=[a-z]* tokens=[0-9]* tps=[0-9.]*' | tr '\n' ' ')"
  done
  for L in graph "graph --set cuda_pdl=on"; do
    AI_CUDA_PROFILE=1 timeout 30 build-gpu/autoinfer bench -m $M --decode 128 --prefill 16 --reps 1 \
      --set backend=cuda --set cuda_launch=$L 2>&1 | grep "cuda profile"
  done
fi
