#!/usr/bin/env python3
"""bench.py — autoinfer vs llama.cpp, side by side, interleaved.

Driven by bench/run.sh (which builds both engines and prepares the models).
For every cell (model x threads) and kind (decode: 128 tokens after a short
prompt; prefill: 512 tokens) it runs the two engines alternately, one process
per sample, in ABBA order (A B B A A B ...) so that drift in the machine's load
hits both alike. Between cells it measures the streaming read bandwidth
(`autoinfer bench --bandwidth`, 1 GiB buffer) at each thread count, so the
roofline uses the same window.

Reported per cell: median tok/s of each engine with a 95 % bootstrap CI, the
ratio of medians (autoinfer / llama.cpp) with its bootstrap CI, and for decode
the roofline %: tok/s x bytes read per token / bandwidth, against the
bandwidth measured right after each decode round (the median over the
rounds: a co-tenant that takes memory bandwidth for part of a cell lowers
both), against the median and against the best bandwidth of the window
(each bandwidth run keeps the best of its 5 passes, as STREAM reports its
best rate). At the end the
geometric means of the ratios (with a bootstrap CI over all cells jointly).

Memory (issue 6: "peak RSS <= model file + KV cache + 10 %"): every autoinfer
sample prints a `memory` line (its own VmHWM, the model file's size and the KV
cache it allocated); the "### memory" table gives, per cell and kind, the
median peak RSS, the bound 1.10 x (file + KV) and the ratio peak / (file + KV),
and beside it llama-bench's peak RSS (ru_maxrss of the child from wait4).
A figure with a pass/fail column, not a test: the bench never stops on it.

Python standard library only.
"""
import argparse
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MODELS = [
    ("SmolLM2-135M", "Q4_1 (shipped)", "smollm2-q4_1.gguf"),
    ("SmolLM2-135M", "Q4_0", "smollm2-q4_0.gguf"),
    ("SmolLM2-135M", "Q8_0", "smollm2-q8_0.gguf"),
    ("SmolLM2-135M", "Q4_K_M", "smollm2-q4_k_m.gguf"),
    ("Qwen2.5-Coder-0.5B", "Q4_K_M (shipped)", "qwen05-q4_k_m.gguf"),
    ("Qwen2.5-Coder-0.5B", "Q4_0", "qwen05-q4_0.gguf"),
    ("Qwen2.5-Coder-0.5B", "Q8_0", "qwen05-q8_0.gguf"),
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, env=None, timeout=900):
    """Runs cmd; returns (stdout, peak RSS of the child in bytes from wait4's
    ru_maxrss, or None where wait4 is missing)."""
    if not hasattr(os, "wait4"):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr[-2000:]))
        return r.stdout, None
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True, env=env)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)   # reaps it: wait4 is what gives its rusage
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), err[-2000:]))
    return out, ru.ru_maxrss * 1024


