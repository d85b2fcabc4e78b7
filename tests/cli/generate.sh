#!/usr/bin/env bash
# autoinfer generate / perplexity / synth: a coherent answer from the default
# model, and one clear error + non-zero exit for every kind of bad input.
# Usage: tests/cli/generate.sh path/to/autoinfer
BIN="${1:?usage: generate.sh AUTOINFER_BINARY}"
source "$(dirname "$0")/lib/common.sh"

# The issue's example: a coherent, on-topic answer.
out=$("$BIN" generate -m "$MODEL" --chat -n 120 --temp 0 \
  -p "Solve step by step: A train travels from city A to city B at 60 km/h and returns at 40 km/h. What is the average speed for the round trip?" 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] && ok "generate --chat exits 0" || bad "generate exit $rc: $(cat "$tmp/err")"
grep -qiE "speed|distance|time" <<<"$out" && ok "answer talks about speed/distance/time" || bad "answer off-topic: $out"
grep -qE "^prompt tokens: [0-9]+, generated tokens: [0-9]+, prefill: [0-9.]+ tok/s, decode: [0-9.]+ tok/s$" "$tmp/err" \
  && ok "summary line on stderr" || bad "summary line: $(cat "$tmp/err")"
# seeded sampling reproduces; -n is an exact budget with --ignore-eos
a=$("$BIN" generate -m "$MODEL" -n 24 --seed 7 --temp 0.9 --ignore-eos -p "Once upon a time" 2>"$tmp/e1")
b=$("$BIN" generate -m "$MODEL" -n 24 --seed 7 --temp 0.9 --ignore-eos -p "Once upon a time" 2>/dev/null)
[ "$a" = "$b" ] && ok "a seed reproduces a sampled run" || bad "seeded runs differ"
grep -q "generated tokens: 24," "$tmp/e1" && ok "exactly 24 tokens with --ignore-eos" || bad "$(cat "$tmp/e1")"

# Bad input.
expect_error "missing model" 1 "cannot open" "$BIN" generate -m "$tmp/none.gguf" -p hi
printf 'not a gguf at all' >"$tmp/text.gguf"
expect_error "not a GGUF" 1 "$tmp/text.gguf" "$BIN" generate -m "$tmp/text.gguf" -p hi
expect_error "bad temperature" 2 "bad value '-1' for temperature" "$BIN" generate -m "$MODEL" -p hi --temp -1
expect_error "bad top-p" 2 "bad value '1.5' for top_p" "$BIN" generate -m "$MODEL" -p hi --top-p 1.5
expect_error "bad top-k" 2 "bad value 'many' for top_k" "$BIN" generate -m "$MODEL" -p hi --top-k many
expect_error "bad min-p" 2 "bad value '2' for min_p" "$BIN" generate -m "$MODEL" -p hi --min-p 2
expect_error "bad repeat penalty" 2 "bad value '0' for repeat_penalty" "$BIN" generate -m "$MODEL" -p hi --repeat-penalty 0
expect_error "bad seed" 2 "bad value 'x' for seed" "$BIN" generate -m "$MODEL" -p hi --seed x
expect_error "bad -n" 2 "-n expects" "$BIN" generate -m "$MODEL" -p hi -n -3
expect_error "unknown knob" 2 "unknown knob 'turbo'" "$BIN" generate -m "$MODEL" -p hi --set turbo=1
expect_error "--think without --chat" 2 "--think needs --chat" "$BIN" generate -m "$MODEL" -p hi --think off
expect_error "bad --think" 2 "--think expects on or off, got 'maybe'" "$BIN" generate -m "$MODEL" -p hi --chat --think maybe
# the default model's ChatML has no thinking switch (the switch itself: tests/test_chat.c)
expect_error "--think on a template without the switch" 1 "the chat template (chatml) has no thinking switch" \
  "$BIN" generate -m "$MODEL" -p hi --chat --think off
expect_error "no prompt" 2 "exactly one of -p PROMPT or -f FILE" "$BIN" generate -m "$MODEL"
expect_error "unknown flag" 2 "unrecognized option" "$BIN" generate --frobnicate
printf 'temperature = 0.5\nthreads = lots\n' >"$tmp/bad.conf"
expect_error "bad conf file" 2 "bad.conf:2: bad value 'lots' for threads" "$BIN" generate -m "$MODEL" -p hi --conf "$tmp/bad.conf"
printf 'temperature = 0.5\ntop_k = 4\0\n' >"$tmp/nul.conf"
expect_error "NUL byte in a conf" 2 "nul.conf:2: NUL byte in line (expected text 'key = value')" \
  "$BIN" generate -m "$MODEL" -p hi --conf "$tmp/nul.conf"
printf 'threads = 1\ntemperature = 0\n threads=2\n' >"$tmp/dup.conf"
expect_error "knob set twice in a conf" 2 "dup.conf:3: threads is set twice (first on line 1)" \
  "$BIN" generate -m "$MODEL" -p hi --conf "$tmp/dup.conf"
mkdir "$tmp/dir.conf"
expect_error "a directory as --conf" 2 "dir.conf: cannot read configuration: Is a directory" \
  "$BIN" generate -m "$MODEL" -p hi --conf "$tmp/dir.conf"
printf '# a comment longer than any line buffer: %04000d\ntemperature = 0\n' 0 >"$tmp/long.conf"
"$BIN" generate -m "$MODEL" -p hi -n 2 --conf "$tmp/long.conf" >/dev/null 2>"$tmp/err" \
  && ok "a 4 KB comment line is read whole" || bad "long conf line: $(cat "$tmp/err")"
