#!/usr/bin/env python3
"""search.py — how good is `autoinfer optimise`'s search on this machine? (issue 13)

A benchmark, not a test. Three steps:

1. Ground truth: every configuration of a grid over a real subspace of the
   knobs (default: threads x kernels x matmul_rows x prefetch x repack x
   chunks_per_thread, decode speed of the default model) is measured once with
   `autoinfer bench` (the median of --reps samples of --decode tokens).
2. The search: `autoinfer optimise --worktree --knobs <the grid's knobs>` from
   the checkout's pipeline.conf, --runs times. Its best configuration
   (.autoinfer/<tag>/pipeline.conf) is looked up in the grid (a refined value
   off the grid is measured the same way), and the configurations it measured
   are counted: screenings, full A/Bs, confirmations and the final A/B.
3. False keeps: a --noop experiments run of the no-op strategy.

Prints a markdown table: each run's best against the grid's optimum (the
issue's target: within 3 %, with at most 1/5 of the grid's evaluations, in
every run) and the no-op run's keeps (target: at most 1 of 20). Also written
to bench/results/search-<stamp>.md/.json.

Needs a clean tree (the search runs in a worktree on its own branch). Full
size takes hours on a small CPU; --tiny proves the script in minutes:
    bench/search.py --tiny
    bench/search.py                       # the full grid: 960 configurations

Python standard library only.
"""
import argparse
import glob
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time

FULL_GRID = ("threads=1,2,3,4;kernels=auto,avx2,scalar;matmul_rows=4,1;prefetch=0,4,8,16,32;"
             "repack=on,off;chunks_per_thread=1,2,4,8")
TINY_GRID = "threads=1,2;prefetch=8,16"


def parse_grid(text):
    grid = []
    for part in text.split(";"):
        key, _, values = part.partition("=")
        if not key or not values:
            sys.exit(f"search.py: --grid: expected KEY=V1,V2;... got '{part}'")
        grid.append((key.strip(), [v.strip() for v in values.split(",")]))
    return grid


def bench_tps(args, config):
    """Median decode tok/s of one configuration (dict knob -> value)."""
    cmd = [args.autoinfer, "bench", "-m", args.model, "--decode", str(args.decode),
           "--prefill", "0", "--reps", str(args.reps)]
    for k, v in sorted(config.items()):
        cmd += ["--set", f"{k}={v}"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {config}: failed ({last})", file=sys.stderr)
        return 0.0
    tps = [float(m) for m in re.findall(r"^sample kind=decode .*tps=([0-9.]+)", out.stdout, re.M)]
    return statistics.median(tps) if tps else 0.0


def conf_values(path, keys):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0]
            if "=" in line:
                k, _, v = line.partition("=")
                if k.strip() in keys:
                    values[k.strip()] = v.strip()
    return values


def baseline_config(run_dir, keys):
    """The run's starting configuration, every knob (the baseline's report)."""
    with open(os.path.join(run_dir, "evals", "0.json")) as f:
        config = json.load(f).get("config") or {}
    return {k: str(config[k]) for k in keys if k in config}


