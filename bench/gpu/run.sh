#!/usr/bin/env bash
# The GPU side-by-side benchmark, in one command on the lent GPU machine (no network):
# autoinfer with backend = cuda against llama.cpp's CUDA backend, interleaved, on
# synthesized models of real shapes. Run from the repository root with `.gpu/` carried
# (bench/gpu/pack.sh fills it here). docs/performance.md, "GPU bench: how to run".
#
#   bench/gpu/run.sh [options]
#     --models LIST   comma-separated model ids, or substrings of them (default: all):
#                     smollm2-q4_1 smollm2-q4_0 smollm2-q8_0 smollm2-q4_k_m
#                     qwen05-q4_0 qwen05-q8_0 qwen05-q4_k_m
#     --rounds N      interleaved rounds (A B, B A, ...) per model (default 3)
#     --reps N        timed samples per process and test (default 3)
#     --decode N      decode tokens (default 128)      --prefill N  prompt tokens (default 512)
#     --no-ref        skip llama.cpp (autoinfer alone)
#     --ref-dir DIR   use a llama.cpp already built there (llama-bench, llama-quantize, libs)
#     --no-agree      skip the CPU-vs-GPU agreement check on .gpu/models/smollm2-cut4.gguf
#     --budget S      no round starts that would end later than S seconds after the start
#                     (default 560: a device call's 600 s with room to pack the results)
#     --jobs N        build parallelism (default: all cores)
#     --build-dir D   autoinfer's build folder (default build-gpu)
#     --set K=V       extra autoinfer knob for the bench (repeatable)
#     --out DIR       results folder (default: $OUT when set, else bench/gpu/results/STAMP)
#     --cpu-smoke     the whole flow on the CPU, to check the script where there is no GPU:
#                     backend = cpu, autoinfer built with AI_CUDA=off, no reference unless
#                     --ref-dir, models smollm2-q4_0,smollm2-q4_k_m,qwen05-q4_0, 2 rounds,
#                     1 rep, decode 16, prefill 64 (unless given)
#     --ref-build     with --cpu-smoke: build the reference from the tarball anyway (CPU-only)
#     --force-sysroot use the carried .debs even where the system has the packages
#     --build-only    build both engines and the models, pack the reference, stop
#
# Steps: (1) the build's packages: the system's, else the carried .debs unpacked with
# dpkg -x into /tmp/sysroot (never into /), found through pkg-config's sysroot;
# (2) llama.cpp from .gpu/llama.cpp-*.tar.xz, targets llama-bench and llama-quantize,
# -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90, in build-gpu-llama/, in the background;
# (3) autoinfer: cmake -G Ninja -DAI_CUDA=on in build-gpu/; (4) the models in models/gpu/
# with `autoinfer synth` (random weights, real shapes; tokenizers from .gpu/models/): q4_1,
# q4_0, q8_0 directly, q4_k_m by the reference's llama-quantize from a synthesized f16
# file (autoinfer quantize q4_k_m when there is no reference), the same file for both
# engines; (5) the agreement check: the cut real model, greedy, backend cpu vs cuda;
# (6) the card (nvidia-smi) and its copy bandwidth (torch, device-to-device copy);
# (7) bench/gpu/gpubench.py: the interleaved rounds, the table.
# Out: summary.md, results.json, logs.tar.gz (every command's output) in the results
# folder, rewritten as the run goes; with $OUT set, llama-ref-COMMIT.tar.xz (the reference
# just built, packed before the bench; carried as .gpu/llama-ref-COMMIT.tar.xz it spares
# the next call the build) when it is under 16 MiB. The build folders and models/gpu/ are
# in the tree (ignored), so a second call on a still-warm machine reuses them.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
T0=$(date +%s)
ARGS="$*"
MODELS_ALL="smollm2-q4_1,smollm2-q4_0,smollm2-q8_0,smollm2-q4_k_m,qwen05-q4_0,qwen05-q8_0,qwen05-q4_k_m"
MODELS=$MODELS_ALL ROUNDS="" REPS="" DECODE="" PREFILL="" REF=1 REF_DIR="" AGREE=1 BUDGET=560
JOBS=$(nproc) BUILD=build-gpu SETS=() RES="" SMOKE=0 FORCE_SYSROOT=0 BUILD_ONLY=0 REF_BUILD=0 models_set=0
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS=$2; models_set=1; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --decode) DECODE=$2; shift ;;
    --prefill) PREFILL=$2; shift ;;
    --no-ref) REF=0 ;;
    --ref-dir) REF_DIR=$(cd "$2" && pwd) || exit 2; shift ;;
    --no-agree) AGREE=0 ;;
    --budget) BUDGET=$2; shift ;;
    --jobs) JOBS=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --set) SETS+=("$2"); shift ;;
    --out) RES=$2; shift ;;
    --cpu-smoke) SMOKE=1 ;;
    --force-sysroot) FORCE_SYSROOT=1 ;;
    --build-only) BUILD_ONLY=1 ;;
    --ref-build) REF_BUILD=1 ;;
    -h|--help) sed -n '2,46p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
