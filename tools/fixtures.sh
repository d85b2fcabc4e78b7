#!/usr/bin/env bash
# Regenerates every llama.cpp reference fixture under tests/data/fixtures/.
#   tools/fixtures.sh            (all models below; about 30-60 min on 2 busy cores)
#   tools/fixtures.sh smollm2    (only the default model's fixtures; also q8_0, qwen2, gemma3,
#                                 synth: tiny qwen3/phi3/gemma3 made by build/autoinfer synth)
# Needs the oracle (tools/oracle/setup.sh) and fetches the models it uses
# (scripts/get-model.sh smollm2 qwen2 gemma3). See docs/fixtures.md.
set -euo pipefail
cd "$(dirname "$0")/.."
O=.oracle
PY=$O/venv/bin/python
if [ ! -f "$O/READY" ] || [ ! -x "$PY" ]; then
  echo "fixtures: the oracle is not built; run tools/oracle/setup.sh first" >&2; exit 1
fi
F=tests/data/fixtures
mkdir -p "$F"
only=${1:-all}
want() { [ "$only" = all ] || [ "$only" = "$1" ]; }

SMOL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SMOL8=models/SmolLM2-135M-Instruct.Q8_0.gguf
QWEN=models/Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf
GEMMA=models/gemma-3-270m-q4_k_m.gguf
TEXT=tests/data/ppl_text.txt

scripts/get-model.sh smollm2
if want q8_0 && [ ! -f "$SMOL8" ]; then
  # The Q8_0 variant: llama.cpp's own llama-quantize (vendored tree), requantized from the
  # shipped Q4_1 file. Every 2-D tensor becomes Q8_0; the norms stay F32.
  if [ ! -x "$O/bin/llama-quantize" ]; then
    echo "fixtures: $O/bin/llama-quantize missing (tools/oracle/setup.sh builds it)" >&2; exit 1
  fi
  "$O/bin/llama-quantize" --allow-requantize "$SMOL" "$SMOL8.part" Q8_0 2 >/dev/null 2>&1
  mv "$SMOL8.part" "$SMOL8"
fi
want qwen2 && scripts/get-model.sh qwen2
want gemma3 && scripts/get-model.sh gemma3

run() { echo "fixtures: $*" >&2; "$PY" "$@"; }
if want synth; then
  # Tiny random-weight models of the architectures that ship no small real
  # weights here, written by `autoinfer synth` (deterministic for a seed; the
  # test writes the same file again from the fixture's model.description).
  BIN=${AUTOINFER:-build/autoinfer}
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for st in qwen3-tiny:q4_k phi3-tiny:q5_0 gemma3-tiny:q8_0 deepseek-coder-tiny:q8_0 gemma3-scaled-tiny:q8_0; do
    shape=${st%:*} type=${st#*:}
    "$BIN" synth --shape "$shape" --type "$type" --seed 1 -o "$tmp/synth-$shape-$type.gguf" >/dev/null
    run tools/fixtures_logits.py "$tmp/synth-$shape-$type.gguf" "$F/logits_synth_${shape//-/_}_$type.json"
  done
fi
if want smollm2; then
  run tools/fixtures_logits.py "$SMOL" "$F/logits_smollm2_q4_1.json"
  run tools/fixtures_greedy.py "$SMOL" "$F/greedy_smollm2_q4_1.json"
  run tools/fixtures_ppl.py "$SMOL" "$TEXT" "$F/ppl_smollm2_q4_1.json"
fi
if want q8_0; then
  run tools/fixtures_logits.py "$SMOL8" "$F/logits_smollm2_q8_0.json"
  run tools/fixtures_greedy.py "$SMOL8" "$F/greedy_smollm2_q8_0.json"
  run tools/fixtures_ppl.py "$SMOL8" "$TEXT" "$F/ppl_smollm2_q8_0.json"
fi
if want qwen2; then
  run tools/fixtures_logits.py "$QWEN" "$F/logits_qwen2_0.5b_q4_k_m.json"
  run tools/fixtures_greedy.py "$QWEN" "$F/greedy_qwen2_0.5b_q4_k_m.json"
  run tools/fixtures_ppl.py "$QWEN" "$TEXT" "$F/ppl_qwen2_0.5b_q4_k_m.json"
fi
if want gemma3; then
  # base model without a chat template: the greedy prompts go in raw
  run tools/fixtures_logits.py "$GEMMA" "$F/logits_gemma3_270m_q4_k_m.json"
  run tools/fixtures_greedy.py "$GEMMA" "$F/greedy_gemma3_270m_q4_k_m.json"
  # --exact: also the perplexity with float products (docs/models.md, gemma3)
  run tools/fixtures_ppl.py --exact "$GEMMA" "$TEXT" "$F/ppl_gemma3_270m_q4_k_m.json"
fi
ls -l "$F" >&2
