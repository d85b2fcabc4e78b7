#!/usr/bin/env bash
# autoinfer info: the real model's facts, and one clear line + non-zero exit
# for every kind of bad input. Usage: tests/cli/info.sh path/to/autoinfer
BIN="${1:?usage: info.sh AUTOINFER_BINARY}"
source "$(dirname "$0")/lib/common.sh"

if [ -f "$MODEL" ]; then
  out=$("$BIN" info "$MODEL" 2>&1); rc=$?
  [ $rc -eq 0 ] && ok "info on the real model exits 0" || bad "info exit $rc: $out"
  for want in "architecture:      llama" "gguf version:      3" "parameters:        134.5M" \
              "block_count                        30" "embedding_length                   576" \
              "attention.head_count_kv            3" "rope.freq_base                     100000" \
              "q4_1     210 tensors" "tokenizer:         gpt2, pre-tokenizer smollm" \
              "vocabulary:        49152 tokens" "bos 1 '<|im_start|>'" "chat template:     chatml"; do
    grep -qF -- "$want" <<<"$out" && ok "shows '$want'" || bad "missing '$want'"
  done
  # the harness's own count of the bytes a decode step reads (the eval roofline's)
  grep -qF "bytes per token:   92.1 MiB (96576768: 270 layer tensors, output norm, head tied to token_embd; harness count)" <<<"$out" \
    && ok "bytes per token (harness count)" || bad "bytes per token line: $(grep 'bytes per token' <<<"$out")"
  # the device the pipeline runs on: cpu here, cuda on a GPU machine (auto)
  grep -qE '^device:            (cpu|cuda) \(.+\)' <<<"$out" && ok "device line" || bad "no device line"
  out=$("$BIN" info --set backend=cpu "$MODEL" 2>&1); rc=$?
  [ $rc -eq 0 ] && grep -qE '^device:            cpu \(CPU, .* kernels, [0-9]+ threads\)$' <<<"$out" \
    && ok "--set backend=cpu: device cpu" || bad "backend=cpu device: rc=$rc $(grep device <<<"$out")"
  out=$("$BIN" info --set backend=cuda "$MODEL" 2>&1); rc=$?
  if grep -qE '^device:            cuda \(.+\), .* of GPU memory held$' <<<"$out"; then
    grep -qE '^gpu bandwidth:     [0-9.]+ GB/s \(GPU [0-9]+ \(' <<<"$out" && grep -qE '^decode roofline:   [0-9.]+ tok/s' <<<"$out" \
      && ok "backend=cuda: device, GPU bandwidth and roofline" || bad "backend=cuda without bandwidth: $(tail -3 <<<"$out")"
  else
    [ $rc -eq 0 ] && grep -qF "device:            (the pipeline cannot run this model: " <<<"$out" \
      && ok "backend=cuda without a GPU: said, exit 0" || bad "backend=cuda: rc=$rc $(tail -2 <<<"$out")"
  fi
  out=$("$BIN" info --no-device "$MODEL" 2>&1)
  ! grep -q '^device:' <<<"$out" && ok "--no-device: no device line" || bad "--no-device printed a device line"
  out=$("$BIN" info --tensors "$MODEL" 2>&1)
  grep -qE '^  token_embd.weight +q8_0 +576 x 49152 +' <<<"$out" && ok "--tensors lists token_embd.weight" \
    || bad "--tensors: no token_embd.weight line"
  [ "$(grep -c 'blk\.[0-9]*\.attn_q\.weight' <<<"$out")" -eq 30 ] && ok "--tensors lists 30 attn_q" \
    || bad "--tensors: attn_q count"
  head -c 100000 "$MODEL" >"$tmp/trunc.gguf"
  expect_one_line "truncated copy" "$tmp/trunc.gguf: " "$BIN" info "$tmp/trunc.gguf"
  expect_one_line "truncated copy says past end" "past end of file at offset" "$BIN" info "$tmp/trunc.gguf"
  head -c 3000000 "$MODEL" >"$tmp/trunc2.gguf"   # metadata whole, tensor data cut
  expect_one_line "truncated tensor data" "tensor 'token_embd.weight' data (30081024 bytes at data offset 0) past end of file" \
    "$BIN" info "$tmp/trunc2.gguf"
else
  echo "skip: $MODEL not present (make model)"
fi