BACKEND=cuda AI_CUDA=on REF_CUDA=ON
if [ "$SMOKE" = 1 ]; then
  BACKEND=cpu AI_CUDA=off AGREE_B=cpu REF_CUDA=OFF
  [ -n "$REF_DIR" ] || [ "$REF_BUILD" = 1 ] || REF=0
  [ "$models_set" = 1 ] || MODELS=smollm2-q4_0,smollm2-q4_k_m,qwen05-q4_0
  ROUNDS=${ROUNDS:-2} REPS=${REPS:-1} DECODE=${DECODE:-16} PREFILL=${PREFILL:-64}
fi
ROUNDS=${ROUNDS:-3} REPS=${REPS:-3} DECODE=${DECODE:-128} PREFILL=${PREFILL:-512}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$RES" ] || RES=${OUT:-bench/gpu/results/$STAMP}
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
W=$ROOT/bench/gpu/results/work-$STAMP       # raw logs, packed into $RES/logs.tar.gz
mkdir -p "$W"
G=$ROOT/.gpu
MD=$ROOT/models/gpu
mkdir -p "$MD"

say() { printf '[%4ds] %s\n' $(($(date +%s) - T0)) "$*" | tee -a "$W/run.log" >&2; }
pack_logs() { tar -C "$W" -czf "$RES/logs.tar.gz.tmp" . 2>/dev/null && mv "$RES/logs.tar.gz.tmp" "$RES/logs.tar.gz"; }
trap pack_logs EXIT
# xz without the xz tool (a bare image may lack xz-utils): Python's lzma
unxz_cat() { if command -v xz >/dev/null 2>&1; then xz -dc "$1"
             else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi; }
untar_xz() { unxz_cat "$1" | tar -C "$2" -xf -; }
say "GPU bench: models $MODELS, $ROUNDS rounds x $REPS reps, backend $BACKEND, results in $RES"

# ---- the card --------------------------------------------------------------------
DEVICE="no GPU (nvidia-smi not found)"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi > "$W/nvidia-smi.txt" 2>&1
  q=$(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem \
        --format=csv,noheader 2>/dev/null | head -1)
  [ -n "$q" ] && DEVICE="$q (name, memory, driver, max SM / memory clocks)"
fi
say "card: $DEVICE"
[ -d /usr/local/cuda/bin ] && export PATH=$PATH:/usr/local/cuda/bin

