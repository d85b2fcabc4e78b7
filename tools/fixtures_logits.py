#!/usr/bin/env python3
"""Reference logits at every position of a fixed ~128-token text, from llama.cpp.

    .oracle/venv/bin/python tools/fixtures_logits.py MODEL OUT.json

The text below is tokenized by llama.cpp (add_special: BOS only if the model's
tokenizer.ggml.add_bos_token asks for it; no special-token parsing) and run as
one batch with logits for every position (n_ctx 512, n_batch 512, 2 threads).
positions[i] describes the logits after tokens[0..i] were consumed, i.e. the
distribution of the token at i+1: its token id, logsumexp of the full logits
(so log p(t) = logit(t) - lse), argmax, and the top-32 (token, logit) pairs
sorted by logit descending (ties by lower id). Floats are rounded to 1e-5.
"""
import sys

import numpy as np

import fixtures_common as fc

TEXT = (
    "The old library opened at 9:30 every morning, and by 9:45 the reading room "
    "was half full: 48 chairs, 17 still empty.\n"
    "\n"
    "def mean(xs):\n"
    "    return sum(xs) / len(xs) if xs else 0.0\n"
    "\n"
    "print(mean([3, 1, 4, 1, 5]))  # 2.8\n"
    "\n"
    "Light from the Moon reaches us in about 1.28 seconds. Café prices rose 12% "
    "last year, while bread stayed at €2.10."
)
TOP_K = 32


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fixtures_logits.py MODEL OUT.json")
    model, out = sys.argv[1], sys.argv[2]
    llm = fc.load(model, n_ctx=512, logits_all=True)
    tokens = llm.tokenize(TEXT.encode("utf-8"), add_bos=True, special=False)
    llm.reset()
    llm.eval(tokens)
    scores = np.array(llm.scores[: len(tokens), :], dtype=np.float32)
    positions = []
    for i, tok in enumerate(tokens):
        row = scores[i]
        order = np.lexsort((np.arange(row.size), -row))[:TOP_K]
        positions.append({
            "token": int(tok),
            "lse": fc.f5(fc.logsumexp(row)),
            "argmax": int(order[0]),
            "top": [[int(t), fc.f5(row[t])] for t in order],
        })
    fc.write_json({
        "kind": "logits",
        "oracle": fc.oracle_info(),
        "model": fc.model_info(model, llm),
        "settings": {"n_ctx": 512, "n_batch": 512, "n_threads": 2, "add_special": True,
                     "parse_special": False, "top_k": TOP_K, "float_decimals": 5},
        "text": TEXT,
        "n_tokens": len(tokens),
        "tokens": [int(t) for t in tokens],
        "positions": positions,
    }, out)


if __name__ == "__main__":
    main()
