#!/usr/bin/env bash
# Builds what the zns guest scenario ships into the guest (never committed):
#   zns-append      the libnvme client (zns-append.c), built on the host
#   libnvme.so.1    Debian's libnvme it links against, next to it
#   zonefs-super    a zonefs super block: zonefs-tools (mkzonefs) is not in
#                   Debian 12, and the super block is one checksummed 4 KiB block
# Usage: build.sh OUTDIR
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: build.sh OUTDIR}
mkdir -p "$OUT"
if ! why=$(pkg-config --print-errors --exists libnvme 2>&1); then
    echo "build.sh: libnvme cannot be built against (scripts/install-deps --guest installs" \
        "libnvme-dev and libssl-dev): $why" >&2
    exit 1
fi
# shellcheck disable=SC2046  # pkg-config output is meant to split
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$OUT/zns-append" "$HERE/zns-append.c" \
    $(pkg-config --cflags --libs libnvme)
cp -L "$(gcc -print-file-name=libnvme.so.1 | grep / || echo /usr/lib/x86_64-linux-gnu/libnvme.so.1)" "$OUT/"
python3 "$HERE/zonefs-super.py" "$OUT/zonefs-super"