# ---- (1) the build's packages ------------------------------------------------------
SYSROOT=/tmp/sysroot
deps_ok() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libpcre2-8 libcjson cmocka 2>/dev/null; }
if [ "$FORCE_SYSROOT" = 1 ] || ! deps_ok; then
  debs=("$G"/debs/*.deb)
  if [ ! -e "${debs[0]}" ]; then
    say "ERROR: pkg-config, pcre2, cJSON or cmocka missing and no .gpu/debs/*.deb carried (bench/gpu/pack.sh)"
  else
    say "unpacking ${#debs[@]} carried .debs into $SYSROOT (the system lacks pkg-config/pcre2/cJSON/cmocka or --force-sysroot)"
    rm -rf "$SYSROOT"; mkdir -p "$SYSROOT"
    for d in "${debs[@]}"; do
      if command -v dpkg-deb >/dev/null 2>&1; then dpkg-deb -x "$d" "$SYSROOT"
      else python3 - "$d" "$SYSROOT" <<'EOF'
import io, lzma, sys, tarfile
# a .deb is an ar archive; data.tar.xz (or .gz / plain) holds the files
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"!<arch>\n"
o = 8
while o < len(data):
    name = data[o:o + 16].decode().strip().rstrip("/")
    size = int(data[o + 48:o + 58].decode().strip())
    body = data[o + 60:o + 60 + size]
    if name.startswith("data.tar"):
        if name.endswith(".xz"):
            body = lzma.decompress(body)
        t = tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        if hasattr(tarfile, "fully_trusted_filter"):
            t.extractall(sys.argv[2], filter="fully_trusted")
        else:
            t.extractall(sys.argv[2])
    o += 60 + size + (size & 1)
EOF
      fi
    done
    LIBD=$SYSROOT/usr/lib/x86_64-linux-gnu
    export PKG_CONFIG_LIBDIR=$LIBD/pkgconfig:$SYSROOT/usr/share/pkgconfig
    export PKG_CONFIG_SYSROOT_DIR=$SYSROOT PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
    export LD_LIBRARY_PATH=$LIBD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export CMAKE_PREFIX_PATH=$SYSROOT/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
    if [ "$FORCE_SYSROOT" = 1 ] || ! command -v pkg-config >/dev/null 2>&1; then
      export PATH=$SYSROOT/usr/bin:$PATH PKG_CONFIG=$SYSROOT/usr/bin/pkgconf
    fi
    if deps_ok; then say "packages: from $SYSROOT ($(command -v pkg-config))"
    else say "ERROR: pkg-config still does not find libpcre2-8 libcjson cmocka in $SYSROOT"; fi
  fi
else
  say "packages: the system's (pkg-config finds libpcre2-8, libcjson, cmocka)"
fi
PKGCONF_ARG=()
[ -n "${PKG_CONFIG:-}" ] && PKGCONF_ARG=(-DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG")

# ---- (2) the reference, in the background -------------------------------------------
LB=$ROOT/build-gpu-llama
REF_PID="" LLAMA_DIR="" NO_REF_REASON="--no-ref"
ref_tar=$(ls "$G"/llama.cpp-*.tar.xz 2>/dev/null | head -1)
ref_bin_tar=$(ls "$G"/llama-ref-*.tar.xz 2>/dev/null | head -1)
if [ "$REF" = 1 ] && [ -n "$REF_DIR" ]; then
  LLAMA_DIR=$REF_DIR
  say "reference: the one in $REF_DIR"
elif [ "$REF" = 1 ] && [ -n "$ref_bin_tar" ]; then
  mkdir -p "$LB/bin" && untar_xz "$ref_bin_tar" "$LB/bin" && LLAMA_DIR=$LB/bin
  say "reference: prebuilt, from $(basename "$ref_bin_tar")"
elif [ "$REF" = 1 ] && [ -z "$ref_tar" ]; then
  NO_REF_REASON="no .gpu/llama.cpp-*.tar.xz carried"
  say "reference: none ($NO_REF_REASON)"; REF=0
elif [ "$REF" = 1 ]; then
  name=$(basename "$ref_tar" .tar.xz)
  if [ ! -f "$LB/src/$name/BUILD_INFO" ]; then
    rm -rf "$LB/src"; mkdir -p "$LB/src"; untar_xz "$ref_tar" "$LB/src"
  fi
  . <(grep '^LLAMA_BUILD_' "$LB/src/$name/BUILD_INFO")
  say "reference: building $name (llama-bench, llama-quantize; GGML_CUDA=$REF_CUDA, sm_90; -j$JOBS) in the background"
  (
    set -e
    t=$(date +%s)
    cmake -S "$LB/src/$name" -B "$LB/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DGGML_CUDA=$REF_CUDA -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=ON \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
      -DLLAMA_BUILD_TOOLS=ON -DLLAMA_OPENSSL=OFF \
      -DLLAMA_BUILD_COMMIT="$LLAMA_BUILD_COMMIT" -DLLAMA_BUILD_NUMBER="$LLAMA_BUILD_NUMBER" \
      -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON '-DCMAKE_INSTALL_RPATH=$ORIGIN'
    cmake --build "$LB/build" -j "$JOBS" --target llama-bench llama-quantize
    echo "built in $(($(date +%s) - t)) s"
  ) > "$W/llama-build.log" 2>&1 &
  REF_PID=$!
  LLAMA_DIR=$LB/build/bin
else
  say "reference: skipped (--no-ref)"
fi

# ---- (3) autoinfer ---------------------------------------------------------------------
AI=$ROOT/$BUILD/autoinfer
say "autoinfer: building ($BUILD, AI_CUDA=$AI_CUDA, -j$JOBS)"
if cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAI_CUDA=$AI_CUDA "${PKGCONF_ARG[@]}" \
     > "$W/autoinfer-build.log" 2>&1 &&
   cmake --build "$BUILD" -j "$JOBS" --target autoinfer >> "$W/autoinfer-build.log" 2>&1; then
  AI_ID=$(git rev-parse --short HEAD 2>/dev/null) || AI_ID=""
  if [ -z "$AI_ID" ]; then AI_ID="the carried working tree (no .git here)"
  elif ! git diff --quiet HEAD -- engine cli include harness 2>/dev/null; then AI_ID="$AI_ID + uncommitted changes"; fi
  say "autoinfer: built ($AI_ID; $(grep -m1 -o 'CUDA backend [A-Z]*[^)]*)' "$W/autoinfer-build.log" || echo 'CUDA status not printed'))"
else
  say "ERROR: autoinfer did not build (tail of $BUILD's log below); the bench goes on without it"
  tail -25 "$W/autoinfer-build.log" >&2
  AI_ID="(build failed)"
  # synth still needs a binary: a CPU-only one
  if [ "$AI_CUDA" = on ] && cmake -S . -B "$BUILD-cpu" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAI_CUDA=off \
       "${PKGCONF_ARG[@]}" > "$W/autoinfer-cpu-build.log" 2>&1 &&
     cmake --build "$BUILD-cpu" -j "$JOBS" --target autoinfer >> "$W/autoinfer-cpu-build.log" 2>&1; then
    SYNTH_AI=$ROOT/$BUILD-cpu/autoinfer
    say "autoinfer: a CPU-only build ($BUILD-cpu) makes the models"
  fi
fi
SYNTH_AI=${SYNTH_AI:-$AI}

# ---- (4) the models ------------------------------------------------------------------------
VOCAB_SMOL=$G/models/smollm2-cut4.gguf
VOCAB_QWEN=$MD/qwen2.5-vocab.gguf
if [ ! -s "$VOCAB_QWEN" ] && [ -s "$G/models/qwen2.5-vocab.gguf.xz" ]; then
  unxz_cat "$G/models/qwen2.5-vocab.gguf.xz" > "$VOCAB_QWEN.tmp" && mv "$VOCAB_QWEN.tmp" "$VOCAB_QWEN"
fi
want() { case ",$MODELS," in *",$1,"*) return 0 ;; esac
         local s; for s in ${MODELS//,/ }; do [[ "$1" == *"$s"* ]] && return 0; done; return 1; }
shape_of() { case "$1" in smollm2-*) echo smollm2-135m ;; qwen05-*) echo qwen2.5-0.5b ;; esac; }
vocab_of() { case "$1" in smollm2-*) echo "$VOCAB_SMOL" ;; qwen05-*) echo "$VOCAB_QWEN" ;; esac; }
synth() { # ID TYPE
  local f=$MD/$1.gguf
  [ -s "$f" ] && return 0
  if "$SYNTH_AI" synth --shape "$(shape_of "$1")" --type "$2" --vocab-from "$(vocab_of "$1")" -o "$f" \
       >> "$W/models.log" 2>&1; then say "model: $1 synthesized ($2, $(du -h "$f" | cut -f1))"
  else say "ERROR: synth $1 ($2) failed: $(tail -1 "$W/models.log")"; rm -f "$f"; return 1; fi
}
for id in ${MODELS_ALL//,/ }; do
  want "$id" || continue
  case "$id" in
    *-q4_k_m) synth "${id%-q4_k_m}-f16" f16 ;;
    *) synth "$id" "${id##*-}" ;;
  esac
done

# ---- (5) agreement: the cut real model, greedy, CPU against GPU ---------------------------------
if [ "$AGREE" = 1 ] && [ -x "$AI" ] && [ -s "$VOCAB_SMOL" ]; then
  P="The three primary colors are"
  gen() { "$AI" generate -m "$VOCAB_SMOL" -p "$P" -n 48 --temp 0 --ignore-eos --set "backend=$1" \
            > "$W/agree-$2.txt" 2> "$W/agree-$2.err"; }
  if gen cpu cpu && gen "${AGREE_B:-cuda}" gpu; then
    python3 - "$W/agree-cpu.txt" "$W/agree-gpu.txt" > "$W/agree.txt" <<'EOF'
import sys
a, b = (open(p, encoding="utf-8", errors="replace").read() for p in sys.argv[1:3])
n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
if a == b:
    print("identical greedy text (%d chars): %r" % (len(a), a[:120]))
else:
    print("texts differ from char %d of %d/%d: cpu %r | gpu %r" % (n, len(a), len(b), a[max(0, n - 20):n + 40], b[max(0, n - 20):n + 40]))
EOF
    AGREEMENT="smollm2-cut4 (real SmolLM2 weights, 4 blocks), 48 greedy tokens, backend cpu vs ${AGREE_B:-cuda}: $(cat "$W/agree.txt")"
  else
    AGREEMENT="not checked: generate failed ($(cat "$W"/agree-cpu.err "$W"/agree-gpu.err 2>/dev/null | grep -v '^ *$' | tail -1))"
  fi
  say "agreement: $AGREEMENT"
fi

# ---- wait for the reference; the q4_k_m files ---------------------------------------------------
if [ -n "$REF_PID" ]; then
  say "reference: waiting for its build"
  if wait "$REF_PID"; then
    say "reference: $(tail -1 "$W/llama-build.log")"
  else
    say "ERROR: the llama.cpp build failed (tail of its log below); the bench goes on without it"
    grep -E 'error|Error|FAILED' "$W/llama-build.log" | head -10 >&2; tail -15 "$W/llama-build.log" >&2
    LLAMA_DIR="" NO_REF_REASON="its build failed: see logs.tar.gz, llama-build.log"
  fi
fi
if [ -n "$LLAMA_DIR" ] && [ ! -x "$LLAMA_DIR/llama-bench" ]; then
  say "ERROR: no llama-bench in $LLAMA_DIR"; LLAMA_DIR="" NO_REF_REASON="no llama-bench in $LLAMA_DIR"
fi
# the reference just built, packed for the next call (carry it as .gpu/llama-ref-COMMIT.tar.xz)
raw=$( (cd "$LLAMA_DIR" 2>/dev/null && du -cbL llama-bench llama-quantize lib*.so 2>/dev/null) | tail -1 | cut -f1)
if [ -n "$REF_PID" ] && [ -n "$LLAMA_DIR" ] && [ -n "${OUT:-}" ] && [ "${raw:-0}" -gt $((48 << 20)) ]; then
  say "reference binaries: $((raw >> 20)) MiB, too large to pack under the 16 MiB a returned file may have"
elif [ -n "$REF_PID" ] && [ -n "$LLAMA_DIR" ] && [ -n "${OUT:-}" ]; then
  rt=$RES/llama-ref-${LLAMA_BUILD_COMMIT:-x}.tar.xz
  (cd "$LLAMA_DIR" && tar -cf - llama-bench llama-quantize lib*.so*) |
    if command -v xz >/dev/null 2>&1; then xz -T0 -6; else python3 -c 'import lzma, shutil, sys; f = lzma.open(sys.stdout.buffer, "w", preset=1); shutil.copyfileobj(sys.stdin.buffer, f); f.close()'; fi \
    > "$rt.tmp" 2>/dev/null
  sz=$(stat -c %s "$rt.tmp" 2>/dev/null || echo 0)
  if [ "$sz" -gt 0 ] && [ "$sz" -lt $((16 << 20)) ]; then
    mv "$rt.tmp" "$rt"
    say "reference binaries: $(basename "$rt") ($(du -h "$rt" | cut -f1)) comes back: in .gpu/ it spares the next call the build"
  else
    rm -f "$rt.tmp"; say "reference binaries: $((sz >> 20)) MiB packed, over the 16 MiB a returned file may have"
  fi
fi
if [ "$BUILD_ONLY" = 1 ]; then say "done (--build-only)"; exit 0; fi
KM_NOTE=()
for id in smollm2-q4_k_m qwen05-q4_k_m; do
  want "$id" || continue
  f=$MD/$id.gguf src=$MD/${id%-q4_k_m}-f16.gguf
  if [ -s "$f" ] && [ -f "$f.how" ] && { [ -z "$LLAMA_DIR" ] || grep -q llama-quantize "$f.how"; }; then :
  elif [ ! -s "$src" ]; then say "ERROR: $id: no f16 source"; continue
  elif [ -n "$LLAMA_DIR" ] && [ -x "$LLAMA_DIR/llama-quantize" ]; then
    if LD_LIBRARY_PATH=$LLAMA_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$LLAMA_DIR/llama-quantize" \
         "$src" "$f.tmp" Q4_K_M "$JOBS" >> "$W/models.log" 2>&1; then
      mv "$f.tmp" "$f"; echo "llama-quantize Q4_K_M from a synthesized f16" > "$f.how"
    else say "ERROR: llama-quantize $id failed: $(tail -1 "$W/models.log")"; rm -f "$f.tmp"; fi
  elif [ -x "$SYNTH_AI" ]; then
    if "$SYNTH_AI" quantize -q "$src" "$f" q4_k_m >> "$W/models.log" 2>&1; then
      echo "autoinfer quantize q4_k_m from a synthesized f16 (no reference here)" > "$f.how"
    else say "ERROR: autoinfer quantize $id failed: $(tail -1 "$W/models.log")"; fi
  fi
  [ -s "$f" ] && say "model: $id: $(cat "$f.how"), $(du -h "$f" | cut -f1)"
done

# ---- (6) the copy bandwidth --------------------------------------------------------------------
BW=0
if [ "$BACKEND" = cuda ] || command -v nvidia-smi >/dev/null 2>&1; then
  BW=$(python3 - 2> "$W/bandwidth.err" <<'EOF' | tail -1
import statistics, torch
n = 1 << 30
x = torch.empty(n, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize()
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
rates = []
for _ in range(20):
    s.record(); y.copy_(x); e.record(); e.synchronize()
    rates.append(2 * n / (s.elapsed_time(e) / 1e3) / 1e9)   # bytes read + written
print("copy 1 GiB x 20: best %.0f, median %.0f GB/s" % (max(rates), statistics.median(rates)), file=__import__("sys").stderr)
print("%.1f" % max(rates))
EOF
  ) || BW=0
  [ -n "$BW" ] || BW=0
  say "bandwidth: ${BW} GB/s ($(tail -1 "$W/bandwidth.err" 2>/dev/null))"
fi

# ---- (7) the bench -------------------------------------------------------------------------------
margs=()
label() { case "$1" in smollm2-*) echo "SmolLM2-135M (synth)" ;; qwen05-*) echo "Qwen2.5-0.5B (synth)" ;; esac; }
for id in ${MODELS_ALL//,/ }; do
  want "$id" || continue
  q=${id#*-}; note=""
  [ -f "$MD/$id.gguf.how" ] && note=$(cat "$MD/$id.gguf.how")
  margs+=("--model=$id:$(label "$id"):${q^^}:$MD/$id.gguf:$note")
done
if [ ${#margs[@]} -eq 0 ]; then say "ERROR: no model matches --models $MODELS"; exit 2; fi
setargs=()
for s in "${SETS[@]}"; do setargs+=("--set=$s"); done
outs=("--out=$RES")
[ "$RES" != "$W" ] && outs+=("--out=$W")
say "bench: ${#margs[@]} models, budget ends at +${BUDGET}s"
python3 "$ROOT/bench/gpu/gpubench.py" --autoinfer="$AI" --autoinfer-id="$AI_ID" \
  --llama-dir="$LLAMA_DIR" --no-ref-reason="$NO_REF_REASON" "${margs[@]}" \
  --rounds="$ROUNDS" --reps="$REPS" --decode="$DECODE" --prefill="$PREFILL" --backend="$BACKEND" \
  "${setargs[@]}" --deadline=$((T0 + BUDGET)) --bandwidth-gbps="$BW" --device="$DEVICE" \
  "${outs[@]}" --logs="$W/bench" > "$W/table.md"
rc=$?
# where a decode step's microseconds go (AI_CUDA_PROFILE: events between the
# step's kernels, by stage), once per model, after the timed rounds
if [ "$BACKEND" = cuda ] && [ -x "$AI" ]; then
  { echo; echo "Per-token time by stage (AI_CUDA_PROFILE=1, graph launch, decode 128, us):"; echo
    for id in ${MODELS_ALL//,/ }; do
      want "$id" && [ -s "$MD/$id.gguf" ] || continue
      p=$(AI_CUDA_PROFILE=1 timeout 60 "$AI" bench -m "$MD/$id.gguf" --decode 128 --prefill 16 --reps 1 \
            --set backend=cuda "${SETS[@]/#/--set=}" 2>&1 | grep -m1 "cuda profile")
      echo "- $id: ${p:-no profile (see logs)}"
    done; } >> "$RES/summary.md"
fi
{ [ -n "${AGREEMENT:-}" ] && printf -- '- agreement: %s\n' "$AGREEMENT"
  printf -- '- run: bench/gpu/run.sh %s; total %d s\n' "$ARGS" $(($(date +%s) - T0)); } >> "$RES/summary.md"
cat "$RES/summary.md"

say "done: $RES/summary.md"
exit $rc
