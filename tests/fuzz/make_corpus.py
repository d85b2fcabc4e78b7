#!/usr/bin/env python3
"""Writes the seed corpus of the GGUF fuzzer (tests/fuzz/corpus/): small
valid files of every value type and tensor layout, a tiny llama-shaped model,
and near-valid files that stop at each of the reader's checks.

    python3 tests/fuzz/make_corpus.py   # rewrites tests/fuzz/corpus/
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
       F32: "<f", BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}
# ggml type id -> (block, bytes per block)
DT = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
      8: (32, 34), 12: (256, 144), 13: (256, 176), 14: (256, 210), 30: (1, 2)}


def s(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<Q", len(b)) + b


def val(t, v):
    if t == STR:
        return s(v)
    if t == ARR:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        return out + b"".join(val(et, i) for i in items)
    return struct.pack(FMT[t], v)


def gguf(kvs, tensors, version=3, align=32, n_kv=None, n_t=None):
    """kvs: [(key, type, value)]; tensors: [(name, ne, type)] laid out in order."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_t is None else n_t,
                                len(kvs) if n_kv is None else n_kv)
    for k, t, v in kvs:
        out += s(k) + struct.pack("<I", t) + val(t, v)
    off, blobs = 0, []
    for name, ne, ty in tensors:
        out += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", ty, off)
        nel = 1
        for n in ne:
            nel *= n
        blk, bpb = DT[ty]
        size = nel // blk * bpb
        blobs.append(bytes((i * 7 + len(name)) & 0xFF for i in range(size)))
        off += (size + align - 1) // align * align
    out += b"\0" * (-len(out) % align)
    for i, b in enumerate(blobs):
        out += b
        if i + 1 < len(blobs):
            out += b"\0" * (-len(b) % align)
    return out


ALL = [("t.u8", U8, 200), ("t.i8", I8, -5), ("t.u16", U16, 60000), ("t.i16", I16, -300),
       ("t.u32", U32, 4000000000), ("t.i32", I32, -2000000000), ("t.f32", F32, 1.5),
       ("t.bool", BOOL, True), ("t.str", STR, "hello"), ("t.u64", U64, 1 << 40),
       ("t.i64", I64, -(1 << 40)), ("t.f64", F64, 2.25),
       ("t.arr_i32", ARR, (I32, [1, -2, 3])), ("t.arr_str", ARR, (STR, ["a", "bc", ""])),
       ("t.arr_f32", ARR, (F32, [0.5, -1.0])), ("t.arr_bool", ARR, (BOOL, [False, True])),
       ("t.arr_u8", ARR, (U8, [1, 2, 3])), ("t.arr_u64", ARR, (U64, [7])),
       ("t.arr_empty", ARR, (I16, []))]
TWO = [("a.f32", [4, 2], 0), ("a.q4_0", [32, 2], 2)]


def patch(data, at, b):
    return data[:at] + b + data[at + len(b):]


def llama_mini():
    toks = ["<unk>", "<s>", "</s>", "a", "b", "c", "ab", "bc", "Ġ", "Ġa", "<|im_start|>", "<|im_end|>"]
    kvs = [("general.architecture", STR, "llama"), ("general.name", STR, "mini"),
           ("general.file_type", U32, 2), ("llama.context_length", U32, 256),
           ("llama.embedding_length", U32, 32), ("llama.block_count", U32, 1),
           ("llama.feed_forward_length", U32, 64), ("llama.attention.head_count", U32, 2),
           ("llama.attention.head_count_kv", U32, 1), ("llama.rope.freq_base", F32, 10000.0),
           ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
           ("llama.rope.dimension_count", U32, 16), ("llama.vocab_size", U32, len(toks)),
           ("tokenizer.ggml.model", STR, "gpt2"), ("tokenizer.ggml.pre", STR, "smollm"),
           ("tokenizer.ggml.tokens", ARR, (STR, toks)),
           ("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3] + [1] * 7 + [3, 3])),
           ("tokenizer.ggml.merges", ARR, (STR, ["a b", "b c", "Ġ a"])),
           ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
           ("tokenizer.chat_template", STR,
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
            "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}")]
    ts = [("token_embd.weight", [32, 12], 2), ("output_norm.weight", [32], 0),
          ("blk.0.attn_norm.weight", [32], 0), ("blk.0.attn_q.weight", [32, 32], 8),
          ("blk.0.attn_k.weight", [32, 16], 3), ("blk.0.attn_v.weight", [32, 16], 6),
          ("blk.0.attn_output.weight", [32, 32], 7), ("blk.0.ffn_gate.weight", [256, 1], 12),
          ("blk.0.ffn_up.weight", [256, 1], 13), ("blk.0.ffn_down.weight", [256, 1], 14),
          ("blk.0.ffn_norm.weight", [32], 1), ("blk.0.extra.weight", [8, 2], 30)]
    return gguf(kvs, ts)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    files = {
        "v3_all_types.gguf": gguf(ALL, TWO),
        "v2_all_types.gguf": gguf(ALL, TWO, version=2),
        "align64.gguf": gguf([("general.alignment", U32, 64)] + ALL[:3], TWO, align=64),
        "align1.gguf": gguf([("general.alignment", U32, 1)], TWO, align=1),
        "no_tensors.gguf": gguf(ALL[:9], []),
        "empty.gguf": gguf([], []),
        "one_tensor_4d.gguf": gguf([], [("x", [32, 1, 2, 1], 8)]),
        "llama_mini.gguf": llama_mini(),
        # near-valid: each stops at one check
        "bad_version1.gguf": gguf(ALL[:2], [], version=1),
        "bad_nkv.gguf": gguf(ALL[:2], [], n_kv=1 << 40),
        "bad_ntensors.gguf": gguf([], TWO, n_t=3),
        "bad_nested.gguf": gguf([("n", ARR, (ARR, []))], []),
        "bad_bool.gguf": b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + s("b") + struct.pack("<IB", BOOL, 2),
        "bad_align.gguf": gguf([("general.alignment", U32, 48)], TWO),
        "bad_dup.gguf": gguf([("k", U8, 1), ("k", U8, 2)], []),
        "bad_dtype.gguf": patch(gguf([], [("x", [32], 2)]), 45, struct.pack("<I", 99)),
        "truncated.gguf": gguf(ALL, TWO)[:-40],
    }
    total = 0
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
        total += len(data)
    print(f"{len(files)} files, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
