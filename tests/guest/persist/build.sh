#!/usr/bin/env bash
# Builds what the persist scenario ships into the guest (never committed): blockcheck,
# statically linked (the guest has no compiler).
# Usage: build.sh OUTDIR
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: build.sh OUTDIR}
mkdir -p "$OUT"
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -o "$OUT/blockcheck" "$HERE/blockcheck.c"