# the context bounds the tokens: an exact budget that cannot fit is refused
# up front; an answer that the context cuts says so
expect_error "-n past the context with --ignore-eos" 2 \
  "-n 3000 with --ignore-eos does not fit: the prompt's 4 tokens leave room for 2045 in ctx 2048 (raise the knob ctx, e.g. --set ctx=3003)" \
  "$BIN" generate -m "$MODEL" -p "Once upon a time" -n 3000 --ignore-eos --set ctx=2048
"$BIN" generate -m "$MODEL" -p "Once upon a time" -n 29 --ignore-eos --set ctx=32 >/dev/null 2>"$tmp/err" \
  && grep -q "generated tokens: 29," "$tmp/err" && ok "-n 29 fills ctx 32 after 4 prompt tokens exactly" \
  || bad "-n at the context size: $(cat "$tmp/err")"
"$BIN" generate -m "$MODEL" -p "Once upon a time" -n 60 --temp 0 --repeat-penalty 1 --set ctx=32 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 0 ] && grep -qF "stopped at the context size: 4 prompt + 29 generated tokens fill ctx 32 (-n 60;" "$tmp/err" \
  && ok "an answer cut by the context says so" || bad "context cut (rc $rc): $(cat "$tmp/err")"
"$BIN" generate -m "$MODEL" -p "Once upon a time" -n 40 --ignore-eos --set ctx=32 --set kv_window=16 >/dev/null 2>"$tmp/err" \
  && grep -q "generated tokens: 40," "$tmp/err" && ok "a rotating KV window generates past ctx" \
  || bad "rotating window: $(cat "$tmp/err")"
long=$(printf 'word %.0s' $(seq 1 100))
expect_error "context overflow" 1 "context overflow" "$BIN" generate -m "$MODEL" -p "$long" --set ctx=32
"$BIN" synth --shape smollm2-135m --type q8_0 -o "$tmp/synth.gguf" --vocab-from "$MODEL" >/dev/null 2>&1
"$BIN" generate -m "$tmp/synth.gguf" -n 4 --ignore-eos -p "hello" >/dev/null 2>"$tmp/err" \
  && ok "a synthetic model runs" || bad "synthetic model: $(cat "$tmp/err")"
# A model whose template is unknown: chat names the way out.
python3 - "$tmp/synth.gguf" <<'PY' 2>/dev/null
import sys
p = sys.argv[1]
data = bytearray(open(p, 'rb').read())
i = data.find(b'<|im_start|>')
while i >= 0:
    data[i:i + 12] = b'<|xx_start|>'
    i = data.find(b'<|im_start|>', i + 1)
open(p.replace('.gguf', '-notmpl.gguf'), 'wb').write(data)
PY
expect_error "unknown chat template" 1 "pass a raw prompt instead" "$BIN" generate -m "$tmp/synth-notmpl.gguf" --chat -p hi
expect_error "synth unknown shape" 2 "unknown shape 'gpt5'" "$BIN" synth --shape gpt5 --type q8_0 -o "$tmp/x.gguf"
expect_error "synth bad type" 2 "not a weight type" "$BIN" synth --shape smollm2-135m --type q2_k -o "$tmp/x.gguf"
for s in abc -1 12x "" 99999999999999999999; do
  expect_error "synth --seed '$s'" 2 "--seed expects a whole number in 0..9223372036854775807, got '$s'" \
    "$BIN" synth --shape smollm2-135m --type q8_0 -o "$tmp/x.gguf" --seed "$s"
done
mkfifo "$tmp/fifo.gguf"
expect_error "synth -o a FIFO, refused before the work" 1 "fifo.gguf: not a regular file (a FIFO)" \
  timeout 60 "$BIN" synth --shape llama3.2-3b --type q8_0 -o "$tmp/fifo.gguf" --vocab-from "$MODEL"

# perplexity on the repo's reference text (2 chunks) and its errors
out=$("$BIN" perplexity -m "$MODEL" -f tests/data/ppl_text.txt --chunks 2 2>/dev/null); rc=$?
[ $rc -eq 0 ] && grep -qE "^PPL = [0-9.]+ over 510 scored tokens" <<<"$out" && ok "perplexity: $(tail -n1 <<<"$out")" \
  || bad "perplexity rc=$rc: $out"
expect_error "perplexity missing text" 1 "cannot read" "$BIN" perplexity -m "$MODEL" -f "$tmp/none.txt"
echo "short" >"$tmp/short.txt"
expect_error "perplexity text too short" 1 "fewer than one chunk" "$BIN" perplexity -m "$MODEL" -f "$tmp/short.txt"
for n in 0 x 99999999999999999999; do
  expect_error "perplexity --chunks '$n'" 2 "--chunks expects a whole number in 1..1000000, got '$n'" \
    "$BIN" perplexity -m "$MODEL" -f tests/data/ppl_text.txt --chunks "$n"
done
# a model whose logits are NaN (output_norm.weight set to NaN): an error, not "PPL = nan" and exit 0
cp "$MODEL" "$tmp/nan.gguf"
python3 - "$tmp/nan.gguf" <<'PY'
import struct, sys
sys.path.insert(0, "bench/gpu")
import gguf_lite
g = gguf_lite.parse(sys.argv[1])
t = next(t for t in g["tensors"] if t["name"] == "output_norm.weight")
with open(sys.argv[1], "r+b") as f:
    f.seek(g["data_offset"] + t["offset"])
    f.write(struct.pack("<f", float("nan")) * t["dims"][0])
PY
expect_error "perplexity with NaN logits" 1 "chunk 1: the log-likelihood is not finite (the model gave NaN or infinite logits)" \
  "$BIN" perplexity -m "$tmp/nan.gguf" -f tests/data/ppl_text.txt --ctx 16 --chunks 1

finish
