#!/usr/bin/env python3
"""fixtures_tokenizer.py — reference fixtures for the tokenizer and chat-template tests.

The oracle is llama.cpp itself, through its Python bindings built from the
`llama-cpp-python` source distribution (see tools/ for how .oracle/venv is made),
and jinja2 rendering the models' real chat templates.

    .oracle/venv/bin/python tools/fixtures_tokenizer.py

writes, for the default model and for each optional model present in models/
(scripts/get-model.sh qwen2 / gemma3):
    tests/data/fixtures/NAME_tokens.json  (NAME = smollm2, qwen2, gemma3) token ids of the five benchmark prompts
        (harness/prompts.tsv), of every line of tests/data/tokenizer_corpus.txt, of
        multi-line chunks of it, of a few texts with special tokens and of byte
        strings that are not valid UTF-8 ("hex"); each with
        special=False ("ids") and special=True ("ids_special"), never with BOS.
    tests/data/tokenizer/ggml-vocab-NAME.mini.gguf (+ .inp/.out)  see write_mini_vocabs
    tests/data/fixtures/pre_tokenizers.json  see pre_fixtures
    tests/data/fixtures/chat_render.json     the rendered prompt (add_generation_prompt)
        for [system, user] and [user] with SmolLM2's own template (from the GGUF) and
        the templates in tests/data/chat-templates (TEMPLATE_FILES), and with the
        optional models' own templates when those models are present.

    .oracle/venv/bin/python tools/fixtures_tokenizer.py --vocab-only

writes only the small vocabularies (see write_mini_vocabs), which needs the gguf
package but not llama.cpp.
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


def vocab_test_texts():
    """The 46 strings of llama.cpp's llama-bpe test vectors."""
    with open(os.path.join(ROOT, "tests", "data", "tokenizer", "ggml-vocab-llama-bpe.gguf.inp"),
              encoding="utf-8") as f:
        parts = f.read().split("\n__ggml_vocab_test__\n")
    return [("vector", p) for p in parts[:-1]]


def token_fixtures(model, extra_texts=()):
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    texts = list(extra_texts)
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

    texts += [("bytes", b) for b in invalid_utf8_strings(40)]  # stored as hex

    cases = []
    for kind, text in texts:
        if kind == "bytes":
            cases.append({"kind": kind, "hex": text.hex(),
                          "ids": llm.tokenize(text, add_bos=False, special=False)})
            continue
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


