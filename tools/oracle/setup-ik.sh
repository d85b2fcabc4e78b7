#!/usr/bin/env bash
# Builds the second CPU reference, ik_llama.cpp's llama-bench (the fork with hand-tuned IQK
# CPU kernels), on the side (never part of autoinfer itself):
#   .oracle-ik/src     the ik-llama-cpp-python sdist from PyPI (it vendors ik_llama.cpp) unpacked
#   .oracle-ik/build   CMake build of vendor/ik_llama.cpp (CPU, -DGGML_NATIVE=ON, Release, static)
#   .oracle-ik/bin     llama-bench (self-contained: static libs, no LD_LIBRARY_PATH needed)
#   .oracle-ik/READY   touched once llama-bench runs
# GGML_IQK_FA_ALL_QUANTS=OFF keeps the build to its f16/q8_0 flash-attention kernels (the
# full set takes hours on 2 cores). The sdist has no git metadata and lacks the script that
# generates common/build-info.cpp from git, so that file is written here instead (the commit
# is named after the sdist version). Idempotent: every step is skipped or incremental.
#   tools/oracle/setup-ik.sh          (JOBS=2 by default; nice it on a shared machine)
set -euo pipefail
cd "$(dirname "$0")/../.."
O=$PWD/.oracle-ik
VER=0.1.5
SDIST=$O/src/ik_llama_cpp_python-$VER.tar.gz
SRC=$O/src/ik_llama_cpp_python-$VER/vendor/ik_llama.cpp
JOBS=${JOBS:-2}
PY=${PYTHON:-python3}
log() { echo "oracle-ik-setup: $*" >&2; }

mkdir -p "$O/src" "$O/bin"

# 1. the sdist
if [ ! -f "$SDIST" ]; then
  log "downloading ik-llama-cpp-python==$VER sdist"
  "$PY" -m pip download --no-deps --no-binary :all: -d "$O/src" "ik-llama-cpp-python==$VER"
fi
if [ ! -f "$SRC/CMakeLists.txt" ]; then
  log "unpacking $SDIST"
  tar xzf "$SDIST" -C "$O/src"
fi

# 2. the build-info stand-in: written once, newer than its .in, so the custom command that
#    would regenerate it from git (its generator script is not in the sdist) never runs
if [ ! -f "$SRC/common/build-info.cpp" ]; then
  cc=$(${CC:-cc} --version | head -1)
  target=$(${CC:-cc} -dumpmachine)
  sed -e 's/@BUILD_NUMBER@/0/' -e "s/@BUILD_COMMIT@/sdist-$VER/" \
      -e "s|@BUILD_COMPILER@|$cc|" -e "s|@BUILD_TARGET@|$target|" \
      "$SRC/common/build-info.cpp.in" > "$SRC/common/build-info.cpp"
fi

# 3. configure (CPU only, native, Release, static so the binary needs no library path)
B=$O/build
if [ ! -f "$B/CMakeCache.txt" ]; then
  log "configuring ik_llama.cpp in $B"
  cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
    -DGGML_IQK_FA_ALL_QUANTS=OFF -DGGML_CCACHE=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=ON \
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF -DGGML_NCCL=OFF \
    >/dev/null
fi

# 4. llama-bench only
log "building llama-bench (-j$JOBS)"
cmake --build "$B" -j "$JOBS" --target llama-bench
bin=$(find "$B" -name llama-bench -type f -perm -u+x | head -1)
[ -n "$bin" ] || { log "llama-bench not found under $B"; exit 1; }
if ! cmp -s "$bin" "$O/bin/llama-bench"; then
  cp -p "$bin" "$O/bin/.llama-bench.tmp" && mv -f "$O/bin/.llama-bench.tmp" "$O/bin/llama-bench"
fi
"$O/bin/llama-bench" --help >/dev/null
touch "$O/READY"
log "done: $O/bin/llama-bench"
