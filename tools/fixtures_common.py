"""Shared helpers for the llama.cpp fixture generators (tools/fixtures_*.py).

Run these with the oracle venv (tools/oracle/setup.sh builds it):
    .oracle/venv/bin/python tools/fixtures_logits.py MODEL OUT.json
llama.cpp is only the oracle here: nothing of it is copied into autoinfer.
"""
import hashlib
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SDIST_DIR = ROOT / ".oracle" / "src" / "llama_cpp_python-0.3.36"

import llama_cpp  # noqa: E402  (the oracle venv's llama-cpp-python)
import numpy as np  # noqa: E402


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def llama_cpp_commit():
    """The vendored llama.cpp commit (the sdist ships its git metadata)."""
    head = SDIST_DIR / ".git" / "modules" / "vendor" / "llama.cpp" / "HEAD"
    try:
        return head.read_text().strip()
    except OSError:
        return "unknown"


def oracle_info():
    return {
        "engine": "llama.cpp via llama-cpp-python",
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_commit": llama_cpp_commit(),
        "backend": "CPU (GGML_NATIVE=ON, Release)",
    }


def model_info(path, llm):
    meta = llm.metadata
    return {
        "file": os.path.basename(path),
        "bytes": os.path.getsize(path),
        "sha256": sha256_file(path),
        "architecture": meta.get("general.architecture"),
        "name": meta.get("general.name"),
        # `autoinfer synth` writes the command that made a synthetic model here
        "description": meta.get("general.description"),
        "n_vocab": llm.n_vocab(),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(llm._model.vocab)),
        "bos_id": llm.token_bos(),
        "eos_id": llm.token_eos(),
    }


def load(path, n_ctx=512, logits_all=True, n_batch=512):
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_batch=n_batch,
        n_ubatch=n_batch,
        n_threads=2,
        n_threads_batch=2,
        logits_all=logits_all,
        seed=0,
        verbose=False,
    )


def f5(x):
    """A float rounded to 5 decimals (enough for the tolerances the tests use)."""
    return round(float(x), 5)


def logsumexp(row):
    row = row.astype(np.float64)
    m = row.max()
    return float(m + np.log(np.exp(row - m).sum()))


def write_json(obj, out):
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    out.write_text(text + "\n", encoding="utf-8")
    print(f"{out}: {len(text) + 1} bytes", file=sys.stderr)
