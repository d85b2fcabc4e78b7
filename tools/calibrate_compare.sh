#!/usr/bin/env bash
# tools/calibrate_compare.sh — measures the power of `autoinfer eval --ab`:
# N_AA compares of a build against itself (how many are called a change:
# target <= 5 %) and N_SLOW compares against the same build with a test-only
# busy-wait of SLOWDOWN x each decode step (how many are caught as
# "regressed": target >= 90 %). A/A and slowed compares alternate, so the
# host's drift weighs on both alike. Results: OUT/results.tsv, a markdown
# block on stdout, and (with RECORD=1) that block written into docs/eval.md
# between the calibrate_compare markers.
#
#   tools/calibrate_compare.sh [BIN] [N_AA] [N_SLOW] [ROUNDS] [TOKENS] [SLOWDOWN]
#   defaults:  build/autoinfer 20 10 30 32 0.05
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-build/autoinfer}")
NAA=${2:-20}
NSLOW=${3:-10}
ROUNDS=${4:-30}
TOKENS=${5:-32}
SLOW=${6:-0.05}
OUT=${OUT:-/tmp/autoinfer-calibrate-compare}
mkdir -p "$OUT"
start=$(date +%s)
i=0
j=0
if [ "${SUMMARY_ONLY:-0}" = 1 ]; then # summarize OUT/{aa,slow}-N.json made elsewhere
    i=$NAA
    j=$NSLOW
else
    rm -f "$OUT"/*.json
fi
while [ $i -lt "$NAA" ] || [ $j -lt "$NSLOW" ]; do
    if [ $i -lt "$NAA" ]; then
        i=$((i + 1))
        "$BIN" eval --ab --a "$BIN" --b "$BIN" --rounds "$ROUNDS" --tokens "$TOKENS" \
            --no-quality --json "$OUT/aa-$i.json" >"$OUT/aa-$i.log" 2>&1
        echo "A/A $i/$NAA: $(grep -E '^(decode_ratio|decode_ratio_ci|p_value|verdict):' "$OUT/aa-$i.log" | tr '\n' ' ')" >&2
    fi
    if [ $j -lt "$NSLOW" ]; then
        j=$((j + 1))
        "$BIN" eval --ab --a "$BIN" --b "$BIN" --rounds "$ROUNDS" --tokens "$TOKENS" \
            --inject-slowdown "$SLOW" --no-quality --json "$OUT/slow-$j.json" >"$OUT/slow-$j.log" 2>&1
        echo "slow $j/$NSLOW: $(grep -E '^(decode_ratio|decode_ratio_ci|p_value|verdict):' "$OUT/slow-$j.log" | tr '\n' ' ')" >&2
    fi
done
elapsed=${ELAPSED:-$(( $(date +%s) - start ))}

python3 - "$OUT" "$NAA" "$NSLOW" "$ROUNDS" "$TOKENS" "$SLOW" "$elapsed" "${RECORD:-0}" <<'EOF'
import glob, json, os, sys, datetime
out, naa, nslow, rounds, tokens, slow, elapsed, record = sys.argv[1:]
rows = []
for kind in ("aa", "slow"):
    for path in sorted(glob.glob(f"{out}/{kind}-*.json"), key=lambda p: int(p.rsplit("-", 1)[1][:-5])):
        c = json.load(open(path))["compare"]
        rows.append((kind, os.path.basename(path), c["status"], c["decode_ratio"], c["ci_lo"],
                     c["ci_hi"], c["p"], c["verdict"], c["a"]["decode_tps"]["median"]))
with open(f"{out}/results.tsv", "w") as f:
    f.write("kind\tfile\tstatus\tratio\tci_lo\tci_hi\tp\tverdict\ta_decode_tps\n")
    for r in rows:
        f.write("\t".join(str(x) for x in r) + "\n")
aa = [r for r in rows if r[0] == "aa"]
sl = [r for r in rows if r[0] == "slow"]
fp = sum(r[7] != "no change" for r in aa)
caught = sum(r[7] == "regressed" for r in sl)
fmt = lambda v: "n/a" if v is None else f"{v:.4f}"
lines = [
    f"Measured {datetime.date.today()} on {os.environ.get('MACHINE', f'this machine ({os.cpu_count()} cores)')}, "
    f"`--rounds {rounds} --tokens {tokens}`, {int(elapsed) // 60} min in all.",
    "",
    f"- A/A: **{fp} of {len(aa)}** called a change "
    f"({100.0 * fp / max(len(aa), 1):.0f} %, target <= 5 %)",
    f"- injected {float(slow) * 100:.0f} % slowdown (B busy-waits {slow} x each decode step): "
    f"**{caught} of {len(sl)}** caught as regressed ({100.0 * caught / max(len(sl), 1):.0f} %, target >= 90 %)",
    "",
    "| compare | ratio B/A | 95 % CI | p | verdict | A decode tok/s |",
    "|---|---:|---|---:|---|---:|",
]
for r in rows:
    lines.append(f"| {r[1][:-5]} | {fmt(r[3])} | [{fmt(r[4])}, {fmt(r[5])}] | {fmt(r[6])} | {r[7]} | {fmt(r[8])} |")
block = "\n".join(lines)
print(block)
if record == "1":
    doc = "docs/eval.md"
    text = open(doc).read()
    b, e = "<!-- calibrate_compare:begin -->", "<!-- calibrate_compare:end -->"
    if b in text and e in text:
        text = text[: text.index(b) + len(b)] + "\n" + block + "\n" + text[text.index(e):]
        open(doc, "w").write(text)
EOF
