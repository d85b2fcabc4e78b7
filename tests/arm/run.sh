#!/usr/bin/env bash
# The kernel tests (tests/test_quant.c, tests/test_kernels.c) built for
# AArch64 with the Debian cross compiler and run under qemu-user, so that the
# NEON paths (engine/quant_neon.c) are held to the scalar reference on an x86
# host. `make test-arm` runs this. Needs (Debian 12):
#   apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
#   dpkg --add-architecture arm64 && apt-get update && apt-get install libcmocka-dev:arm64
# Only the kernel sources are built (no tokenizer, so no PCRE2 for arm64).
set -euo pipefail
cd "$(dirname "$0")/../.."
CC=${CC_ARM:-aarch64-linux-gnu-gcc}
QEMU=${QEMU_ARM:-qemu-aarch64}
SYSROOT=${ARM_SYSROOT:-/usr/aarch64-linux-gnu}
for tool in "$CC" "$QEMU"; do
  command -v "$tool" >/dev/null || { echo "test-arm: $tool not found (see tests/arm/run.sh for the packages)" >&2; exit 2; }
done
OUT=build-arm
mkdir -p "$OUT"
FLAGS="-std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wvla
       -D_GNU_SOURCE= -DAI_SOURCE_DIR=\"$PWD\" -DAI_BINARY=\"none\" -Iinclude -Iengine -Itests"
SRC="engine/quant.c engine/quant_avx2.c engine/quant_avx512.c engine/quant_neon.c engine/dtype.c
     engine/error.c engine/vec.c engine/gemm.c engine/sampler.c"
for t in test_quant test_kernels; do
  # shellcheck disable=SC2086
  $CC $FLAGS $SRC "tests/$t.c" -o "$OUT/$t" -lcmocka -lm
  echo "== $t (aarch64, qemu-user)"
  CMOCKA_MESSAGE_OUTPUT=STDOUT "$QEMU" -L "$SYSROOT" "$OUT/$t"
done
