#!/usr/bin/env bash
# Fills .gpu/ (git-ignored) with what the GPU bench (bench/gpu/run.sh) needs on a
# machine with no network: run it HERE (pip, apt and PyPI reachable), carry `.gpu`.
#   bench/gpu/pack.sh [--force] [--no-verify]
#
#   .gpu/llama.cpp-<commit>.tar.xz  the llama.cpp vendored in the llama-cpp-python 0.3.36
#                                   sdist (the CPU bench's reference, tools/oracle/setup.sh),
#                                   trimmed to what configures and builds llama-bench and
#                                   llama-quantize with -DGGML_CUDA=ON: no models/, docs,
#                                   tests, examples, server, app, Python, other backends
#                                   or other CPU architectures; tools/CMakeLists.txt is
#                                   rewritten to add only those two tools. BUILD_INFO holds
#                                   the commit (llama-bench reports it).
#   .gpu/debs/*.deb                 the Debian 12 packages autoinfer's build needs
#                                   (pkg-config, pcre2, cJSON, cmocka; run.sh unpacks
#                                   them into a private prefix only when missing there)
#   .gpu/models/smollm2-cut4.gguf   the real SmolLM2-135M-Instruct (Q4_1) cut to its first
#                                   4 blocks, every matrix Q4_1 (the 28 block matrices as
#                                   shipped, the Q8_0 embedding requantized to Q4_1 to fit
#                                   the carry), for CPU-vs-GPU agreement checks; it is also
#                                   the SmolLM2 tokenizer source for `autoinfer synth`
#   .gpu/models/qwen2.5-vocab.gguf.xz  the tokenizer of Qwen2.5-Coder-0.5B-Instruct, no
#                                   tensors (the Qwen2.5 tokenizer source for synth)
#   .gpu/MANIFEST                   what is there, sizes and sha256
#
# Idempotent: a part already there is kept unless --force. --no-verify skips the
# configure check of the trimmed tree (cmake -DGGML_CUDA=ON, nvcc needed, no GPU) and
# the compile of one CUDA object. Uses build-pack/ (CPU-only autoinfer) for the cut.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
G=$root/.gpu
VER=0.3.36
SDIST_DIR=$root/.oracle/src
SDIST=$SDIST_DIR/llama_cpp_python-$VER.tar.gz
FORCE=0 VERIFY=1
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    --no-verify) VERIFY=0 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "pack: unknown option $a" >&2; exit 2 ;;
  esac