MODELS = [  # name, file in models/, BOS text its template expects, family
    ("smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "<|im_start|>", "chatml"),
    ("qwen2", "Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf", "<|endoftext|>", "chatml"),
    ("gemma3", "gemma-3-270m-q4_k_m.gguf", "<bos>", "gemma"),
]


# templates in tests/data/chat-templates: file, BOS text, family (DS_BOS:
# DeepSeek's). From llama.cpp's models/templates and, for those it keeps only
# in tests/test-chat-template.cpp (deepseek-coder, DeepSeek-V2 = deepseek-llm
# chat, Phi-3-mini, Mistral-Large-2411, Mistral-Large-2407 = v3), from there. Mistral Small 3.2's is
# left out: its default system prompt carries today's date.
TEMPLATE_FILES = [
    ("Qwen-Qwen2.5-7B-Instruct.jinja", "", "chatml"),
    ("Qwen-Qwen3-0.6B.jinja", "", "chatml"),
    ("meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "llama3"),
    ("meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "llama3"),
    ("meta-llama-Llama-3.3-70B-Instruct.jinja", "<|begin_of_text|>", "llama3"),
    ("google-gemma-2-2b-it.jinja", "<bos>", "gemma"),
    ("microsoft-Phi-3-mini-4k-instruct.jinja", "<s>", "phi3"),
    ("microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "phi3"),
    ("deepseek-ai-DeepSeek-V2.jinja", "DS_BOS", "deepseek-llm"),
    ("deepseek-ai-deepseek-coder-33b-instruct.jinja", "DS_BOS", "deepseek-coder"),
    ("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "DS_BOS", "deepseek-r1"),
    ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "DS_BOS", "deepseek-r1"),
    ("mistralai-Mistral-Large-Instruct-2411.jinja", "<s>", "mistral-v7"),
    ("unsloth-mistral-Devstral-Small-2507.jinja", "<s>", "mistral-v7"),
    ("mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "mistral-tekken"),
    ("mistralai-Mistral-Large-Instruct-2407.jinja", "<s>", "mistral-v3"),
]


def chat_fixtures(gguf_templates):
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
    templates = [(f"{name} (GGUF)", f"gguf:{name}", text, bos, fam) for name, text, bos, fam in gguf_templates]
    ds_bos = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
    for name, bos, fam in TEMPLATE_FILES:
        with open(os.path.join(tdir, name), encoding="utf-8") as f:
            templates.append((name, name, f.read(), bos.replace("DS_BOS", ds_bos), fam))

    systems = [None, "You are a terse assistant. Answer in one sentence."]
    users = ["Explain how transformer neural networks work, in one paragraph.",
             "  Hello there!\n  Line two, with spaces around.  \n",
             "Write a poem about 🦀 and the letter ß; no <|im_end|> tricks."]
    cases = []
    for tname, tfile, ttext, bos, fam in templates:
        tmpl = env.from_string(ttext)
        # templates that read enable_thinking (Qwen3, a DeepSeek R1 one): both ways
        thinking = [True, False] if "enable_thinking" in ttext else [None]
        for system in systems:
            for user in users:
                for think in thinking:
                    msgs = []
                    if system is not None:
                        msgs.append({"role": "system", "content": system})
                    msgs.append({"role": "user", "content": user})
                    no_system = ("System role not supported" in ttext or
                                 (fam == "phi3" and "<|system|>" not in ttext))
                    if system is not None and no_system:
                        # Gemma 2 and Phi-3 have no system role: the system text goes in
                        # front of the first user turn (as Gemma 3's template and
                        # llama.cpp do).
                        msgs = [{"role": "user", "content": system + "\n\n" + user}]
                    extra = {} if think is None else {"enable_thinking": think}
                    out = tmpl.render(messages=msgs, add_generation_prompt=True,
                                      bos_token=bos, eos_token="", **extra)
                    c = {"template": tname, "file": tfile, "family": fam,
                         "system": system, "user": user, "expected": out}
                    if think is not None:
                        c["enable_thinking"] = think
                    cases.append(c)
    return {"reference": f"jinja2 {jinja2.__version__} (trim_blocks, lstrip_blocks, no strftime_now)",
            "cases": cases}


def pre_names():
    """Every name in engine/tokenizer.c's PRE_DEFS table, in table order."""
    import re
    with open(os.path.join(ROOT, "engine", "tokenizer.c"), encoding="utf-8") as f:
        src = f.read()
    table = src[src.index("static const pre_def PRE_DEFS[]"):]
    table = table[:table.index("\n};")]
    return [n for m in re.finditer(r'^    \{"([^"]+)",', table, re.M) for n in m.group(1).split("|")]


def invalid_utf8_strings(count):
    """Byte strings that are not valid UTF-8 (mostly printable ASCII, some
    stray high bytes): how broken input is handled must match too."""
    out, state = [], 2024
    for i in range(count):
        n = 1 + (i * 7) % 60
        bs = bytearray()
        for _ in range(n):
            state = (state * 1103515245 + 12345) % 2**31
            r = state >> 23
            bs.append(0x20 + r % 95 if r < 64 else 0x20 if r < 80 else r)
        out.append(bytes(bs))
    return out


def pre_fixtures(path_out):
    """Every pre-tokenizer name of the table on the gpt-2 vocabulary re-labelled
    with it, tokenized by llama.cpp: the llama-bpe vector strings, every third
    line of the corpus and 20 invalid byte strings. A name whose ids equal an
    earlier name's on every text is stored as "same_as" that name."""
    import subprocess
    import tempfile
    import llama_cpp

    texts = [t.encode("utf-8") for _, t in vocab_test_texts()]
    with open(os.path.join(ROOT, "tests", "data", "tokenizer_corpus.txt"), encoding="utf-8") as f:
        texts += [l.encode("utf-8") for i, l in enumerate(f.read().split("\n")) if i % 3 == 0 and l]
    texts += invalid_utf8_strings(20)
    gpt2 = os.path.join(ROOT, "tests", "data", "tokenizer", "ggml-vocab-gpt-2.gguf")
    newmeta = os.path.join(os.path.dirname(sys.executable), "gguf-new-metadata")
    pres, first = {}, {}
    with tempfile.TemporaryDirectory() as td:
        for pre in pre_names():
            path = os.path.join(td, "vocab.gguf")
            subprocess.run([newmeta, "--force", "--pre-tokenizer", pre, gpt2, path], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
            ids = [llm.tokenize(t, add_bos=False, special=False) for t in texts]
            del llm
            key = json.dumps(ids)
            pres[pre] = {"same_as": first[key]} if key in first else {"ids": ids}
            first.setdefault(key, pre)
    with open(path_out, "w", encoding="utf-8") as f:
        f.write('{"reference": %s,\n"notes": %s,\n"texts_hex": [\n' % (
            json.dumps(f"llama.cpp via llama-cpp-python {llama_cpp.__version__}"),
            json.dumps("ggml-vocab-gpt-2.gguf re-labelled with each tokenizer.ggml.pre; "
                       "ids: tokenize(text, add_bos=False, special=False) per text")))
        f.write(",\n".join(json.dumps(t.hex()) for t in texts))
        f.write('],\n"pre": {\n')
        f.write(",\n".join("%s: %s" % (json.dumps(k), json.dumps(v, separators=(",", ":")))
                            for k, v in pres.items()))
        f.write("\n}}\n")
    return len(pres) * len(texts)


# ---- small copies of llama.cpp's test vocabularies ----------------------------

LLAMA_MODELS = os.path.join(ROOT, ".oracle", "src", "llama_cpp_python-0.3.36", "vendor", "llama.cpp", "models")
TOKDIR = os.path.join(ROOT, "tests", "data", "tokenizer")
VOCAB_SEP = "\n__ggml_vocab_test__\n"
TT_NORMAL, TT_UNUSED = 1, 5
GGUF_U32, GGUF_I32, GGUF_STR, GGUF_ARR = 4, 5, 8, 9


def gpt2_unicode_to_byte():
    """The inverse of GPT-2's byte-to-unicode table."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def write_gguf(path, kvs):
    """A GGUF v3 with metadata only: kvs is a list of (key, type, value); arrays
    are (key, GGUF_ARR, (elem_type, values))."""
    import struct

    def s(b):
        return struct.pack("<Q", len(b)) + b

    def val(ty, v):
        if ty == GGUF_STR:
            return s(v)
        if ty == GGUF_ARR:
            et, vals = v
            return struct.pack("<IQ", et, len(vals)) + b"".join(val(et, x) for x in vals)
        fmt = {0: "<B", 1: "<b", 2: "<H", 3: "<h", GGUF_U32: "<I", GGUF_I32: "<i", 6: "<f", 7: "<?",
               10: "<Q", 11: "<q", 12: "<d"}[ty]
        return struct.pack(fmt, v)

    out = [b"GGUF", struct.pack("<IQQ", 3, 0, len(kvs))]
    for key, ty, v in kvs:
        out += [s(key.encode()), struct.pack("<I", ty), val(ty, v)]
    with open(path, "wb") as f:
        f.write(b"".join(out))


def mini_vocab(src, dst):
    """Writes dst: the vocabulary of src cut down to what its .inp texts can
    touch, with the same tokenization of those texts.

    Every symbol that BPE or SPM ever forms while encoding a text is a substring
    of that text (SPM: of the text with spaces as U+2581 and one in front), and
    a merge only applies to two adjacent symbols; so the normal tokens and the
    merges whose bytes are not a substring of any test text can never be used,
    and dropping them (keeping the order of the rest, hence the relative merge
    ranks and which of two equal texts wins) changes no encoding. Control,
    user-defined, unknown and byte tokens are all kept. The ids shrink: the
    kept tokens' original ids are stored in autoinfer.test.original_ids so the
    test can compare with the unchanged .out file."""
    import gguf

    r = gguf.GGUFReader(src)
    f = r.fields
    model = bytes(f["tokenizer.ggml.model"].parts[-1]).decode()
    with open(src + ".inp", "rb") as fh:
        cases = fh.read().decode("utf-8").split(VOCAB_SEP)[:-1]
    text = "\x00".join(" " + c for c in cases).encode("utf-8")
    toks = [bytes(f["tokenizer.ggml.tokens"].parts[i]) for i in f["tokenizer.ggml.tokens"].data]
    types = (list(f["tokenizer.ggml.token_type"].contents()) if "tokenizer.ggml.token_type" in f
             else [TT_NORMAL] * len(toks))
    u2b = gpt2_unicode_to_byte()

    def as_bytes(t):
        s = t.decode("utf-8", errors="replace")
        if model == "llama":
            return s.replace("\u2581", " ").encode("utf-8")
        return b"".join(bytes([u2b[ch]]) if ch in u2b else ch.encode("utf-8") for ch in s)

    id_keys = [k for k in f if k.startswith("tokenizer.ggml.") and k.endswith("_token_id")]
    wanted = {int(f[k].contents()) for k in id_keys}
    keep = [i for i, t in enumerate(toks)
            if (types[i] != TT_NORMAL and types[i] != TT_UNUSED) or i in wanted or as_bytes(t) in text]
    new_id = {old: new for new, old in enumerate(keep)}
    kvs = [("general.architecture", GGUF_STR, b"llama"),
           ("tokenizer.ggml.model", GGUF_STR, model.encode())]
    if "tokenizer.ggml.pre" in f:
        kvs.append(("tokenizer.ggml.pre", GGUF_STR, bytes(f["tokenizer.ggml.pre"].parts[-1])))
    kvs.append(("tokenizer.ggml.tokens", GGUF_ARR, (GGUF_STR, [toks[i] for i in keep])))
    kvs.append(("tokenizer.ggml.token_type", GGUF_ARR, (GGUF_I32, [int(types[i]) for i in keep])))
    if "tokenizer.ggml.scores" in f:
        scores = f["tokenizer.ggml.scores"].contents()
        kvs.append(("tokenizer.ggml.scores", GGUF_ARR, (6, [float(scores[i]) for i in keep])))
    if "tokenizer.ggml.merges" in f:
        merges = [bytes(f["tokenizer.ggml.merges"].parts[i]) for i in f["tokenizer.ggml.merges"].data]
        kept = [m for m in merges if as_bytes(m.replace(b" ", b"", 1)) in text]
        kvs.append(("tokenizer.ggml.merges", GGUF_ARR, (GGUF_STR, kept)))
    for k in id_keys:
        old = int(f[k].contents())
        kvs.append((k, GGUF_U32, new_id[old]))
    for k in ("tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix"):
        if k in f:
            kvs.append((k, 7, bool(f[k].contents())))
    kvs.append(("autoinfer.test.original_ids", GGUF_ARR, (GGUF_I32, keep)))
    write_gguf(dst, kvs)
    return len(keep), len(toks)


def write_mini_vocabs():
    """For every ggml-vocab-NAME.gguf of llama.cpp's models/ folder that has
    test vectors: copies NAME.gguf.inp/.out into tests/data/tokenizer and, for
    the tokenizer kinds autoinfer supports (gpt2, llama), writes the small
    ggml-vocab-NAME.mini.gguf. Returns the names and the kinds left out."""
    import glob
    import shutil

    done, skipped = [], []
    for src in sorted(glob.glob(os.path.join(LLAMA_MODELS, "ggml-vocab-*.gguf"))):
        if not os.path.exists(src + ".inp"):
            continue
        base = os.path.basename(src)
        for ext in (".inp", ".out"):
            shutil.copyfile(src + ext, os.path.join(TOKDIR, base + ext))
        import gguf
        model = bytes(gguf.GGUFReader(src).fields["tokenizer.ggml.model"].parts[-1]).decode()
        if model not in ("gpt2", "llama"):
            skipped.append((base, model))
            continue
        dst = os.path.join(TOKDIR, base[:-len(".gguf")] + ".mini.gguf")
        kept, total = mini_vocab(src, dst)
        print(f"{os.path.relpath(dst, ROOT)}: {kept} of {total} tokens, {os.path.getsize(dst)} bytes")
        done.append(base)
    for base, model in skipped:
        print(f"{base}: tokenizer.ggml.model = {model} is not supported; vectors copied, no vocabulary")
    return done


def model_template(path):
    """tokenizer.chat_template of a GGUF, read by llama.cpp."""
    import llama_cpp
    return llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False).metadata.get("tokenizer.chat_template")


def write_chat_fixtures(gguf_templates):
    chat = chat_fixtures([t for t in gguf_templates if t[1]])
    with open(os.path.join(FIX, "chat_render.json"), "w", encoding="utf-8") as f:
        json.dump(chat, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(chat['cases'])} chat cases written to {FIX}/chat_render.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=os.path.join(ROOT, "models"), help="folder with the GGUFs")
    ap.add_argument("--vocab-only", action="store_true", help="only the small test vocabularies")
    ap.add_argument("--pre-only", action="store_true", help="only the pre-tokenizer fixture")
    ap.add_argument("--chat-only", action="store_true", help="only the chat-template fixture")
    a = ap.parse_args()
    os.makedirs(FIX, exist_ok=True)
    if a.chat_only:
        write_chat_fixtures([(name, model_template(os.path.join(a.models, file)), bos, fam)
                             for name, file, bos, fam in MODELS if os.path.exists(os.path.join(a.models, file))])
        return
    if not a.pre_only:
        write_mini_vocabs()
    if a.vocab_only:
        return
    n = pre_fixtures(os.path.join(FIX, "pre_tokenizers.json"))
    print(f"{n} pre-tokenizer cases written to {FIX}/pre_tokenizers.json")
    if a.pre_only:
        return
    gguf_templates = []
    n_tok = 0
    for name, file, bos, fam in MODELS:
        path = os.path.join(a.models, file)
        if not os.path.exists(path):
            if name == "smollm2":
                sys.exit(f"{path} is missing: run 'make model' first")
            print(f"{path} not present: no {name} fixtures (scripts/get-model.sh {name} fetches it)")
            continue
        tok, tmpl = token_fixtures(path)
        if tmpl:
            gguf_templates.append((name, tmpl, bos, fam))
        else:
            print(f"{path}: no tokenizer.chat_template (no chat fixture from it)")
        with open(os.path.join(FIX, f"{name}_tokens.json"), "w", encoding="utf-8") as f:
            # one case per line keeps diffs readable
            f.write('{"model": %s, "reference": %s, "notes": %s, "cases": [\n' % (
                json.dumps(tok["model"]), json.dumps(tok["reference"]), json.dumps(tok["notes"])))
            f.write(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in tok["cases"]))
            f.write("\n]}\n")
        n_tok += len(tok["cases"])
    # Three pre-tokenizers on the gpt-2 vocabulary re-labelled with their name,
    # with the full set of texts (pre_fixtures covers every name, with fewer).
    import subprocess
    import tempfile
    gpt2 = os.path.join(ROOT, "tests", "data", "tokenizer", "ggml-vocab-gpt-2.gguf")
    newmeta = os.path.join(os.path.dirname(sys.executable), "gguf-new-metadata")
    with tempfile.TemporaryDirectory() as td:
        for pre in ["llama-bpe", "qwen2", "default"]:
            path = os.path.join(td, f"gpt2-as-{pre}.gguf")
            subprocess.run([newmeta, "--force", "--pre-tokenizer", pre, gpt2, path], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tok, _ = token_fixtures(path, vocab_test_texts())
            tok["model"] = f"ggml-vocab-gpt-2.gguf with tokenizer.ggml.pre = {pre}"
            name = "gpt2_as_" + pre.replace("-", "_")
            with open(os.path.join(FIX, f"{name}_tokens.json"), "w", encoding="utf-8") as f:
                f.write('{"model": %s, "reference": %s, "notes": %s, "cases": [\n' % (
                    json.dumps(tok["model"]), json.dumps(tok["reference"]), json.dumps(tok["notes"])))
                f.write(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in tok["cases"]))
                f.write("\n]}\n")
            n_tok += len(tok["cases"])
    write_chat_fixtures(gguf_templates)
    print(f"{n_tok} tokenizer cases written to {FIX}")


if __name__ == "__main__":
    main()
