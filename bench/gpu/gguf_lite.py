#!/usr/bin/env python3
"""gguf_lite.py — the little of GGUF that the GPU bench needs, standard library only.

  gguf_lite.py vocab SRC DST   write DST: a GGUF v3 with no tensors holding SRC's
                               general.architecture and every tokenizer.* key (the
                               tokenizer source for `autoinfer synth --vocab-from`)
  gguf_lite.py bpt FILE        bytes read per decoded token, from the file's tensor sizes
  gguf_lite.py info FILE       architecture, tensor count, tensor bytes, bytes per token

Bytes per token: the sum of every tensor's size, less token_embd.weight when the
model has a separate output.weight (the embedding is then read one row a token;
tied, it is read whole as the output matrix). A tensor's size is the distance to
the next tensor's offset in the data section (the last one: to the end of the file),
so any tensor type is counted, padding (under the alignment, 32 bytes) included.
The KV cache the decode reads is not counted.
"""
import struct
import sys

# value types: struct format of the scalar ones
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9


class Reader:
    def __init__(self, buf):
        self.b = buf
        self.o = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)[0]
        self.o += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.b[self.o:self.o + n])
        if len(s) != n:
            raise ValueError("string runs past the end of the file")
        self.o += n
        return s.decode("utf-8", "replace")

    def skip_value(self, t):
        if t in _SCALAR:
            self.o += struct.calcsize(_SCALAR[t])
        elif t == STRING:
            n = self.take("<Q")
            self.o += n
        elif t == ARRAY:
            et = self.take("<I")
            n = self.take("<Q")
            if et in _SCALAR:
                self.o += n * struct.calcsize(_SCALAR[et])
            else:
                for _ in range(n):
                    self.skip_value(et)
        else:
            raise ValueError("unknown GGUF value type %d at offset %d" % (t, self.o))

    def value(self, t):
        if t in _SCALAR:
            return self.take(_SCALAR[t])
        if t == STRING:
            return self.string()
        start = self.o
        self.skip_value(t)   # arrays: not decoded, only skipped
        return ("array", start, self.o)


def parse(path, header_bytes=64 << 20):
    """Returns dict(version, kvs: {key: (type, value, raw bytes of the whole kv)},
    tensors: [dict(name, dims, type, offset, size)], data_offset, file_size)."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        file_size = fh.tell()
        fh.seek(0)
        buf = fh.read(min(file_size, header_bytes))
    r = Reader(buf)
    if bytes(buf[:4]) != b"GGUF":
        raise ValueError("%s: not a GGUF file (bad magic)" % path)
    r.o = 4
    version = r.take("<I")
    if version not in (2, 3):
        raise ValueError("%s: GGUF version %d not supported" % (path, version))
    n_tensors = r.take("<Q")
    n_kv = r.take("<Q")
    kvs = {}
    for _ in range(n_kv):
        start = r.o
        key = r.string()
        t = r.take("<I")
        v = r.value(t)
        kvs[key] = (t, v, bytes(buf[start:r.o]))
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.take("<I")
        dims = [r.take("<Q") for _ in range(nd)]
        tt = r.take("<I")
        off = r.take("<Q")
        tensors.append(dict(name=name, dims=dims, type=tt, offset=off, size=0))
    align = kvs.get("general.alignment", (4, 32, b""))[1]
    data_offset = (r.o + align - 1) // align * align
    by_off = sorted(tensors, key=lambda x: x["offset"])
    for i, t in enumerate(by_off):
        end = by_off[i + 1]["offset"] if i + 1 < len(by_off) else file_size - data_offset
        t["size"] = end - t["offset"]
    return dict(version=version, kvs=kvs, tensors=tensors, data_offset=data_offset,
                file_size=file_size)


def bytes_per_token(g):
    names = {t["name"]: t for t in g["tensors"]}
    total = sum(t["size"] for t in g["tensors"])
    if "output.weight" in names and "token_embd.weight" in names:
        total -= names["token_embd.weight"]["size"]
    return total


def vocab_only(src, dst):
    g = parse(src)
    keep = [k for k in g["kvs"] if k == "general.architecture" or k.startswith("tokenizer.")]
    if not any(k.startswith("tokenizer.ggml.tokens") for k in keep):
        raise ValueError("%s: no tokenizer.ggml.tokens" % src)
    name = "tokenizer of %s" % (g["kvs"].get("general.name", (0, src, b""))[1])
    nb = name.encode()
    name_kv = (struct.pack("<Q", 12) + b"general.name" + struct.pack("<I", STRING) +
               struct.pack("<Q", len(nb)) + nb)
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, 0, len(keep) + 1))
    out += name_kv
    for k in keep:
        out += g["kvs"][k][2]
    out += b"\0" * ((32 - len(out) % 32) % 32)
    with open(dst + ".tmp", "wb") as fh:
        fh.write(out)
    import os
    os.replace(dst + ".tmp", dst)
    return len(keep)


def main(argv):
    if len(argv) == 4 and argv[1] == "vocab":
        n = vocab_only(argv[2], argv[3])
        print("wrote %s: %d tokenizer keys, no tensors" % (argv[3], n))
    elif len(argv) == 3 and argv[1] == "bpt":
        print(bytes_per_token(parse(argv[2])))
    elif len(argv) == 3 and argv[1] == "info":
        g = parse(argv[2])
        print("arch=%s tensors=%d tensor_bytes=%d bytes_per_token=%d" % (
            g["kvs"].get("general.architecture", (0, "?", b""))[1], len(g["tensors"]),
            sum(t["size"] for t in g["tensors"]), bytes_per_token(g)))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
