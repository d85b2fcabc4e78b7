#!/usr/bin/env python3
"""Reference greedy continuations of the five benchmark prompts, from llama.cpp.

    .oracle/venv/bin/python tools/fixtures_greedy.py MODEL OUT.json

For each prompt of harness/prompts.tsv (second column): the model's own
tokenizer.chat_template (when the model has one; a base model without one,
such as Gemma 3 270M, gets the prompt text as it is) is rendered with jinja2 (messages = one user turn,
add_generation_prompt = True, trim_blocks/lstrip_blocks as transformers does),
tokenized by llama.cpp with parse_special (BOS prepended only if the model's
add_bos_token asks for it and the template did not already put it there),
prefilled as one batch, then decoded one token at a time for exactly 64 steps
by argmax of the raw logits (temperature 0, no penalties; ties go to the lower
id). EOS/EOT is not a stop: the argmax is fed back like any other token, and
the index of the first end-of-generation token is recorded in eos_at (null if
none). Each step records the chosen token, its text piece, and margin =
logit(top1) - logit(top2), so a divergence can be attributed to a near-tie.
"""
import pathlib
import sys

import jinja2
import jinja2.sandbox
import numpy as np

import fixtures_common as fc
import llama_cpp

N_GEN = 64


def read_prompts():
    rows = []
    for line in (fc.ROOT / "harness" / "prompts.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, text = line.split("\t", 1)
            rows.append((name, text))
    return rows


def render(template, llm, prompt):
    def raise_exception(msg):
        raise jinja2.TemplateError(msg)
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    tpl = env.from_string(template)
    return tpl.render(messages=[{"role": "user", "content": prompt}],
                      add_generation_prompt=True,
                      bos_token=llm._model.token_get_text(llm.token_bos()),
                      eos_token=llm._model.token_get_text(llm.token_eos()))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fixtures_greedy.py MODEL OUT.json")
    model, out = sys.argv[1], sys.argv[2]
    llm = fc.load(model, n_ctx=512, logits_all=False)
    template = llm.metadata.get("tokenizer.chat_template") or None
    vocab = llm._model.vocab
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
    n_vocab = llm.n_vocab()
    cases = []
    for name, prompt in read_prompts():
        text = render(template, llm, prompt) if template else prompt
        toks = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if add_bos and (not toks or toks[0] != llm.token_bos()):
            toks = [llm.token_bos()] + toks
        llm.reset()
        llm.eval(toks)
        gen, eos_at = [], None
        for step in range(N_GEN):
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)).astype(np.float32)
            order = np.lexsort((np.arange(n_vocab), -logits))[:2]
            tok = int(order[0])
            piece = llm._model.token_to_piece(tok, special=True)
            gen.append({"token": tok,
                        "piece": piece.decode("utf-8", "backslashreplace"),
                        "logit": fc.f5(logits[order[0]]),
                        "margin": fc.f5(logits[order[0]] - logits[order[1]]),
                        "second": int(order[1])})
            if eos_at is None and llama_cpp.llama_vocab_is_eog(vocab, tok):
                eos_at = step
            llm.eval([tok])
        ids = [g["token"] for g in gen]
        stop = eos_at if eos_at is not None else N_GEN
        cases.append({
            "name": name,
            "prompt": prompt,
            "rendered": text,
            "prompt_tokens": [int(t) for t in toks],
            "generated": ids,
            "eos_at": eos_at,
            "text": llm.detokenize(ids[:stop]).decode("utf-8", "replace"),
            "steps": gen,
            "min_margin": min(g["margin"] for g in gen[:stop]) if stop else None,
        })
        print(f"{name}: {len(toks)} prompt tokens, eos_at={eos_at}, "
              f"min margin {cases[-1]['min_margin']}", file=sys.stderr)
    fc.write_json({
        "kind": "greedy",
        "oracle": fc.oracle_info(),
        "model": fc.model_info(model, llm),
        "settings": {"n_gen": N_GEN, "n_ctx": 512, "n_batch": 512, "n_threads": 2,
                     "sampling": "argmax of raw logits, ties to lower id",
                     "eos": "not a stop; first end-of-generation index in eos_at",
                     "template": ("jinja2 ImmutableSandboxedEnvironment(trim_blocks, lstrip_blocks)"
                                  if template else "none: the raw prompt"),
                     "parse_special": True, "add_bos": add_bos},
        "chat_template": template,
        "cases": cases,
    }, out)


if __name__ == "__main__":
    main()
