#!/usr/bin/env python3
"""fixtures_tokenizer.py — reference fixtures for the tokenizer and chat-template tests.

The oracle is llama.cpp itself, through its Python bindings built from the
`llama-cpp-python` source distribution (see tools/ for how .oracle/venv is made),
and jinja2 rendering the models' real chat templates.

    .oracle/venv/bin/python tools/fixtures_tokenizer.py [--model models/SmolLM2-135M-Instruct.Q4_1.gguf]

writes
    tests/data/fixtures/smollm2_tokens.json  token ids of the five benchmark prompts
        (harness/prompts.tsv), of every line of tests/data/tokenizer_corpus.txt, of
        multi-line chunks of it and of a few texts with special tokens; each with
        special=False ("ids") and special=True ("ids_special"), never with BOS.
    tests/data/fixtures/chat_render.json     the rendered prompt (add_generation_prompt)
        for [system, user] and [user] with SmolLM2's own template (from the GGUF) and
        the templates in tests/data/chat-templates.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "data", "fixtures")

SPECIAL_TEXTS = [
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>text after end<|endoftext|>",
    "<|im_start|><|im_end|><|im_start|>",
    "a<|im_start|>b<|im_end|>c <file_sep> <repo_name>x",
    "<|im_start|user> not special <|im_end",
]


def token_fixtures(model):
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    texts = []
    with open(os.path.join(ROOT, "harness", "prompts.tsv"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                texts.append(("prompt", line.split("\t")[1]))
    with open(os.path.join(ROOT, "tests", "data", "tokenizer_corpus.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    texts += [("corpus", l) for l in lines]
    for i in range(0, len(lines), 16):
        texts.append(("chunk", "\n".join(lines[i:i + 16]) + "\n"))
    texts += [("special", s) for s in SPECIAL_TEXTS]

    cases = []
    for kind, text in texts:
        b = text.encode("utf-8")
        ids = llm.tokenize(b, add_bos=False, special=False)
        ids_sp = llm.tokenize(b, add_bos=False, special=True)
        # the reference must round-trip too, or the case says nothing
        back = llm.detokenize(ids).decode("utf-8", errors="replace")
        if back != text:
            print(f"warning: reference does not round-trip: {text!r}", file=sys.stderr)
        c = {"kind": kind, "text": text, "ids": ids}
        if ids_sp != ids:
            c["ids_special"] = ids_sp
        cases.append(c)
    return {
        "model": os.path.basename(model),
        "reference": f"llama.cpp via llama-cpp-python {llama_cpp.__version__}",
        "notes": "ids: tokenize(text, add_bos=False, special=False); ids_special: special=True "
                 "(present only where it differs)",
        "cases": cases,
    }, llm.metadata.get("tokenizer.chat_template")


def chat_fixtures(smollm2_template):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    # As transformers' apply_chat_template sets it up, minus strftime_now: Llama 3.x
    # then falls back to its fixed date string, so the reference is reproducible.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, ensure_ascii=False, separators=None, sort_keys=False: \
        json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = raise_exception

    tdir = os.path.join(ROOT, "tests", "data", "chat-templates")
    templates = [("smollm2 (GGUF)", None, smollm2_template, "<|im_start|>", "chatml")]
    for name, bos, fam in [("Qwen-Qwen2.5-7B-Instruct.jinja", "", "chatml"),
                           ("meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "llama3"),
                           ("google-gemma-2-2b-it.jinja", "<bos>", "gemma")]:
        with open(os.path.join(tdir, name), encoding="utf-8") as f:
            templates.append((name, name, f.read(), bos, fam))

    systems = [None, "You are a terse assistant. Answer in one sentence."]
    users = ["Explain how transformer neural networks work, in one paragraph.",
             "  Hello there!\n  Line two, with spaces around.  \n",
             "Write a poem about 🦀 and the letter ß; no <|im_end|> tricks."]
    cases = []
    for tname, tfile, ttext, bos, fam in templates:
        tmpl = env.from_string(ttext)
        for system in systems:
            for user in users:
                msgs = []
                if system is not None:
                    msgs.append({"role": "system", "content": system})
                msgs.append({"role": "user", "content": user})
                if fam == "gemma" and system is not None:
                    # Gemma has no system role: the system text goes in front of the
                    # first user turn (as Gemma 3's template and llama.cpp do).
                    msgs = [{"role": "user", "content": system + "\n\n" + user}]
                out = tmpl.render(messages=msgs, add_generation_prompt=True,
                                  bos_token=bos, eos_token="")
                cases.append({"template": tname, "file": tfile, "family": fam,
                              "system": system, "user": user, "expected": out})
    return {"reference": f"jinja2 {jinja2.__version__} (trim_blocks, lstrip_blocks, no strftime_now)",
            "cases": cases}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    a = ap.parse_args()
    os.makedirs(FIX, exist_ok=True)
    tok, tmpl = token_fixtures(a.model)
    if not tmpl:
        sys.exit(f"{a.model}: no tokenizer.chat_template")
    with open(os.path.join(FIX, "smollm2_tokens.json"), "w", encoding="utf-8") as f:
        # one case per line keeps diffs readable
        f.write('{"model": %s, "reference": %s, "notes": %s, "cases": [\n' % (
            json.dumps(tok["model"]), json.dumps(tok["reference"]), json.dumps(tok["notes"])))
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in tok["cases"]))
        f.write("\n]}\n")
    chat = chat_fixtures(tmpl)
    with open(os.path.join(FIX, "chat_render.json"), "w", encoding="utf-8") as f:
        json.dump(chat, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(tok['cases'])} tokenizer cases, {len(chat['cases'])} chat cases written to {FIX}")


if __name__ == "__main__":
    main()
