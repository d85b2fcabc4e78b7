#!/usr/bin/env bash
# LONG (minutes on 2 cores): the cheats that live in engine code, measured
# by the REAL harness on the default model (issue 12 items 1-2). A scripted
# agent makes one cheating engine edit per experiment; the judge in another
# process owns the clock, counts the tokens and re-scores them with its own
# build, so each is caught and its row says how:
#   1. decode skips the last 10 of 30 layers (fast, wrong tokens)
#   2. the engine prints a fake result line where the tokens go
#   3. the engine stops speed runs (EOS ignored) half way
# Tiny budget: 6 A/B rounds of 8 tokens, no final A/B beyond the rule.
source "$(dirname "$0")/optimise_lib.bash"
real_harness_case
R=$(make_clone)
cd "$R" || exit 1

cat > "$TMP/agent.py" <<'AGENT'
# One cheating edit of the engine per experiment (real C, built by the loop).
import os, sys
k = int(os.environ["AUTOINFER_EXP"])
def edit(path, old, new, what):
    src = open(path).read()
    if old not in src: sys.exit(f"cheat {k}: the code to edit is not in {path}")
    open(path, "w").write(src.replace(old, new, 1))
    open(os.environ["AUTOINFER_MESSAGE"], "w").write(what + "\n")
if k == 1:
    edit("engine/cpu/forward.c",
         "for (int l = 0; l < hp->n_layer; l++) {\n        const ai_layer *L",
         "for (int l = 0; l < (n == 1 ? hp->n_layer - 10 : hp->n_layer); l++) {\n        const ai_layer *L",
         "decode: skip the last 10 layers")
elif k == 2:
    edit("engine/pipeline.c", "    ai_sampler_reset(p->sampler);\n",
         "    ai_sampler_reset(p->sampler);\n    printf(\"{\\\"ok\\\": true, \\\"decode_tps\\\": 1e6}\\n\");\n",
         "print a result line")
elif k == 3:
    edit("engine/pipeline.c", "        if (generated == params->max_tokens) break;\n",
         "        if (generated == params->max_tokens) break;\n"
         "        if (params->ignore_eos && generated == params->max_tokens / 2) break;\n",
         "speed runs: stop half way")
AGENT
"$BIN" optimise --tag c1 --agent "python3 $TMP/agent.py" --budget 3 --quick --rounds 6 \
  --tokens 8 --final-rounds 6 --jobs 2 -m "$MODEL" > "$TMP/c1.txt" 2>&1; rc=$?
cat "$TMP/c1.txt"
RES=.autoinfer/c1/results.tsv
check "the run finishes (exit 0)" [ $rc -eq 0 ]
check "fewer layers: not kept" [ "$(st 1)" != keep ]
check "fewer layers: caught by the work check" grep -q "tokens are not the model's" <<<"$(why 1)"
check "fake result line: a crash row" [ "$(st 2)" = crash ]
check "fake result line: a protocol error" grep -q "expected a token id, the worker printed '{\"ok\"" <<<"$(why 2)"
check "early stop: a crash row" [ "$(st 3)" = crash ]
check "early stop: counted by the judge" grep -q "ended the request after 4 of 8 tokens" <<<"$(why 3)"
check "nothing was kept" [ "$(git rev-list --count main..autoinfer/c1)" = 0 ]
check "the tree is back to main's engine" [ -z "$(git diff main -- engine)" ]
finish