# Can it run? Yes for the real models; for a tiny synthetic qwen3 and copies
# of it with one thing the engine lacks (patched in place, same length), no,
# naming exactly that. Metadata only; exit 0 either way (info describes).
if [ -f "$MODEL" ]; then
  out=$("$BIN" info --no-device "$MODEL" 2>&1)
  grep -qx "can run:           yes" <<<"$out" && grep -qx "chat:              yes (chatml)" <<<"$out" \
    && ok "real model: can run, chat chatml" || bad "real model can-run: $(grep -A2 '^can run' <<<"$out")"
  GEMMA=models/gemma-3-270m-q4_k_m.gguf
  if [ -f "$GEMMA" ]; then
    out=$("$BIN" info --no-device "$GEMMA" 2>&1)
    grep -qx "can run:           yes" <<<"$out" && grep -q "^chat:              no: chat template is missing" <<<"$out" \
      && ok "gemma3 base model: can run, no chat template" || bad "gemma3 can-run: $(grep -A2 '^can run' <<<"$out")"
  fi
  "$BIN" synth --shape qwen3-tiny --type q8_0 -o "$tmp/q3.gguf" >/dev/null
  can_run() { # NAME FILE WANT-LINE...: info exits 0 and prints each line
    local name="$1" file="$2" line; shift 2
    out=$("$BIN" info --no-device "$file" 2>&1); local rc=$?
    [ $rc -eq 0 ] || { bad "$name: info exit $rc"; return; }
    for line in "$@"; do
      grep -qxF -- "$line" <<<"$out" || { bad "$name: no line '$line' in: $(sed -n '/^can run/,$p' <<<"$out")"; return; }
    done
    ok "$name: $(grep -m1 '^  missing:' <<<"$out" || echo 'can run')"
  }
  can_run "synthetic qwen3" "$tmp/q3.gguf" "can run:           yes"
  perl -0777 -pe 's/qwen3/mamba/g' "$tmp/q3.gguf" >"$tmp/arch.gguf"
  can_run "unknown architecture" "$tmp/arch.gguf" "can run:           no" \
    "  missing:         architecture 'mamba' (supported: llama, qwen2, qwen3, gemma3, phi3)"
  perl -0777 -pe 's/(blk\.0\.ffn_down\.weight\x02\x00\x00\x00.{16})\x08\x00\x00\x00/$1\x14\x00\x00\x00/s' \
    "$tmp/q3.gguf" >"$tmp/type.gguf"   # q8_0 -> iq4_nl
  can_run "unsupported tensor type" "$tmp/type.gguf" "can run:           no" \
    "  missing:         tensor type iq4_nl (1 tensors, e.g. 'blk.0.ffn_down.weight'; supported: f32 f16 q4_0 q4_1 q5_0 q5_1 q8_0 q4_k q5_k q6_k bf16)"
  perl -0777 -pe 's/blk\.0\.attn_q_norm\.weight/blk.0.attn_q_nosm.weight/' "$tmp/q3.gguf" >"$tmp/miss.gguf"
  can_run "missing tensor" "$tmp/miss.gguf" "can run:           no" \
    "  missing:         tensor 'blk.0.attn_q_norm.weight' is missing"
  perl -0777 -pe 's/\x06\x00{7}smollm/\x06\x00\x00\x00\x00\x00\x00\x00zzzzzz/' "$tmp/q3.gguf" >"$tmp/pre.gguf"
  can_run "unknown pre-tokenizer" "$tmp/pre.gguf" "can run:           no"
  grep -q "^  missing:         tokenizer.ggml.pre = 'zzzzzz' is not a known pre-tokenizer (known: .*llama-bpe.*qwen2" <<<"$out" \
    && ok "unknown pre-tokenizer: names the known ones" || bad "pre-tokenizer line: $(grep missing <<<"$out")"
  perl -0777 -pe 's/im_start/im_begin/g' "$tmp/q3.gguf" >"$tmp/chat.gguf"
  can_run "unknown chat template" "$tmp/chat.gguf" "can run:           yes"
  grep -q "^chat:              no: chat template is missing or not recognised (known: " <<<"$out" \
    && ok "unknown chat template: said" || bad "chat line: $(grep '^chat:' <<<"$out")"
  # the CUDA backend runs llama and qwen2 only: asked for, it says so; auto takes the CPU
  out=$("$BIN" info --set backend=cuda "$tmp/q3.gguf" 2>&1)
  grep -qF "device:            (the pipeline cannot run this model: backend = cuda: the CUDA backend does not run architecture 'qwen3' yet (it runs llama, qwen2); set backend = cpu or auto)" <<<"$out" \
    && ok "backend=cuda refuses qwen3" || bad "backend=cuda qwen3: $(grep '^device' <<<"$out")"
  out=$("$BIN" info --set backend=auto "$tmp/q3.gguf" 2>&1)
  grep -qE '^device:            cpu \(CPU, ' <<<"$out" && ok "backend=auto runs qwen3 on the CPU" \
    || bad "backend=auto qwen3: $(grep '^device' <<<"$out")"
fi

# Hand-made bad inputs that need no model.
expect_one_line "missing file" "$tmp/nope.gguf: cannot open: No such file or directory" \
  "$BIN" info "$tmp/nope.gguf"
printf 'hello, this is not a model\n' >"$tmp/text.gguf"
expect_one_line "non-GGUF file" "bad magic 'hell' at offset 0 (expected 'GGUF': not a GGUF file)" \
  "$BIN" info "$tmp/text.gguf"
: >"$tmp/empty.gguf"
expect_one_line "empty file" "file is empty" "$BIN" info "$tmp/empty.gguf"
expect_one_line "directory" "not a regular file" "$BIN" info "$tmp"
printf 'GGUF\001\000\000\000' >"$tmp/v1.gguf"
expect_one_line "version 1" "unsupported version 1 at offset 4" "$BIN" info "$tmp/v1.gguf"
printf 'GGUF\003\000\000\000\000\000\000\000\000\000\000\000\377\377\377\377\377\377\377\377' >"$tmp/nkv.gguf"
expect_one_line "absurd metadata count" "metadata count 18446744073709551615 too large" "$BIN" info "$tmp/nkv.gguf"
# a valid file from the fuzz corpus works without a model
"$BIN" info tests/fuzz/corpus/llama_mini.gguf >"$tmp/out" 2>&1 && grep -q "architecture:      llama" "$tmp/out" \
  && ok "small llama-shaped file" || bad "llama_mini: $(cat "$tmp/out")"

# Usage: --help exits 0; bad flags and missing/extra arguments exit 2.
"$BIN" info --help >"$tmp/out" 2>&1 && grep -q "usage: autoinfer info" "$tmp/out" && ok "--help" || bad "--help"
for args in "--bogus x.gguf" "" "a.gguf b.gguf" "-z" "--set nosuchknob=1 x.gguf" "--conf"; do
  # shellcheck disable=SC2086
  "$BIN" info $args >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] && ok "'info $args' exits 2" || bad "'info $args' exit $rc, want 2"
done

finish