class Bench:
    def __init__(self, a):
        self.a = a
        self.env = dict(os.environ)
        self.env["LD_LIBRARY_PATH"] = a.llama_dir + (":" + self.env["LD_LIBRARY_PATH"] if self.env.get("LD_LIBRARY_PATH") else "")
        self.bw = {}      # threads -> [GB/s]
        self.bpt = {}     # model file -> bytes per token (autoinfer's count)
        self.mem = []     # memory lines of autoinfer's samples, as dicts
        self.their_rss = []  # (model, threads, kind, bytes) of llama-bench runs

    def ours(self, model, threads, kind):
        n_dec = self.a.decode if kind == "decode" else 0
        n_pre = self.a.prefill if kind == "prefill" else 0
        cmd = [self.a.autoinfer, "bench", "-m", model, "-t", str(threads), "--decode", str(n_dec),
               "--prefill", str(n_pre), "--reps", "1", "--set", "ctx=%d" % max(1024, n_pre + 64)]
        for s in self.a.set:
            cmd += ["--set", s]
        out, rss = run(cmd)
        m = re.search(r"bytes_per_token=(\d+)", out)
        if m:
            self.bpt[model] = int(m.group(1))
        m = re.search(r"^memory (.*)$", out, re.M)
        if m:
            d = {k: (float(v) if re.fullmatch(r"-?[0-9.]+", v) else v)
                 for k, v in re.findall(r"(\w+)=(\S+)", m.group(1))}
            d.update(model=model, threads=threads, kind=kind, child_maxrss_bytes=rss)
            self.mem.append(d)
        return float(re.search(r"sample kind=%s .*tps=([0-9.]+)" % kind, out).group(1))

    def theirs(self, model, threads, kind):
        n_dec = self.a.decode if kind == "decode" else 0
        n_pre = self.a.prefill if kind == "prefill" else 0
        cmd = [os.path.join(self.a.llama_dir, "llama-bench"), "-m", model, "-t", str(threads),
               "-p", str(n_pre), "-n", str(n_dec), "-r", "1", "-o", "json"]
        out, rss = run(cmd, env=self.env)
        if rss is not None:
            self.their_rss.append((model, threads, kind, rss))
        j = json.loads(out)
        return float(j[0]["samples_ts"][0])

    def bandwidth(self, threads):
        out, _ = run([self.a.autoinfer, "bench", "--bandwidth", "-t", str(threads), "--reps", "5",
                   "--mib", "1024"])
        v = [float(x) for x in re.findall(r"gbps=([0-9.]+)", out)]
        # best of the passes, as STREAM reports its best rate
        self.bw.setdefault(threads, []).append(max(v))
        return max(v)


def boot_median_ci(xs, rng, n=4000):
    if len(xs) < 2:
        return (xs[0], xs[0])
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(n))
    return meds[int(0.025 * n)], meds[int(0.975 * n) - 1]


def boot_ratio(a, b, rng, n=4000):
    rs = sorted(statistics.median(rng.choices(a, k=len(a))) / statistics.median(rng.choices(b, k=len(b)))
                for _ in range(n))
    return rs[int(0.025 * n)], rs[int(0.975 * n) - 1]