done
log() { echo "pack: $*" >&2; }
mkdir -p "$G/debs" "$G/models"
tmp=$(mktemp -d /tmp/gpu-pack.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# ---- (a) the trimmed llama.cpp ------------------------------------------------
if [ ! -f "$SDIST" ]; then
  log "downloading the llama-cpp-python==$VER sdist"
  mkdir -p "$SDIST_DIR"
  python3 -m pip download -q --no-deps --no-binary :all: -d "$SDIST_DIR" "llama-cpp-python==$VER"
fi
L=$SDIST_DIR/llama_cpp_python-$VER/vendor/llama.cpp
if [ ! -f "$L/CMakeLists.txt" ]; then
  log "unpacking $SDIST"
  tar xzf "$SDIST" -C "$SDIST_DIR"
fi
commit=$(git -C "$L" rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
count=$(git -C "$L" rev-list --count HEAD 2>/dev/null || echo 0)
name=llama.cpp-$commit
TAR=$G/$name.tar.xz
if [ "$FORCE" = 1 ] || [ ! -s "$TAR" ]; then
  rm -f "$G"/llama.cpp-*.tar.xz
  T=$tmp/$name
  mkdir -p "$T/tools" "$T/ggml/src"
  log "trimming $L into $name"
  # the top level, the llama library, common (llama-bench and llama-quantize link it),
  # the vendored header libraries common needs
  cp -a "$L/CMakeLists.txt" "$L/LICENSE" "$L/cmake" "$L/include" "$L/src" "$L/common" \
        "$L/vendor" "$L/licenses" "$T/"
  rm -f "$T/vendor/miniaudio/miniaudio.h" "$T/vendor/stb/stb_image.h"   # mtmd only
  # the two tools, and a tools/CMakeLists.txt that adds only them
  cp -a "$L/tools/llama-bench" "$L/tools/quantize" "$T/tools/"
  cat > "$T/tools/CMakeLists.txt" <<'EOF'
# Trimmed by autoinfer's bench/gpu/pack.sh: only the two tools the GPU bench builds.
find_package(Threads REQUIRED)
llama_add_compile_flags()
add_subdirectory(llama-bench)
add_subdirectory(quantize)
EOF
  # ggml: the core, the CPU backend (x86 only) and the CUDA backend
  cp -a "$L/ggml/CMakeLists.txt" "$L/ggml/cmake" "$L/ggml/include" "$T/ggml/"
  find "$L/ggml/src" -maxdepth 1 -type f -exec cp -a {} "$T/ggml/src/" \;
  cp -a "$L/ggml/src/ggml-cpu" "$L/ggml/src/ggml-cuda" "$T/ggml/src/"
  for d in arm loongarch powerpc riscv s390 wasm; do rm -rf "$T/ggml/src/ggml-cpu/arch/$d"; done
  rm -rf "$T/ggml/src/ggml-cpu/spacemit" "$T/ggml/src/ggml-cpu/kleidiai"
  rm -f "$T/ggml/src/ggml-cuda/template-instances/generate_cu_files.py"
  find "$T" \( -name '*.md' -o -name '.git*' -o -name '*.py' \) -prune -exec rm -rf {} +
  printf 'LLAMA_BUILD_COMMIT=%s\nLLAMA_BUILD_NUMBER=%s\nSOURCE=llama-cpp-python==%s sdist, vendor/llama.cpp\n' \
    "$commit" "$count" "$VER" > "$T/BUILD_INFO"
  tar -C "$tmp" -cf - "$name" | xz -T0 -9 > "$TAR.tmp"
  mv "$TAR.tmp" "$TAR"
  log "$TAR: $(du -h "$TAR" | cut -f1) ($(du -sh "$T" | cut -f1) unpacked, $(find "$T" -type f | wc -l) files)"
  if [ "$VERIFY" = 1 ]; then
    command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
    log "verifying: cmake -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 configures the trimmed tree"
    V=$tmp/verify
    mkdir -p "$V"
    tar -C "$V" -xJf "$TAR"
    if ! cmake -S "$V/$name" -B "$V/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=ON \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
        -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_COMMIT="$commit" -DLLAMA_BUILD_NUMBER="$count" \
        > "$tmp/configure.log" 2>&1; then
      tail -30 "$tmp/configure.log" >&2
      log "FAILED: the trimmed tree does not configure"; rm -f "$TAR"; exit 1
    fi
    for t in llama-bench llama-quantize; do
      ninja -C "$V/build" -t targets all | grep -q "^$t:" || { log "FAILED: no target $t"; rm -f "$TAR"; exit 1; }
    done
    # one small CUDA object and one object of every other library, to prove the headers
    # are all there: each compile reads the trimmed tree's includes
    objs=$(ninja -C "$V/build" -t targets all | grep -oE '^[^:]+/(arange\.cu|ggml\.c|llama\.cpp|common\.cpp|llama-bench\.cpp|quantize\.cpp)\.o' || true)
    log "verifying: compiling $(echo $objs | wc -w) objects ($(echo $objs | tr ' ' '\n' | sed 's|.*/||' | tr '\n' ' '))"
    if ! ninja -C "$V/build" -j"$(nproc)" $objs > "$tmp/objs.log" 2>&1; then
      tail -30 "$tmp/objs.log" >&2
      log "FAILED: compiling from the trimmed tree"; rm -f "$TAR"; exit 1
    fi
    log "verified: configures with CUDA (targets llama-bench, llama-quantize), objects compile"
  fi
fi

# ---- (b) the Debian packages of autoinfer's build ------------------------------
DEBS="pkg-config pkgconf pkgconf-bin libpkgconf3 libpcre2-dev libpcre2-8-0 libpcre2-16-0
      libpcre2-32-0 libpcre2-posix3 libcjson-dev libcjson1 libcmocka-dev libcmocka0"
missing=()
for p in $DEBS; do ls "$G/debs/${p}_"*.deb >/dev/null 2>&1 || missing+=("$p"); done
if [ "$FORCE" = 1 ] || [ ${#missing[@]} -gt 0 ]; then
  [ "$FORCE" = 1 ] && { rm -f "$G"/debs/*.deb; missing=($DEBS); }
  log "apt-get download ${missing[*]}"
  (cd "$G/debs" && apt-get download "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2)
fi

# ---- (c) the travel-light GGUFs -------------------------------------------------
scripts/get-model.sh smollm2 qwen2 >&2
AI=${AUTOINFER:-}
if [ -z "$AI" ]; then
  cmake -S . -B build-pack -DCMAKE_BUILD_TYPE=Release -DAI_CUDA=off >/dev/null
  cmake --build build-pack -j"$(nproc)" --target autoinfer >/dev/null
  AI=build-pack/autoinfer
fi
CUT=$G/models/smollm2-cut4.gguf
if [ "$FORCE" = 1 ] || [ ! -s "$CUT" ]; then
  "$AI" quantize -q --layers 4 models/SmolLM2-135M-Instruct.Q4_1.gguf "$CUT" q4_1 >&2
  # it must load and generate
  "$AI" generate -m "$CUT" -p "The capital of France is" -n 8 --temp 0 --set backend=cpu \
    > "$tmp/gen.txt" 2>&1 || { cat "$tmp/gen.txt" >&2; log "FAILED: the cut model does not generate"; exit 1; }
fi
QV=$G/models/qwen2.5-vocab.gguf.xz
if [ "$FORCE" = 1 ] || [ ! -s "$QV" ]; then
  python3 bench/gpu/gguf_lite.py vocab models/Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf "$tmp/qv.gguf" >&2
  xz -T0 -9 -c "$tmp/qv.gguf" > "$QV.tmp" && mv "$QV.tmp" "$QV"
fi

# ---- sizes -----------------------------------------------------------------------
( cd "$G" && find . -type f ! -name MANIFEST | sort | while read -r f; do
    printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "${f#./}"
  done ) > "$G/MANIFEST"
total=$(du -cb "$G" --exclude=MANIFEST | tail -1 | cut -f1)
echo "== .gpu/ ($(find "$G" -type f | wc -l) files)"
awk '{printf "%8.2f MiB  %s\n", $1/1048576, $3}' "$G/MANIFEST"
awk -v t="$total" 'BEGIN { printf "%8.2f MiB  total\n", t / 1048576 }'
LIMIT=$((40 << 20))
if [ "$total" -ge "$LIMIT" ]; then
  log "FAILED: .gpu/ is $total bytes, over 40 MiB"; exit 1
fi
