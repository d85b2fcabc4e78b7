#!/usr/bin/env python3
"""gpubench.py — autoinfer (backend = cuda) against llama.cpp (CUDA), interleaved.

Driven by bench/gpu/run.sh, which builds both engines, makes the models and measures
the GPU's copy bandwidth. Standard library only.

Rounds go over every model before the next round starts (round-major), so that a run
cut short by --deadline still has every model measured. In each round and model the
two engines run one after the other, one process each, the order alternating from
round to round (A B, B A, ...):

  autoinfer  autoinfer bench -m M --decode 128 --prefill 512 --reps K --set backend=cuda
             --set ctx=1024: an 8-token prompt then 128 single-token passes (greedy,
             EOS ignored), and a 512-token prefill; K timed samples of each after one
             warm-up, in the same process.
  llama.cpp  llama-bench -m M -ngl 99 -p 512 -n 128 -fa 0,1 -r K -o json: pp512 and tg128
             (each its own test, tg128 from an empty context), flash attention off and
             on; K samples each after llama-bench's own warm-up run. The better of the
             two flash-attention settings (higher median) is the figure kept.

A failing process is logged with its error and the round goes on. After every round
the table (markdown) and every sample (JSON) are rewritten, so a run that is killed
leaves its last complete round behind.
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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_lite  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, logf, env=None, timeout=300):
    """Runs cmd, appends its command line, output and status to logf; returns stdout.
    Raises RuntimeError with the tail of stderr on failure or timeout."""
    t0 = time.time()
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, timeout=timeout)
        out, err, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")) + \
            "\n(killed after %d s)" % timeout
        rc = 124
    except OSError as e:
        out, err, rc = "", str(e), 127
    with open(logf, "a") as fh:
        fh.write("$ %s\n# rc=%d, %.1f s\n%s\n--- stderr\n%s\n\n" % (
            " ".join(cmd), rc, time.time() - t0, out, err))
    if rc != 0:
        tail = "\n".join([l for l in err.strip().splitlines() if l.strip()][-6:])
        raise RuntimeError("rc=%d: %s" % (rc, tail or "(no output)"))
    return out


class Engines:
    def __init__(self, a):
        self.a = a
        self.env = dict(os.environ)
        if a.llama_dir:
            ld = self.env.get("LD_LIBRARY_PATH", "")
            self.env["LD_LIBRARY_PATH"] = a.llama_dir + (":" + ld if ld else "")
        self.bpt_engine = {}
        self.device = ""

    def ours(self, path, logf):
        a = self.a
        cmd = [a.autoinfer, "bench", "-m", path, "--decode", str(a.decode), "--prefill", str(a.prefill),
               "--reps", str(a.reps), "--set", "backend=%s" % a.backend,
               "--set", "ctx=%d" % max(1024, a.prefill + 64, a.decode + 64)]
        for s in a.set:
            cmd += ["--set", s]
        out = run(cmd, logf, timeout=a.timeout)
        m = re.search(r"bytes_per_token=(\d+)", out)
        if m:
            self.bpt_engine[path] = int(m.group(1))
        m = re.search(r'^device backend=(\S+) name="([^"]*)"', out, re.M)
        if m:
            if m.group(1) != a.backend:
                raise RuntimeError("autoinfer ran on backend %s, not %s" % (m.group(1), a.backend))
            self.device = m.group(2)
        res = {}
        for kind in ("decode", "prefill"):
            v = [float(x) for x in re.findall(r"^sample kind=%s .*tps=([0-9.]+)" % kind, out, re.M)]
            if not v:
                raise RuntimeError("no %s samples in autoinfer's output" % kind)
            res[kind] = v
        return res

    def theirs(self, path, logf):
        a = self.a
        cmd = [os.path.join(a.llama_dir, "llama-bench"), "-m", path, "-ngl", str(a.ngl),
               "-p", str(a.prefill), "-n", str(a.decode), "-fa", a.fa, "-r", str(a.reps), "-o", "json"]
        out = run(cmd, logf, env=self.env, timeout=a.timeout)
        j = json.loads(out[out.index("["):])
        res = {}   # kind -> {fa: samples}
        info = {}
        for t in j:
            kind = "prefill" if t.get("n_prompt", 0) > 0 and t.get("n_gen", 0) == 0 else \
                   "decode" if t.get("n_gen", 0) > 0 and t.get("n_prompt", 0) == 0 else None
            if kind is None:
                continue
            fa = str(t.get("flash_attn", "?"))
            res.setdefault(kind, {}).setdefault(fa, []).extend(float(x) for x in t["samples_ts"])
            info = {k: t.get(k) for k in ("build_commit", "gpu_info", "backends", "model_size", "n_gpu_layers")}
        if not res:
            raise RuntimeError("no pp/tg results in llama-bench's JSON")
        return res, info


def med(x):
    return statistics.median(x) if x else float("nan")


def boot_ratio(a, b, rng, n=2000):
    if len(a) < 2 or len(b) < 2:
        r = med(a) / med(b)
        return r, r
    rs = sorted(med(rng.choices(a, k=len(a))) / med(rng.choices(b, k=len(b))) for _ in range(n))
    return rs[int(0.025 * n)], rs[int(0.975 * n) - 1]


def fmt_samples(x):
    if not x:
        return "-"
    return "%.1f [%.1f..%.1f] (%d)" % (med(x), min(x), max(x), len(x))


def report(a, models, cells, errors, llama_info, elapsed, rounds_done, final):
    """The markdown table and the JSON of every sample."""
    rng = random.Random(7)
    out = []
    dev = a.device or "no GPU named"
    bw = a.bandwidth_gbps
    out.append("## GPU bench: autoinfer (backend = %s) vs llama.cpp" % a.backend)
    out.append("")
    out.append("- card: %s" % dev)
    out.append("- memory bandwidth (device-to-device copy, bytes read + written): %s" % (
        "%.0f GB/s" % bw if bw else "not measured"))
    out.append("- autoinfer: %s; knobs: pipeline.conf + backend=%s%s%s" % (
        a.autoinfer_id or a.autoinfer, a.backend, "".join(" " + s for s in a.set),
        "; runs on: %s" % a.ai_device if a.ai_device else ""))
    if a.llama_dir:
        li = llama_info or {}
        out.append("- llama.cpp: build %s (%s), llama-bench -ngl %s -fa %s, the better flash-attention "
                   "setting per cell (fa column)" % (li.get("build_commit", "?"), li.get("backends", "?"),
                                                     a.ngl, a.fa))
    else:
        out.append("- llama.cpp: not run (%s)" % (a.no_ref_reason or "--no-ref"))
    out.append("- %d of %d rounds done%s, %d timed samples per process, engines interleaved (order "
               "alternating per round); decode: %d tokens after a short prompt (llama.cpp: tg%d); "
               "prefill: %d tokens (pp%d); wall time %.0f s%s" % (
                   rounds_done, a.rounds, " (and %d of %d models of round %d)" % (
                       a.partial, len(models), rounds_done + 1) if a.partial else "",
                   a.reps, a.decode, a.decode, a.prefill, a.prefill, elapsed,
                   "" if final else " (run still going)"))
    out.append("- tok/s: median [lowest..highest] (samples); ratio = autoinfer / llama.cpp medians "
               "[95 % bootstrap CI]; % bw = tok/s x bytes per token / copy bandwidth (decode; bytes "
               "per token from the file's tensor sizes, KV cache not counted)")
    out.append("")
    geo = {}
    for kind in ("decode", "prefill"):
        out.append("### %s" % kind)
        out.append("")
        if kind == "decode":
            out.append("| model | quant | MB/token | autoinfer tok/s | llama.cpp tok/s | fa | ratio | "
                       "% bw autoinfer | % bw llama.cpp |")
            out.append("|---|---|--:|--:|--:|:-:|--:|--:|--:|")
        else:
            out.append("| model | quant | autoinfer tok/s | llama.cpp tok/s | fa | ratio |")
            out.append("|---|---|--:|--:|:-:|--:|")
        logs = []
        for m in models:
            c = cells[m["id"]]
            ours = c["ours"].get(kind, [])
            th = c["theirs"].get(kind, {})
            fa_best, theirs = None, []
            for fa, v in sorted(th.items()):
                if v and (not theirs or med(v) > med(theirs)):
                    fa_best, theirs = fa, v
            ratio = "-"
            if ours and theirs:
                r = med(ours) / med(theirs)
                lo, hi = boot_ratio(ours, theirs, rng)
                ratio = "**%.2f** [%.2f..%.2f]" % (r, lo, hi)
                logs.append(math.log(r))
                c.setdefault("ratio", {})[kind] = r
            fa_s = "-" if fa_best is None else {"0": "off", "1": "on"}.get(fa_best, fa_best)
            if th and len(th) > 1:
                fa_s += " (%s)" % " / ".join("%s %.0f" % ({"0": "off", "1": "on"}.get(f, f), med(v))
                                             for f, v in sorted(th.items()))
            if kind == "decode":
                bpt = m.get("bpt") or 0
                pb = lambda x: "%.0f %%" % (100.0 * med(x) * bpt / (bw * 1e9)) if (x and bpt and bw) else "-"
                out.append("| %s | %s | %.1f | %s | %s | %s | %s | %s | %s |" % (
                    m["shape"], m["quant"], bpt / 1e6, fmt_samples(ours), fmt_samples(theirs), fa_s, ratio,
                    pb(ours), pb(theirs)))
            else:
                out.append("| %s | %s | %s | %s | %s | %s |" % (
                    m["shape"], m["quant"], fmt_samples(ours), fmt_samples(theirs), fa_s, ratio))
        out.append("")
        if logs:
            g = math.exp(sum(logs) / len(logs))
            geo[kind] = g
            out.append("%s: geometric mean of the ratios **%.2f** over %d cells (lowest %.2f, highest %.2f)" % (
                kind, g, len(logs), math.exp(min(logs)), math.exp(max(logs))))
        else:
            out.append("%s: no cell with both engines" % kind)
        out.append("")
    for m in models:
        if m.get("note"):
            out.append("- %s %s: %s" % (m["shape"], m["quant"], m["note"]))
    if errors:
        out.append("")
        out.append("### errors (%d)" % len(errors))
        out.append("")
        for e in errors[-30:]:
            out.append("- round %d, %s, %s: %s" % (e["round"], e["model"], e["engine"],
                                                  e["error"].replace("\n", " | ")[:400]))
    text = "\n".join(out) + "\n"
    for d in a.out:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "summary.md.tmp"), "w") as fh:
            fh.write(text)
        os.replace(os.path.join(d, "summary.md.tmp"), os.path.join(d, "summary.md"))
        with open(os.path.join(d, "results.json.tmp"), "w") as fh:
            json.dump(dict(models=models, cells=cells, errors=errors, geomean=geo, llama=llama_info,
                           bandwidth_gbps=bw, device=dev, elapsed_s=elapsed, rounds_done=rounds_done,
                           final=final, args=vars(a)), fh, indent=1)
        os.replace(os.path.join(d, "results.json.tmp"), os.path.join(d, "results.json"))
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--autoinfer", required=True)
    ap.add_argument("--autoinfer-id", default="", help="what to call it in the table (commit)")
    ap.add_argument("--llama-dir", default="", help="llama-bench's folder; empty: autoinfer alone")
    ap.add_argument("--no-ref-reason", default="")
    ap.add_argument("--model", action="append", default=[], required=True,
                    help="ID:SHAPE:QUANT:PATH[:NOTE] (repeatable, in table order)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--backend", default="cuda")
    ap.add_argument("--ngl", type=int, default=99)
    ap.add_argument("--fa", default="0,1")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--timeout", type=int, default=300, help="seconds per process")
    ap.add_argument("--deadline", type=float, default=0, help="epoch seconds after which no round starts")
    ap.add_argument("--round-cost", type=float, default=0,
                    help="seconds one round is expected to take; 0: learnt from the first round")
    ap.add_argument("--bandwidth-gbps", type=float, default=0)
    ap.add_argument("--device", default="")
    ap.add_argument("--out", action="append", default=[], help="folder for summary.md and results.json")
    ap.add_argument("--logs", required=True, help="folder for the raw output of every process")
    a = ap.parse_args()
    a.ai_device = ""
    a.partial = 0   # models done in a round that is not complete
    os.makedirs(a.logs, exist_ok=True)
    eng = Engines(a)
    models = []
    for spec in a.model:
        parts = spec.split(":", 4)
        mid, shape, quant, path = parts[:4]
        m = dict(id=mid, shape=shape, quant=quant, path=path, note=parts[4] if len(parts) > 4 else "")
        try:
            m["bpt"] = gguf_lite.bytes_per_token(gguf_lite.parse(path))
        except Exception as e:  # noqa: BLE001
            m["bpt"] = 0
            m["note"] = (m["note"] + "; " if m["note"] else "") + "cannot read: %s" % e
        models.append(m)
    cells = {m["id"]: dict(ours={}, theirs={}) for m in models}
    errors = []
    llama_info = {}
    t0 = time.time()
    rounds_done = 0
    cost = a.round_cost
    stop = False
    for r in range(a.rounds):
        now = time.time()
        if a.deadline and r > 0 and now + cost > a.deadline:
            log("gpubench: stopping after %d rounds: the next would end past the deadline "
                "(%.0f s left, a round takes ~%.0f s)" % (r, a.deadline - now, cost))
            break
        tr = time.time()
        for m in models:
            per_model = cost / len(models) if cost else 10.0
            if a.deadline and time.time() + per_model > a.deadline:
                log("gpubench: deadline: round %d stops before %s" % (r + 1, m["id"]))
                stop = True
                break
            if not os.path.exists(m["path"]):
                if r == 0:
                    errors.append(dict(round=r + 1, model=m["id"], engine="-", error="model file missing"))
                continue
            order = ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")
            line = []
            for who in order:
                if who == "theirs" and not a.llama_dir:
                    continue
                logf = os.path.join(a.logs, "%s.%s.log" % (m["id"], "autoinfer" if who == "ours" else "llama"))
                try:
                    if who == "ours":
                        res = eng.ours(m["path"], logf)
                        a.ai_device = eng.device or a.ai_device
                        for k, v in res.items():
                            cells[m["id"]]["ours"].setdefault(k, []).extend(v)
                        line.append("autoinfer " + " ".join("%s %.1f" % (k[0], med(v)) for k, v in res.items()))
                    else:
                        res, info = eng.theirs(m["path"], logf)
                        llama_info = info or llama_info
                        for k, byfa in res.items():
                            for fa, v in byfa.items():
                                cells[m["id"]]["theirs"].setdefault(k, {}).setdefault(fa, []).extend(v)
                        line.append("llama.cpp " + " ".join(
                            "%s%s %.1f" % (k[0], fa, med(v)) for k, byfa in sorted(res.items())
                            for fa, v in sorted(byfa.items())))
                except Exception as e:  # noqa: BLE001
                    msg = str(e)
                    errors.append(dict(round=r + 1, model=m["id"], engine="autoinfer" if who == "ours" else "llama.cpp",
                                       error=msg))
                    line.append("%s FAILED (%s)" % ("autoinfer" if who == "ours" else "llama.cpp",
                                                    msg.splitlines()[-1][:200] if msg else "?"))
            log("round %d/%d %-16s %s" % (r + 1, a.rounds, m["id"], " | ".join(line)))
            a.partial += 1
            report(a, models, cells, errors, llama_info, time.time() - t0, rounds_done, final=False)
        if stop:
            break
        rounds_done = r + 1
        a.partial = 0
        took = time.time() - tr
        cost = max(a.round_cost, took)
    for m in models:
        if m["path"] in eng.bpt_engine:
            m["bpt_engine"] = eng.bpt_engine[m["path"]]
    text = report(a, models, cells, errors, llama_info, time.time() - t0, rounds_done, final=True)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