def boot_geomean(pairs, rng, n=2000):
    gs = []
    for _ in range(n):
        logs = [math.log(statistics.median(rng.choices(a, k=len(a))) /
                         statistics.median(rng.choices(b, k=len(b)))) for a, b in pairs]
        gs.append(math.exp(sum(logs) / len(logs)))
    gs.sort()
    return gs[int(0.025 * n)], gs[int(0.975 * n) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--autoinfer", default="build-speed/autoinfer")
    ap.add_argument("--llama-dir", default=".oracle/bin")
    ap.add_argument("--models-dir", default="models/bench")
    ap.add_argument("--only", default="", help="comma-separated substrings of model files to keep")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--kinds", default="decode,prefill")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--set", action="append", default=[], help="knob override for autoinfer (repeatable)")
    ap.add_argument("--json", default="", help="write every sample here")
    a = ap.parse_args()
    b = Bench(a)
    rng = random.Random(7)
    threads = [int(t) for t in a.threads.split(",")]
    kinds = a.kinds.split(",")
    models = [m for m in MODELS if not a.only or any(s in m[2] for s in a.only.split(","))]
    cells = []
    t_start = time.time()
    for t in threads:
        b.bandwidth(t)
    for name, quant, f in models:
        path = os.path.join(a.models_dir, f)
        for t in threads:
            b.bandwidth(t)
            for kind in kinds:
                ours, theirs, paired = [], [], []
                for r in range(a.reps):
                    order = (0, 1) if r % 2 == 0 else (1, 0)
                    for who in order:
                        if who == 0:
                            ours.append(b.ours(path, t, kind))
                        else:
                            theirs.append(b.theirs(path, t, kind))
                    if kind == "decode":  # the round's own bandwidth, right after its two samples
                        paired.append(b.bandwidth(t))
                log("%-20s %-17s %dT %-7s autoinfer %s | llama.cpp %s" % (
                    name, quant, t, kind, " ".join("%.1f" % x for x in ours),
                    " ".join("%.1f" % x for x in theirs)))
                cells.append(dict(model=name, quant=quant, file=f, threads=t, kind=kind,
                                  ours=ours, theirs=theirs, bw_paired=paired))
    for t in threads:
        b.bandwidth(t)
    elapsed = time.time() - t_start

    bwmed = {t: statistics.median(v) for t, v in b.bw.items()}
    bwbest = {t: max(v) for t, v in b.bw.items()}
    out = []
    out.append("autoinfer vs llama.cpp (llama-bench), interleaved ABBA, %d samples per engine and cell, "
               "one process per sample; tok/s median [95%% bootstrap CI]; ratio = autoinfer / llama.cpp. "
               "Decode: %d tokens after a short prompt; prefill: %d tokens. Wall time %.0f s." %
               (a.reps, a.decode, a.prefill, elapsed))
    out.append("Streaming read bandwidth (1 GiB, same window; each run the best of 5 passes; median of %s runs "
               "[lowest..highest]): %s" % (
        "/".join(str(len(b.bw[t])) for t in threads),
        ", ".join("%dT %.1f GB/s [%.1f..%.1f]" % (t, bwmed[t], min(b.bw[t]), max(b.bw[t])) for t in threads)))
    if a.set:
        out.append("autoinfer knobs: " + " ".join(a.set))
    out.append("")
    for kind in kinds:
        out.append("### %s" % kind)
        out.append("")
        hdr = "| model | quant | thr | autoinfer tok/s | llama.cpp tok/s | ratio |"
        sep = "|---|---|--:|---:|---:|---:|"
        if kind == "decode":
            hdr += (" MB/token | roofline % autoinfer (paired / median bw / best bw) |"
                    " roofline % llama.cpp (paired / median / best) |")
            sep += "---:|---:|---:|"
        out.append(hdr)
        out.append(sep)
        pairs = []
        for c in cells:
            if c["kind"] != kind:
                continue
            mo, mt = statistics.median(c["ours"]), statistics.median(c["theirs"])
            lo, hi = boot_median_ci(c["ours"], rng)
            tlo, thi = boot_median_ci(c["theirs"], rng)
            rlo, rhi = boot_ratio(c["ours"], c["theirs"], rng)
            c["ratio"] = mo / mt
            pairs.append((c["ours"], c["theirs"]))
            line = "| %s | %s | %d | %.1f [%.1f..%.1f] | %.1f [%.1f..%.1f] | **%.2f** [%.2f..%.2f] |" % (
                c["model"], c["quant"], c["threads"], mo, lo, hi, mt, tlo, thi, mo / mt, rlo, rhi)
            if kind == "decode":
                bpt = b.bpt.get(os.path.join(a.models_dir, c["file"]), 0)
                ceil = bwmed[c["threads"]] * 1e9 / bpt if bpt else float("nan")
                best = bwbest[c["threads"]] * 1e9 / bpt if bpt else float("nan")
                c["roofline_ours"], c["roofline_theirs"] = mo / ceil, mt / ceil
                c["roofline_best_ours"], c["roofline_best_theirs"] = mo / best, mt / best
                # each round against the bandwidth measured right after it (median over rounds)
                po = statistics.median(x * bpt / (w * 1e9) for x, w in zip(c["ours"], c["bw_paired"])) if bpt else float("nan")
                pt = statistics.median(x * bpt / (w * 1e9) for x, w in zip(c["theirs"], c["bw_paired"])) if bpt else float("nan")
                c["roofline_paired_ours"], c["roofline_paired_theirs"] = po, pt
                line += " %.1f | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f |" % (
                    bpt / 1e6, 100 * po, 100 * mo / ceil, 100 * mo / best, 100 * pt, 100 * mt / ceil, 100 * mt / best)
            out.append(line)
        if pairs:
            g = math.exp(sum(math.log(statistics.median(x) / statistics.median(y)) for x, y in pairs) / len(pairs))
            glo, ghi = boot_geomean(pairs, rng)
            worst = min(statistics.median(x) / statistics.median(y) for x, y in pairs)
            out.append("")
            out.append("%s: geometric mean of ratios **%.2f** [%.2f..%.2f] over %d cells; lowest cell %.2f" % (
                kind, g, glo, ghi, len(pairs), worst))
            out.append("")
    out += memory_table(b, models, threads, kinds, a.models_dir)
    text = "\n".join(out)
    print(text)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(dict(cells=cells, bandwidth=b.bw, bytes_per_token=b.bpt, elapsed_s=elapsed,
                           memory=b.mem, llama_rss=b.their_rss, args=vars(a)), fh, indent=1)


