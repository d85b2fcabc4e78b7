#!/usr/bin/env bash
# On the GPU machine (after scripts/gpu-check.sh built build-gpu and the
# synthetic models): a short `autoinfer optimise` run with backend = cuda in
# a clone of the repository carried as .gpu/repo.bundle (the device gets a
# copy of the working tree without .git), then its report into $OUT.
#   scripts/gpu-optimise.sh MODEL [BUDGET]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
model=$(realpath "$1"); budget=${2:-3}
W=/tmp/ai-run; rm -rf $W
git clone -q .gpu/repo.bundle $W || exit 1
cd $W && git checkout -q -B main && git config user.email gpu@autoinfer && git config user.name gpu
sed -i 's/^backend = .*/backend = cuda/' pipeline.conf
grep -q '^backend' pipeline.conf || echo 'backend = cuda' >> pipeline.conf
git commit -qam "pipeline.conf: backend = cuda for the GPU run"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAI_CUDA=on > /dev/null && cmake --build build -j16 > /dev/null || exit 1
timeout 420 build/autoinfer optimise --tag gpu --budget "$budget" --quick --rounds 6 --tokens 32 -m "$model" 2>&1 | tail -25
build/autoinfer report gpu > "$OUT/report.md" 2>&1; tail -30 "$OUT/report.md"
cp .autoinfer/gpu/results.tsv "$OUT/" 2>/dev/null || find . -name results.tsv -path '*gpu*' -exec cp {} "$OUT/" \;
