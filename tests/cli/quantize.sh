#!/usr/bin/env bash
# autoinfer quantize: the real model requantized to q8_0 and q4_k_m (checked
# through `autoinfer info`), cut to its first blocks with --layers (the cut
# loads and generates), and one clear line + the right exit status for each
# bad input. Usage: tests/cli/quantize.sh path/to/autoinfer
BIN="${1:?usage: quantize.sh AUTOINFER_BINARY}"
source "$(dirname "$0")/lib/common.sh"

if [ -f "$MODEL" ]; then
  out=$("$BIN" quantize "$MODEL" "$tmp/q8.gguf" q8_0 2>&1); rc=$?
  [ $rc -eq 0 ] && ok "quantize to q8_0 exits 0" || bad "quantize q8_0 exit $rc: $out"
  grep -qF "210 tensors converted" <<<"$out" && ok "summary: 210 tensors converted" || bad "summary: $out"
  grep -qE "92\.1 MiB -> 136\.4 MiB" <<<"$out" && ok "summary sizes" || bad "summary sizes: $out"
  [ ! -e "$tmp/q8.gguf.tmp" ] && ok "no temporary file left" || bad "q8.gguf.tmp left behind"
  info=$("$BIN" info "$tmp/q8.gguf" 2>&1); rc=$?
  [ $rc -eq 0 ] && ok "info on the result exits 0" || bad "info exit $rc: $info"
  for want in "file type:         7 (mostly q8_0)" "q8_0     211 tensors" "f32       61 tensors" \
              "architecture:      llama" "vocabulary:        49152 tokens" "parameters:        134.5M" \
              "chat template:"; do
    grep -qF -- "$want" <<<"$info" && ok "q8_0 info shows '$want'" || bad "q8_0 info lacks '$want'"
  done

  out=$("$BIN" quantize "$MODEL" "$tmp/km.gguf" q4_k_m 2>&1); rc=$?
  [ $rc -eq 0 ] && ok "quantize to q4_k_m exits 0" || bad "quantize q4_k_m exit $rc"
  # rows of 576 cannot hold 256-blocks: those matrices fall back, each reported
  grep -qF "fallback: blk.0.attn_q.weight (row 576 not a multiple of 256): q4_k -> q5_0" <<<"$out" \
    && ok "q4_k fallback reported" || bad "no q4_k fallback line"
  grep -qF "fallback: blk.0.attn_v.weight (row 576 not a multiple of 256): q6_k -> q8_0" <<<"$out" \
    && ok "q6_k fallback reported" || bad "no q6_k fallback line"
  info=$("$BIN" info "$tmp/km.gguf" 2>&1)
  for want in "file type:         15" "q6_k      30 tensors" "q5_0     150 tensors" "q8_0      31 tensors"; do
    grep -qF -- "$want" <<<"$info" && ok "q4_k_m info shows '$want'" || bad "q4_k_m info lacks '$want'"
  done

  # --layers N: the first N blocks, block_count set, everything else kept
  out=$("$BIN" quantize --layers 4 "$MODEL" "$tmp/cut.gguf" keep 2>&1); rc=$?
  [ $rc -eq 0 ] && ok "--layers 4 keep exits 0" || bad "--layers 4 keep exit $rc: $out"
  grep -qF "(keep, first 4 of 30 blocks, 234 tensors dropped): 0 tensors converted, 38 unchanged" <<<"$out" \
    && ok "--layers summary" || bad "--layers summary: $out"
  info=$("$BIN" info "$tmp/cut.gguf" 2>&1)
  for want in "block_count                        4" "tensors:           38 (37.1 MiB)" \
              "q4_1      28 tensors" "q8_0       1 tensors" "f32        9 tensors" \
              "file type:         3 (mostly q4_1)" "vocabulary:        49152 tokens"; do
    grep -qF -- "$want" <<<"$info" && ok "cut info shows '$want'" || bad "cut info lacks '$want'"
  done
  gen=$("$BIN" generate -m "$tmp/cut.gguf" -p "The capital of France is" -n 8 --temp 0 --ignore-eos \
          --set backend=cpu 2>&1); rc=$?
  [ $rc -eq 0 ] && grep -qF "generated tokens: 8" <<<"$gen" && ok "the cut model loads and generates 8 tokens" \
    || bad "the cut model does not generate (rc $rc): $gen"
  out=$("$BIN" quantize -q --layers 2 "$MODEL" "$tmp/cut2.gguf" q4_1 2>&1); rc=$?
  grep -qF "(q4_1, first 2 of 30 blocks, 252 tensors dropped): 1 tensors converted, 19 unchanged" <<<"$out" \
    && ok "--layers 2 q4_1: only the q8_0 embedding converted" || bad "--layers 2 q4_1 (rc $rc): $out"
  grep -qF "q4_1      15 tensors" <<<"$("$BIN" info "$tmp/cut2.gguf" 2>&1)" \
    && ok "--layers 2 q4_1: every matrix q4_1" || bad "--layers 2 q4_1 types"
  out=$("$BIN" quantize -q "$MODEL" "$tmp/same.gguf" keep 2>&1)
  grep -qF "0 tensors converted, 272 unchanged" <<<"$out" && cmp -s "$MODEL" "$tmp/same.gguf" \
    && ok "keep without --layers: a byte-identical copy" || bad "keep copy: $out"
  rm -f "$tmp/cut.gguf" "$tmp/cut2.gguf" "$tmp/same.gguf"
  expect_error "--layers past the model's blocks" 1 "--layers 31: $MODEL has only 30 blocks (llama.block_count)" \
    "$BIN" quantize --layers 31 "$MODEL" "$tmp/cut.gguf" keep
  [ ! -e "$tmp/cut.gguf" ] && ok "no output after a bad --layers" || bad "output written after a bad --layers"

  expect_error "OUT unwritable" 1 "$tmp/no/such/dir/out.gguf.tmp: cannot create" \
    "$BIN" quantize "$MODEL" "$tmp/no/such/dir/out.gguf" q8_0

  # OUT that rename would replace by a regular file: a symlink is written
  # through (the link stays, its file gets the new contents and keeps its
  # mode), anything else is refused before the work, with no hang on a FIFO
  mkdir "$tmp/real" && printf 'old' >"$tmp/real/m.gguf" && chmod 600 "$tmp/real/m.gguf"
  ln -s real/m.gguf "$tmp/link.gguf"
  out=$("$BIN" quantize -q "$MODEL" "$tmp/link.gguf" keep 2>&1); rc=$?
  [ $rc -eq 0 ] && [ -L "$tmp/link.gguf" ] && cmp -s "$MODEL" "$tmp/real/m.gguf" \
    && [ "$(stat -c %a "$tmp/real/m.gguf")" = 600 ] && [ ! -e "$tmp/real/m.gguf.tmp" ] \
    && ok "a symlink OUT is written through (link kept, mode 600 kept)" || bad "symlink OUT (rc $rc): $out"
  rm -rf "$tmp/real" "$tmp/link.gguf"
  mkfifo "$tmp/fifo.gguf"
  expect_error "OUT a FIFO" 1 "$tmp/fifo.gguf: not a regular file (a FIFO); refusing to replace it" \
    timeout 60 "$BIN" quantize "$MODEL" "$tmp/fifo.gguf" q8_0
  [ -p "$tmp/fifo.gguf" ] && ok "the FIFO is still there" || bad "the FIFO was replaced"
  expect_error "OUT a device" 1 "/dev/null: not a regular file (a device); refusing to replace it" \
    "$BIN" quantize "$MODEL" /dev/null q8_0
  [ -c /dev/null ] && ok "/dev/null is still a device" || bad "/dev/null was replaced"
  mkdir "$tmp/dir.gguf"
  expect_error "OUT a directory" 1 "$tmp/dir.gguf: not a regular file (a directory); refusing to replace it" \
    "$BIN" quantize "$MODEL" "$tmp/dir.gguf" q8_0
  ln -s nowhere "$tmp/dangling.gguf"
  expect_error "OUT a dangling symlink" 1 "$tmp/dangling.gguf: a symlink to nothing" \
    "$BIN" quantize "$MODEL" "$tmp/dangling.gguf" q8_0