BOUND = 1.10   # issue 6: peak RSS <= (model file + KV cache) x 1.10


def memory_table(b, models, threads, kinds, models_dir):
    """The "### memory" section: per cell and kind, autoinfer's peak RSS against
    the bound, and llama-bench's peak RSS beside it."""
    if not b.mem:
        return []
    MB = 1e6
    out = ["### memory", "",
           "Peak RSS (VmHWM of the process: load, warm-up and the sample) against the bound "
           "%.2f x (model file + KV cache allocated: n_layer x 2 x ctx slots x row bytes of kv_type); "
           "ratio = median peak RSS / (file + KV); pass when every sample is within the bound. "
           "KV used = the rows the run wrote; ratio used = median peak RSS / (file + KV used), the "
           "stricter reading (allocated but unwritten cache pages are never resident). llama.cpp: ru_maxrss of the llama-bench process "
           "(its own KV cache: f16, context = prompt + generated tokens). MB = 10^6 bytes." % BOUND, "",
           "| model | quant | thr | kind | file MB | KV MB (slots, type) | KV used MB | autoinfer peak RSS MB "
           "median [min..max] | bound MB | ratio | pass | ratio used | llama.cpp peak RSS MB |",
           "|---|---|--:|---|---:|---:|---:|---:|---:|---:|:-:|---:|---:|"]
    fails = rows = 0
    for name, quant, f in models:
        path = os.path.join(models_dir, f)
        for t in threads:
            for kind in kinds:
                ms = [m for m in b.mem if m["model"] == path and m["threads"] == t and m["kind"] == kind]
                if not ms:
                    continue
                peaks = [m["peak_rss_bytes"] for m in ms]
                fb, kv, used = ms[0]["model_file_bytes"], ms[0]["kv_bytes"], ms[0]["kv_used_bytes"]
                bound = BOUND * (fb + kv)
                ok = all(m["peak_rss_bytes"] <= m["bound_bytes"] for m in ms)
                fails += not ok
                rows += 1
                theirs = [r for (mo, th, k, r) in b.their_rss if mo == path and th == t and k == kind]
                out.append("| %s | %s | %d | %s | %.1f | %.1f (%d, %s) | %.1f | %.1f [%.1f..%.1f] | %.1f | %.3f | %s | %.3f | %s |" % (
                    name, quant, t, kind, fb / MB, kv / MB, ms[0].get("kv_slots", 0),
                    ms[0].get("kv_type", "?"), used / MB, statistics.median(peaks) / MB, min(peaks) / MB,
                    max(peaks) / MB, bound / MB, statistics.median(peaks) / (fb + kv),
                    "pass" if ok else "**FAIL**", statistics.median(peaks) / (fb + used),
                    "%.1f" % (statistics.median(theirs) / MB) if theirs else "-"))
    out.append("")
    out.append("memory: %d of %d rows within %.2f x (file + KV)%s" % (
        rows - fails, rows, BOUND, "" if not fails else "; **%d over the bound**" % fails))
    out.append("")
    return out


if __name__ == "__main__":
    main()
