#!/usr/bin/env python3
"""bench.py — autoinfer vs llama.cpp and ik_llama.cpp, side by side, interleaved.

Driven by bench/run.sh (which builds the engines and prepares the models).
Two references, each a llama-bench: llama.cpp (tools/oracle/setup.sh) at its
defaults, and ik_llama.cpp (tools/oracle/setup-ik.sh; skipped with --ik-dir '')
at its best settings: every ik sample is two processes, run-time repacking
off and on (-rtr 0 / -rtr 1), each measuring flash attention off and on
(-fa 0,1), and per cell the combination with the highest median is kept (the
table names it; picking the best of four medians favours ik_llama.cpp a
little, never autoinfer).
For every cell (model x threads) and kind (decode: 128 tokens after a short
prompt; prefill: 512 tokens) it runs the engines in turn, one process per
sample, in ABBA order (A B C C B A A B C ...) so that drift in the machine's
load hits all alike. Between cells it measures the streaming read bandwidth
(`autoinfer bench --bandwidth`, 1 GiB buffer) at each thread count, so the
roofline uses the same window.

Reported per cell: median tok/s of each engine with a 95 % bootstrap CI, the
ratios of medians (autoinfer / each reference, and autoinfer / the faster
reference of the cell) with bootstrap CIs, and for decode
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
and beside it each llama-bench's peak RSS (ru_maxrss of the child from wait4).
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


# The references: name, llama-bench's folder option, and the runs that make
# one sample: the extra flags of each process and a label per JSON entry.
LLAMA = "llama.cpp"
IK = "ik_llama.cpp"


class Bench:
    def __init__(self, a):
        self.a = a
        self.refs = [(LLAMA, a.llama_dir)] + ([(IK, a.ik_dir)] if a.ik_dir else [])
        self.bw = {}      # threads -> [GB/s]
        self.bpt = {}     # model file -> bytes per token (autoinfer's count)
        self.mem = []     # memory lines of autoinfer's samples, as dicts
        self.their_rss = []  # (reference, model, threads, kind, bytes) of llama-bench runs

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

    def theirs(self, ref, model, threads, kind):
        """One sample of reference ref: {settings label: tok/s}."""
        name, folder = ref
        n_dec = self.a.decode if kind == "decode" else 0
        n_pre = self.a.prefill if kind == "prefill" else 0
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = folder + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        base = [os.path.join(folder, "llama-bench"), "-m", model, "-t", str(threads),
                "-p", str(n_pre), "-n", str(n_dec), "-r", "1", "-o", "json"]
        # ik_llama.cpp takes one -rtr value per process and a list of -fa values
        runs = [["-rtr", r, "-fa", "0,1"] for r in ("0", "1")] if name == IK else [[]]
        got = {}
        for extra in runs:
            out, rss = run(base + extra, env=env)
            if rss is not None:
                self.their_rss.append((name, model, threads, kind, rss))
            # the JSON array from its first line on (a log line printed to stdout before it is skipped)
            m = re.search(r"^\[", out, re.M)
            if not m:
                raise RuntimeError("%s llama-bench printed no JSON: %s" % (name, out[-500:]))
            for e in json.loads(out[m.start():]):
                label = "default" if name != IK else "rtr %s, fa %d" % (extra[1], int(e["flash_attn"]))
                got[label] = float(e["samples_ts"][0])
        return got

    def bandwidth(self, threads):
        out, _ = run([self.a.autoinfer, "bench", "--bandwidth", "-t", str(threads), "--reps", "5",
                   "--mib", str(self.a.bandwidth_mib)])
        v = [float(x) for x in re.findall(r"gbps=([0-9.]+)", out)]
        # best of the passes, as STREAM reports its best rate
        self.bw.setdefault(threads, []).append(max(v))
        return max(v)


def boot_median_ci(xs, rng, n=4000):
    if len(xs) < 2:
        return (xs[0], xs[0])
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(n))
    return meds[int(0.025 * n)], meds[int(0.975 * n) - 1]


def med_of_faster(refs, rng=None):
    """The median of the faster of several sample lists (resampled with rng)."""
    return max(statistics.median(rng.choices(r, k=len(r)) if rng else r) for r in refs)


def boot_ratio(a, refs, rng, n=4000):
    """95 % CI of median(a) / (the faster median of refs, a list of sample lists)."""
    rs = sorted(statistics.median(rng.choices(a, k=len(a))) / med_of_faster(refs, rng) for _ in range(n))
    return rs[int(0.025 * n)], rs[int(0.975 * n) - 1]


def boot_geomean(pairs, rng, n=2000):
    """95 % CI of the geometric mean of median(a) / med_of_faster(refs) over the (a, refs) pairs."""
    gs = []
    for _ in range(n):
        logs = [math.log(statistics.median(rng.choices(a, k=len(a))) / med_of_faster(refs, rng))
                for a, refs in pairs]
        gs.append(math.exp(sum(logs) / len(logs)))
    gs.sort()
    return gs[int(0.025 * n)], gs[int(0.975 * n) - 1]


def best_settings(samples):
    """The label whose samples have the highest median, and those samples."""
    label = max(samples, key=lambda k: statistics.median(samples[k]))
    return label, samples[label]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--autoinfer", default="build-speed/autoinfer")
    ap.add_argument("--llama-dir", default=".oracle/bin", help="llama.cpp's llama-bench folder")
    ap.add_argument("--ik-dir", default=".oracle-ik/bin",
                    help="ik_llama.cpp's llama-bench folder ('' leaves it out)")
    ap.add_argument("--models-dir", default="models/bench")
    ap.add_argument("--only", default="", help="comma-separated substrings of model files to keep")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--kinds", default="decode,prefill")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--bandwidth-mib", type=int, default=1024, help="buffer of the bandwidth runs (MiB)")
    ap.add_argument("--set", action="append", default=[], help="knob override for autoinfer (repeatable)")
    ap.add_argument("--json", default="", help="write every sample here")
    a = ap.parse_args()
    b = Bench(a)
    for name, folder in b.refs:
        if not os.access(os.path.join(folder, "llama-bench"), os.X_OK):
            sys.exit("bench.py: no %s llama-bench in %s (build it with tools/oracle/setup%s.sh%s)" % (
                name, folder, "-ik" if name == IK else "", ", or pass --ik-dir ''" if name == IK else ""))
    rng = random.Random(7)
    threads = [int(t) for t in a.threads.split(",")]
    kinds = a.kinds.split(",")
    models = [m for m in MODELS if not a.only or any(s in m[2] for s in a.only.split(","))]
    ref_names = [r[0] for r in b.refs]
    cells = []
    t_start = time.time()
    for t in threads:
        b.bandwidth(t)
    for name, quant, f in models:
        path = os.path.join(a.models_dir, f)
        for t in threads:
            b.bandwidth(t)
            for kind in kinds:
                ours, paired = [], []
                theirs = {r: {} for r in ref_names}   # reference -> settings label -> [tok/s]
                runners = [None] + b.refs             # None: autoinfer
                for r in range(a.reps):
                    for who in (runners if r % 2 == 0 else runners[::-1]):
                        if who is None:
                            ours.append(b.ours(path, t, kind))
                        else:
                            for label, v in b.theirs(who, path, t, kind).items():
                                theirs[who[0]].setdefault(label, []).append(v)
                    if kind == "decode":  # the round's own bandwidth, right after its samples
                        paired.append(b.bandwidth(t))
                best = {r: best_settings(theirs[r]) for r in ref_names}
                log("%-20s %-17s %dT %-7s autoinfer %s | %s" % (
                    name, quant, t, kind, " ".join("%.1f" % x for x in ours),
                    " | ".join("%s (%s) %s" % (r, best[r][0], " ".join("%.1f" % x for x in best[r][1]))
                               for r in ref_names)))
                cells.append(dict(model=name, quant=quant, file=f, threads=t, kind=kind, ours=ours,
                                  theirs=theirs, best={r: best[r][0] for r in ref_names},
                                  bw_paired=paired))
    for t in threads:
        b.bandwidth(t)
    elapsed = time.time() - t_start

    bwmed = {t: statistics.median(v) for t, v in b.bw.items()}
    bwbest = {t: max(v) for t, v in b.bw.items()}
    out = []
    out.append("autoinfer vs %s (llama-bench), interleaved ABBA, %d samples per engine and cell, "
               "one process per sample; tok/s median [95%% bootstrap CI]; ratio = autoinfer / reference, "
               "\"vs faster\" = autoinfer / the faster reference of the cell. %s"
               "Decode: %d tokens after a short prompt; prefill: %d tokens. Wall time %.0f s." %
               (" and ".join(ref_names), a.reps,
                "ik_llama.cpp: the best of -rtr 0/1 x -fa 0/1 per cell (named in brackets). " if IK in ref_names else "",
                a.decode, a.prefill, elapsed))
    out.append("Streaming read bandwidth (%d MiB, same window; each run the best of 5 passes; median of %s runs "
               "[lowest..highest]): %s" % (
        a.bandwidth_mib, "/".join(str(len(b.bw[t])) for t in threads),
        ", ".join("%dT %.1f GB/s [%.1f..%.1f]" % (t, bwmed[t], min(b.bw[t]), max(b.bw[t])) for t in threads)))
    if a.set:
        out.append("autoinfer knobs: " + " ".join(a.set))
    out.append("")
    multi = len(ref_names) > 1
    for kind in kinds:
        out.append("### %s" % kind)
        out.append("")
        hdr = "| model | quant | thr | autoinfer tok/s |" + "".join(" %s tok/s |" % r for r in ref_names)
        hdr += "".join(" vs %s |" % r for r in ref_names) + (" vs faster |" if multi else "")
        sep = "|---|---|--:|---:|" + "---:|" * (2 * len(ref_names) + multi)
        if kind == "decode":
            hdr += " MB/token | roofline % autoinfer (paired / median bw / best bw) |" + "".join(
                " roofline %% %s (paired / median / best) |" % r for r in ref_names)
            sep += "---:|---:|" + "---:|" * len(ref_names)
        out.append(hdr)
        out.append(sep)
        pairs = {r: [] for r in ref_names + ["faster"]}
        for c in cells:
            if c["kind"] != kind:
                continue
            mo = statistics.median(c["ours"])
            lo, hi = boot_median_ci(c["ours"], rng)
            ref_s = {r: c["theirs"][r][c["best"][r]] for r in ref_names}
            line = "| %s | %s | %d | %.1f [%.1f..%.1f] |" % (c["model"], c["quant"], c["threads"], mo, lo, hi)
            for r in ref_names:
                tlo, thi = boot_median_ci(ref_s[r], rng)
                line += " %.1f [%.1f..%.1f]%s |" % (statistics.median(ref_s[r]), tlo, thi,
                                                     " (%s)" % c["best"][r] if r == IK else "")
            c["ratio"] = {}
            for r in ref_names + (["faster"] if multi else []):
                refs = list(ref_s.values()) if r == "faster" else [ref_s[r]]
                rlo, rhi = boot_ratio(c["ours"], refs, rng)
                c["ratio"][r] = mo / med_of_faster(refs)
                pairs[r].append((c["ours"], refs))
                line += " **%.2f** [%.2f..%.2f] |" % (c["ratio"][r], rlo, rhi)
            if kind == "decode":
                bpt = b.bpt.get(os.path.join(a.models_dir, c["file"]), 0)
                line += " %.1f |" % (bpt / 1e6)
                c["roofline"] = {}
                for who, xs in [("autoinfer", c["ours"])] + [(r, ref_s[r]) for r in ref_names]:
                    if not bpt:
                        line += " - |"
                        continue
                    m = statistics.median(xs)
                    # each round against the bandwidth measured right after it (median over rounds)
                    po = statistics.median(x * bpt / (w * 1e9) for x, w in zip(xs, c["bw_paired"]))
                    pm, pb = m * bpt / (bwmed[c["threads"]] * 1e9), m * bpt / (bwbest[c["threads"]] * 1e9)
                    c["roofline"][who] = dict(paired=po, median=pm, best=pb)
                    line += " %.0f / %.0f / %.0f |" % (100 * po, 100 * pm, 100 * pb)
            out.append(line)
        out.append("")
        for r in ref_names + (["faster"] if multi else []):
            if not pairs[r]:
                continue
            g = math.exp(sum(math.log(statistics.median(x) / med_of_faster(y)) for x, y in pairs[r]) / len(pairs[r]))
            glo, ghi = boot_geomean(pairs[r], rng)
            worst = min(statistics.median(x) / med_of_faster(y) for x, y in pairs[r])
            out.append("%s vs %s: geometric mean of ratios **%.2f** [%.2f..%.2f] over %d cells; lowest cell %.2f" % (
                kind, "the faster reference" if r == "faster" else r, g, glo, ghi, len(pairs[r]), worst))
            out.append("")
        if IK in ref_names:
            wins = {}
            for c in cells:
                if c["kind"] == kind:
                    wins[c["best"][IK]] = wins.get(c["best"][IK], 0) + 1
            out.append("%s: ik_llama.cpp's best settings per cell: %s" % (
                kind, ", ".join("%s in %d" % (k, v) for k, v in sorted(wins.items(), key=lambda kv: -kv[1]))))
            out.append("")
    out += memory_table(b, models, threads, kinds, a.models_dir, ref_names)
    text = "\n".join(out)
    print(text)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(dict(cells=cells, bandwidth=b.bw, bytes_per_token=b.bpt, elapsed_s=elapsed,
                           memory=b.mem, reference_rss=b.their_rss, args=vars(a)), fh, indent=1)


BOUND = 1.10   # issue 6: peak RSS <= (model file + KV cache) x 1.10


def memory_table(b, models, threads, kinds, models_dir, ref_names):
    """The "### memory" section: per cell and kind, autoinfer's peak RSS against
    the bound, and each reference's peak RSS beside it."""
    if not b.mem:
        return []
    MB = 1e6
    out = ["### memory", "",
           "Peak RSS (VmHWM of the process: load, warm-up and the sample) against the bound "
           "%.2f x (model file + KV cache allocated: n_layer x 2 x ctx slots x row bytes of kv_type); "
           "ratio = median peak RSS / (file + KV); pass when every sample is within the bound. "
           "KV used = the rows the run wrote; ratio used = median peak RSS / (file + KV used), the "
           "stricter reading (allocated but unwritten cache pages are never resident). References: ru_maxrss of their "
           "llama-bench processes, median (their own KV cache: f16, context = prompt + generated tokens). "
           "MB = 10^6 bytes." % BOUND, "",
           "| model | quant | thr | kind | file MB | KV MB (slots, type) | KV used MB | autoinfer peak RSS MB "
           "median [min..max] | bound MB | ratio | pass | ratio used |" + "".join(" %s peak RSS MB |" % r for r in ref_names),
           "|---|---|--:|---|---:|---:|---:|---:|---:|---:|:-:|---:|" + "---:|" * len(ref_names)]
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
                theirs = {rn: [r for (n, mo, th, k, r) in b.their_rss if (n, mo, th, k) == (rn, path, t, kind)]
                          for rn in ref_names}
                out.append("| %s | %s | %d | %s | %.1f | %.1f (%d, %s) | %.1f | %.1f [%.1f..%.1f] | %.1f | %.3f | %s | %.3f |" % (
                    name, quant, t, kind, fb / MB, kv / MB, ms[0].get("kv_slots", 0),
                    ms[0].get("kv_type", "?"), used / MB, statistics.median(peaks) / MB, min(peaks) / MB,
                    max(peaks) / MB, bound / MB, statistics.median(peaks) / (fb + kv),
                    "pass" if ok else "**FAIL**", statistics.median(peaks) / (fb + used)) + "".join(
                    " %s |" % ("%.1f" % (statistics.median(theirs[rn]) / MB) if theirs[rn] else "-")
                    for rn in ref_names))
    out.append("")
    out.append("memory: %d of %d rows within %.2f x (file + KV)%s" % (
        rows - fails, rows, BOUND, "" if not fails else "; **%d over the bound**" % fails))
    out.append("")
    return out


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:   # a failed engine run: what ran and what it said
        sys.exit("bench.py: %s" % e)