def run_optimise(args, tag, extra):
    cmd = [args.autoinfer, "optimise", "--worktree", "--tag", tag, "-m", args.model,
           "--rounds", str(args.rounds), "--tokens", str(args.tokens), "--quick"] + extra
    t0 = time.time()
    with open(f"bench/results/{tag}.log", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        sys.exit(f"search.py: {' '.join(cmd)} failed (exit {rc}); see bench/results/{tag}.log")
    return time.time() - t0


def evaluations(run_dir):
    """Configurations the run measured, and their A/B rounds."""
    n, rounds = 0, 0
    for path in glob.glob(os.path.join(run_dir, "evals", "*.json")):
        name = os.path.basename(path)
        if name in ("0.json", "aa.json") or name.startswith("aa-"):
            continue  # the baseline and the noise calibration: no search move
        with open(path) as f:
            doc = json.load(f)
        n += 1
        rounds += int((doc.get("compare") or {}).get("rounds") or 0)
    return n, rounds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--autoinfer", default="build/autoinfer")
    ap.add_argument("-m", "--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--grid", default=FULL_GRID, help="KEY=V1,V2;KEY=... (default: %(default)s)")
    ap.add_argument("--decode", type=int, default=64, help="tokens per ground-truth sample")
    ap.add_argument("--reps", type=int, default=3, help="samples per grid configuration")
    ap.add_argument("--runs", type=int, default=3, help="search runs from the default")
    ap.add_argument("--rounds", type=int, default=6, help="A/B rounds of the search's full A/Bs")
    ap.add_argument("--tokens", type=int, default=16, help="decode tokens per prompt in the A/Bs")
    ap.add_argument("--noop", type=int, default=20, help="no-op experiments (0 = skip)")
    ap.add_argument("--tiny", action="store_true",
                    help=f"a few minutes: grid {TINY_GRID}, 8 tokens, 1 rep, 1 run, 1 no-op")
    args = ap.parse_args()
    if args.tiny:
        args.grid, args.decode, args.reps, args.runs, args.noop = TINY_GRID, 8, 1, 1, 1
    grid = parse_grid(args.grid)
    keys = [k for k, _ in grid]
    os.makedirs("bench/results", exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())

    configs = [dict(zip(keys, combo)) for combo in itertools.product(*[v for _, v in grid])]
    print(f"# ground truth: {len(configs)} configurations x {args.reps} samples of "
          f"{args.decode} tokens", file=sys.stderr)
    t0 = time.time()
    truth = {}
    for i, c in enumerate(configs):
        truth[tuple(c[k] for k in keys)] = bench_tps(args, c)
        print(f"  {i + 1}/{len(configs)} {c}: {truth[tuple(c[k] for k in keys)]:.2f} tok/s",
              file=sys.stderr)
    grid_s = time.time() - t0
    best_key = max(truth, key=truth.get)
    best_tps = truth[best_key]
    start = {}

    rows = []
    for run in range(1, args.runs + 1):
        tag = f"bsearch-{stamp}-{run}"
        print(f"# search run {run}: autoinfer optimise --tag {tag} --knobs {','.join(keys)}",
              file=sys.stderr)
        secs = run_optimise(args, tag, ["--knobs", ",".join(keys)])
        run_dir = os.path.join(".autoinfer", tag)
        start = baseline_config(run_dir, keys)
        found = {**start, **conf_values(os.path.join(run_dir, "pipeline.conf"), keys)}
        key = tuple(found.get(k, "") for k in keys)
        tps = truth.get(key)
        if tps is None:  # a refined value between the grid's points
            tps = bench_tps(args, dict(zip(keys, key)))
        n, rounds = evaluations(run_dir)
        within = tps / best_tps - 1 if best_tps > 0 else float("nan")
        ok = within >= -0.03 and n * 5 <= len(configs)
        rows.append({"run": run, "tag": tag, "best": dict(zip(keys, key)), "tps": tps,
                     "vs_optimum": within, "evaluations": n, "rounds": rounds, "seconds": secs,
                     "pass": ok})

    noop = None
    if args.noop > 0:
        tag = f"bsearch-{stamp}-noop"
        print(f"# no-op run: {args.noop} experiments", file=sys.stderr)
        run_optimise(args, tag, ["--strategy", "noop", "--budget", str(args.noop)])
        with open(os.path.join(".autoinfer", tag, "results.tsv")) as f:
            status = [line.split("\t")[16] for line in f.readlines()[1:]]
        noop = {"experiments": len(status) - 1, "kept": status.count("keep")}

    start_text = ", ".join(f"{k}={start.get(k, '?')}" for k in keys)
    md = [f"## Search effectiveness ({stamp})", "",
          f"Grid: {' x '.join(f'{k} ({len(v)})' for k, v in grid)} = {len(configs)} configurations, "
          f"{args.reps} x {args.decode}-token decode samples each ({grid_s / 60:.1f} min); "
          f"optimum {best_tps:.2f} tok/s at "
          f"{', '.join(f'{k}={v}' for k, v in zip(keys, best_key))}; start "
          f"{start_text} = {truth.get(tuple(start.get(k, '') for k in keys), float('nan')):.2f} "
          "tok/s.", "",
          "| run | search's best | its tok/s (grid) | vs optimum | evaluations (of grid) | A/B rounds | time | target met |",
          "|---:|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        md.append(f"| {r['run']} | {', '.join(f'{k}={v}' for k, v in r['best'].items())} | "
                  f"{r['tps']:.2f} | {r['vs_optimum'] * 100:+.1f}% | {r['evaluations']} "
                  f"({r['evaluations'] / len(configs):.0%}) | {r['rounds']} | "
                  f"{r['seconds'] / 60:.1f} min | {'yes' if r['pass'] else 'no'} |")
    md.append("")
    md.append("Target (issue 13): within 3 % of the optimum with at most 1/5 of the grid's "
              f"evaluations in every run: {'met' if all(r['pass'] for r in rows) else 'NOT met'}.")
    if noop:
        md.append(f"No-op run: {noop['kept']} of {noop['experiments']} no-op experiments kept "
                  f"(target: at most 1 of 20).")
    text = "\n".join(md) + "\n"
    print(text)
    with open(f"bench/results/search-{stamp}.md", "w") as f:
        f.write(text)
    with open(f"bench/results/search-{stamp}.json", "w") as f:
        json.dump({"grid": dict(grid), "truth": {",".join(k): v for k, v in truth.items()},
                   "runs": rows, "noop": noop}, f, indent=1)


if __name__ == "__main__":
    main()
