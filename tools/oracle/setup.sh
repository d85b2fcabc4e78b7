#!/usr/bin/env bash
# Builds the llama.cpp oracle on the side (never part of autoinfer itself):
#   .oracle/venv   Python venv with llama-cpp-python 0.3.36 (from its sdist), numpy, jinja2, gguf
#   .oracle/build  CMake build of the sdist's vendored llama.cpp (CPU, -DGGML_NATIVE=ON, Release)
#   .oracle/bin    llama-bench, llama-perplexity, llama-quantize, llama-simple, llama-cli, ... + libs
#   .oracle/READY  touched as soon as `import llama_cpp` works (tools may still be building)
# llama.cpp is compiled once: the shared libraries built here are the ones the Python binding
# loads (the sdist is pip-installed with -DLLAMA_BUILD=OFF, then the libs are placed in its
# llama_cpp/lib). Idempotent: every step is skipped or incremental when already done.
#   tools/oracle/setup.sh            (JOBS=2 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
O=$root/.oracle
VER=0.3.36
SDIST=$O/src/llama_cpp_python-$VER.tar.gz
SRC=$O/src/llama_cpp_python-$VER
JOBS=${JOBS:-2}
PY=${PYTHON:-python3}
log() { echo "oracle-setup: $*" >&2; }
# Copies files into DIR without ever rewriting a file in place (a running process may have
# a library mapped): unchanged files are left alone, changed ones are replaced by rename.
place() {
  local dir=$1 f b; shift
  for f in "$@"; do
    [ -e "$f" ] || continue
    b=$(basename "$f")
    if [ -L "$f" ]; then
      ln -sfn "$(readlink "$f")" "$dir/$b"
    elif ! cmp -s "$f" "$dir/$b"; then
      cp -p "$f" "$dir/.$b.tmp" && mv -f "$dir/.$b.tmp" "$dir/$b"
    fi
  done
}

mkdir -p "$O/src" "$O/bin"

# 1. the sdist
if [ ! -f "$SDIST" ]; then
  log "downloading llama-cpp-python==$VER sdist"
  "$PY" -m pip download --no-deps --no-binary :all: -d "$O/src" "llama-cpp-python==$VER"
fi
if [ ! -f "$SRC/vendor/llama.cpp/CMakeLists.txt" ]; then
  log "unpacking $SDIST"
  tar xzf "$SDIST" -C "$O/src"
fi

# 2. the venv and the pure-Python packages
if [ ! -x "$O/venv/bin/python" ]; then
  "$PY" -m venv "$O/venv"
fi
VPY=$O/venv/bin/python
if ! "$VPY" -c 'import numpy, jinja2, gguf' 2>/dev/null; then
  log "installing numpy jinja2 gguf"
  "$VPY" -m pip install -q numpy jinja2 gguf
fi

# 3. configure the vendored llama.cpp (CPU only, native, Release, shared libs with $ORIGIN rpath)
B=$O/build
if [ ! -f "$B/CMakeCache.txt" ]; then
  log "configuring llama.cpp in $B"
  cmake -S "$SRC/vendor/llama.cpp" -B "$B" \
    -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=ON \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_EXAMPLES=ON -DGGML_CUDA=OFF -DGGML_VULKAN=OFF \
    -DGGML_METAL=OFF -DGGML_BLAS=OFF \
    -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON '-DCMAKE_INSTALL_RPATH=$ORIGIN'
fi

# 4. the libraries first (what the Python binding needs)
log "building libllama/libggml (-j$JOBS)"
cmake --build "$B" -j "$JOBS" --target llama ggml

# 5. the Python binding from the sdist, without its own copy of the build
site=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ ! -f "$site/llama_cpp/__init__.py" ]; then
  log "pip-installing llama-cpp-python==$VER from $SDIST (LLAMA_BUILD=OFF: libs come from $B)"
  CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" "$VPY" -m pip install -q --no-binary :all: \
    --no-deps "$SDIST"
  "$VPY" -m pip install -q typing-extensions diskcache
fi
mkdir -p "$site/llama_cpp/lib"
place "$site/llama_cpp/lib" "$B"/bin/lib*.so*
if "$VPY" -c 'import llama_cpp; llama_cpp.llama_backend_init(); print(llama_cpp.__version__)'; then
  touch "$O/READY"
  log "Python binding works: $O/READY"
else
  log "import llama_cpp failed"; exit 1
fi

# 6. the tools, one at a time, cheapest and most needed first
for t in llama-quantize llama-bench llama-perplexity llama-simple llama-tokenize \
         llama-completion llama-cli; do
  if grep -q "^$t:" "$B/Makefile" 2>/dev/null || \
     cmake --build "$B" --target help 2>/dev/null | grep -q "\b$t\b"; then
    log "building $t"
    cmake --build "$B" -j "$JOBS" --target "$t" || log "WARNING: $t failed to build"
  else
    log "no target $t in this llama.cpp"
  fi
done
place "$O/bin" "$B"/bin/lib*.so* "$B"/bin/llama-*
touch "$O/BIN_READY"
log "done: $(ls "$O/bin" | tr '\n' ' ')"
