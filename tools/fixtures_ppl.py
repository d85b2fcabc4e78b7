#!/usr/bin/env python3
"""Reference perplexity of a fixed text, computed the way llama-perplexity does it.

    .oracle/venv/bin/python tools/fixtures_ppl.py [--exact] MODEL TEXT OUT.json

Protocol (llama.cpp tools/perplexity, default mode), written into the fixture:
  * tokens = tokenize(whole text, add_special=True, parse_special=False): BOS
    first only if the model's add_bos_token says so;
  * n_chunk = len(tokens) // n_ctx (n_ctx = 512); chunk c is
    tokens[c*n_ctx : (c+1)*n_ctx], evaluated from an empty KV cache; when the
    model adds BOS, the chunk's first token is replaced by BOS for evaluation;
  * first = n_ctx/2; the logits at chunk positions j = first .. n_ctx-2 score
    the token at j+1: nll_j = logsumexp(logits_j) - logits_j[tokens[start+j+1]];
    that is n_ctx-1-first = 255 scored tokens per chunk;
  * ppl = exp(sum nll / count); stderr as llama-perplexity prints it.
The fixture stores every token id, each chunk's start and nll sum, each scored
token's nll and the reference's argmax (for top-1 agreement), and, when
.oracle/bin/llama-perplexity exists, what that binary itself reported.

--exact also stores llama-perplexity's figure for the same weights converted
to F32 by llama-quantize: every product then runs in float on the unrounded
activations, so it is the perplexity of these weights without the error of
llama.cpp's activation quantization (Q8_0 blocks of 32, Q8_K blocks of 256
for the K formats). A pipeline whose products round activations differently
is judged against that figure (docs/models.md, gemma3).
"""
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

import fixtures_common as fc
import llama_cpp

N_CTX = 512


def run_llama_perplexity(model, text_path):
    exe = fc.ROOT / ".oracle" / "bin" / "llama-perplexity"
    if not exe.exists():
        return None
    cmd = [str(exe), "-m", str(model), "-f", str(text_path), "-c", str(N_CTX),
           "-b", str(N_CTX), "-t", "2", "-fa", "off"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", r.stdout + r.stderr)
    return {"command": "llama-perplexity -m MODEL -f TEXT -c 512 -b 512 -t 2 -fa off",
            "ppl": float(m.group(1)) if m else None,
            "ppl_err": float(m.group(2)) if m else None}


def run_exact_products(model, text_path):
    exe = fc.ROOT / ".oracle" / "bin" / "llama-quantize"
    if not exe.exists():
        sys.exit(f"fixtures_ppl.py: --exact needs {exe} (tools/oracle/setup.sh builds it)")
    with tempfile.TemporaryDirectory() as tmp:
        f32 = os.path.join(tmp, "f32.gguf")
        subprocess.run([str(exe), "--allow-requantize", str(model), f32, "F32", "2"],
                       check=True, capture_output=True)
        r = run_llama_perplexity(f32, text_path)
    if not r or r["ppl"] is None:
        sys.exit("fixtures_ppl.py: llama-perplexity gave no figure for the F32 copy")
    r["command"] = "llama-quantize --allow-requantize MODEL F32.gguf F32 2; " + r["command"].replace(
        "MODEL", "F32.gguf")
    return r


def main():
    args = sys.argv[1:]
    exact = "--exact" in args
    if exact:
        args.remove("--exact")
    if len(args) != 3:
        sys.exit("usage: fixtures_ppl.py [--exact] MODEL TEXT OUT.json")
    model, text_path, out = args
    raw = open(text_path, "rb").read()
    llm = fc.load(model, n_ctx=N_CTX, logits_all=True, n_batch=N_CTX)
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(llm._model.vocab))
    tokens = llm.tokenize(raw, add_bos=True, special=False)
    n_chunk = len(tokens) // N_CTX
    if n_chunk < 2:
        sys.exit(f"{text_path}: only {len(tokens)} tokens, need at least {2 * N_CTX}")
    first = N_CTX // 2
    chunks, nlls, argmaxes = [], [], []
    nll_sum = nll2_sum = 0.0
    for c in range(n_chunk):
        start = c * N_CTX
        chunk = list(tokens[start:start + N_CTX])
        if add_bos:
            chunk[0] = llm.token_bos()
        llm.reset()
        llm.eval(chunk)
        c_sum = 0.0
        for j in range(first, N_CTX - 1):
            row = llm.scores[j, :].astype(np.float64)
            m = row.max()
            lse = m + math.log(np.exp(row - m).sum())
            nll = lse - row[tokens[start + j + 1]]
            c_sum += nll
            nll_sum += nll
            nll2_sum += nll * nll
            nlls.append(round(float(nll), 5))
            argmaxes.append(int(np.argmax(row)))
        chunks.append({"start": start, "nll_sum": round(c_sum, 6), "count": N_CTX - 1 - first,
                       "ppl": round(math.exp(c_sum / (N_CTX - 1 - first)), 6)})
        print(f"chunk {c + 1}/{n_chunk}: ppl so far {math.exp(nll_sum / len(nlls)):.4f}",
              file=sys.stderr)
    count = len(nlls)
    mean = nll_sum / count
    var = nll2_sum / count - mean * mean
    ppl = math.exp(mean)
    err = math.sqrt(var / (count - 1)) * ppl if var > 0 else None
    fixture = {
        "kind": "perplexity",
        "oracle": fc.oracle_info(),
        "model": fc.model_info(model, llm),
        "text_file": os.path.relpath(os.path.abspath(text_path), fc.ROOT),
        "text_sha256": fc.sha256_file(text_path),
        "protocol": {"n_ctx": N_CTX, "first": first, "scored_per_chunk": N_CTX - 1 - first,
                     "bos_replaces_first_token_of_chunk": add_bos,
                     "add_special": True, "parse_special": False,
                     "n_batch": N_CTX, "n_threads": 2},
        "n_tokens": len(tokens),
        "n_chunk": n_chunk,
        "count": count,
        "ppl": round(ppl, 6),
        "ppl_err": round(err, 6) if err else None,
        "mean_nll": round(mean, 8),
        "chunks": chunks,
        "tokens": [int(t) for t in tokens],
        "nll": nlls,
        "argmax": argmaxes,
        "llama_perplexity": run_llama_perplexity(model, text_path),
    }
    if exact:
        fixture["exact_products"] = run_exact_products(model, text_path)
    fc.write_json(fixture, out)
    print(f"PPL = {ppl:.4f} +/- {err:.5f} over {count} tokens", file=sys.stderr)


if __name__ == "__main__":
    main()