else
  echo "skip: $MODEL not present (make model)"
fi

expect_error "unknown type" 1 "unknown type 'q3_k' (known: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, q4_k_m, keep)" \
  "$BIN" quantize "$tmp/in.gguf" "$tmp/out.gguf" q3_k
expect_error "IN missing" 1 "$tmp/in.gguf: cannot open" "$BIN" quantize "$tmp/in.gguf" "$tmp/out.gguf" q8_0
printf 'not a model' >"$tmp/text.gguf"
expect_error "IN not GGUF" 1 "bad magic" "$BIN" quantize "$tmp/text.gguf" "$tmp/out.gguf" q8_0
[ ! -e "$tmp/out.gguf" ] && ok "no output after a failure" || bad "output written after a failure"
expect_error "too few arguments" 2 "expected IN OUT TYPE" "$BIN" quantize "$tmp/in.gguf" q8_0
expect_error "bad option" 2 "unrecognized option" "$BIN" quantize --bogus a b q8_0
for n in 0 -3 4x "" 99999999999; do
  expect_error "--layers '$n'" 2 "--layers expects a whole number in 1..1000000, got '$n'" \
    "$BIN" quantize --layers "$n" "$tmp/in.gguf" "$tmp/out.gguf" keep
done
"$BIN" quantize --help >"$tmp/out" 2>&1 && grep -qF "usage: autoinfer quantize" "$tmp/out" \
  && ok "--help" || bad "--help"

finish
