#!/usr/bin/env bash
# Prepares the bench's model matrix in models/bench/ (git-ignored), from the
# shipped GGUFs, with the llama.cpp oracle's llama-quantize --allow-requantize:
#   smollm2-q4_1  the shipped SmolLM2-135M-Instruct.Q4_1.gguf (linked)
#   smollm2-q4_0 / -q8_0 / -q4_k_m   requantized from the shipped Q4_1
#   qwen05-q4_k_m the shipped Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf (linked)
#   qwen05-q4_0 / -q8_0              requantized from the shipped Q4_K_M
# Requantized weights are worse models but the same shapes and formats: the
# bench measures speed, and all the engines read the same files.
# Idempotent. Needs tools/oracle/setup.sh (for .oracle/bin/llama-quantize).
set -euo pipefail
cd "$(dirname "$0")/.."
Q=.oracle/bin/llama-quantize
[ -x "$Q" ] || tools/oracle/setup.sh
scripts/get-model.sh smollm2 qwen2 >&2
mkdir -p models/bench
link() { [ -e "models/bench/$2" ] || ln -s "../$1" "models/bench/$2"; }
link SmolLM2-135M-Instruct.Q4_1.gguf smollm2-q4_1.gguf
link Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf qwen05-q4_k_m.gguf
make() { # src dst TYPE
  if [ ! -s "models/bench/$2" ]; then
    echo "bench-prepare: $2 <- $1 ($3, llama-quantize --allow-requantize)" >&2
    LD_LIBRARY_PATH=.oracle/bin "$Q" --allow-requantize "models/$1" "models/bench/$2.tmp" "$3" 2 \
      > "models/bench/$2.log" 2>&1 || { tail -5 "models/bench/$2.log" >&2; exit 1; }
    mv "models/bench/$2.tmp" "models/bench/$2"
  fi
}
make SmolLM2-135M-Instruct.Q4_1.gguf smollm2-q4_0.gguf Q4_0
make SmolLM2-135M-Instruct.Q4_1.gguf smollm2-q8_0.gguf Q8_0
make SmolLM2-135M-Instruct.Q4_1.gguf smollm2-q4_k_m.gguf Q4_K_M
make Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf qwen05-q4_0.gguf Q4_0
make Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf qwen05-q8_0.gguf Q8_0
ls -la models/bench >&2
