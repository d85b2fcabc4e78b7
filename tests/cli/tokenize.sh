#!/usr/bin/env bash
# autoinfer tokenize: ids and pieces on the real model and a shipped vocab;
# one clear line and the right exit status for bad input.
# Usage: tests/cli/tokenize.sh path/to/autoinfer
BIN="${1:?usage: tokenize.sh AUTOINFER_BINARY}"
source "$(dirname "$0")/lib/common.sh"
SPM=tests/data/tokenizer/ggml-vocab-llama-spm.gguf

# expect_out NAME WANT CMD...: CMD exits 0 and prints exactly WANT.
expect_out() {
  local name="$1" want="$2"; shift 2
  local out; out=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ] && [ "$out" = "$want" ]; then ok "$name"; else bad "$name: rc=$rc got '$out' want '$want'"; fi
}

# SentencePiece vocab shipped with the tests: BOS from metadata, leading space
expect_out "spm ids" "1 15043 3186" "$BIN" tokenize --ids-only "$SPM" "Hello world"
expect_out "spm --no-bos" "15043 3186" "$BIN" tokenize --ids-only --no-bos "$SPM" "Hello world"
expect_out "spm special" "1 15043" "$BIN" tokenize --ids-only --no-bos "$SPM" "<s>Hello"
# SPM byte fallback: the raw byte shows escaped
out=$("$BIN" tokenize "$SPM" $'\xc3')
grep -qF "'\\xc3'" <<<"$out" && ok "spm byte piece escaped" || bad "spm byte piece: $out"
out=$("$BIN" tokenize "$SPM" "Hello world")
grep -qF "  15043  ' Hello'" <<<"$out" && grep -qF "3 tokens (spm" <<<"$out" && ok "spm pieces" || bad "spm pieces: $out"

if [ -f "$MODEL" ]; then
  expect_out "smollm2 ids" "19556 905" "$BIN" tokenize --ids-only "$MODEL" "Hello world"
  expect_out "smollm2 special" "2" "$BIN" tokenize --ids-only "$MODEL" "<|im_end|>"
  expect_out "smollm2 --no-special" "44 108 306 79 486 108 46" "$BIN" tokenize --ids-only --no-special "$MODEL" "<|im_end|>"
  expect_out "stdin" "19556 905" bash -c "printf 'Hello world' | '$BIN' tokenize --ids-only '$MODEL' -"
  # invalid UTF-8 reaches byte-level BPE as U+FFFD (as in llama.cpp)
  out=$("$BIN" tokenize "$MODEL" $'a\tb\n\xc3')
  grep -qF "'\\t'" <<<"$out" && grep -qF "'"$'\xef\xbf\xbd'"'" <<<"$out" && ok "escaped pieces" || bad "escaped pieces: $out"
else
  echo "skip: $MODEL missing (make model)"
fi

expect_error "no arguments" 2 "expected MODEL and TEXT" "$BIN" tokenize
expect_error "one argument" 2 "expected MODEL and TEXT" "$BIN" tokenize "$SPM"
expect_error "unknown option" 2 "usage:" "$BIN" tokenize --bogus "$SPM" x
expect_error "missing file" 1 "cannot open" "$BIN" tokenize "$tmp/nope.gguf" x
printf 'not a gguf file at all' >"$tmp/bad.gguf"
expect_error "not a GGUF" 1 "bad.gguf" "$BIN" tokenize "$tmp/bad.gguf" x

finish
