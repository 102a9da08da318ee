#!/usr/bin/env bash
# `meson install` gives a working tool: installs the build into a scratch DESTDIR, then runs the
# installed nvemu from / and checks that it finds its presets by name, that the guest scripts
# `nvemu vm` runs are there and executable, and that the man page reads.
# Usage: test-install.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:?usage: test-install.sh BUILD_DIR}" && pwd)
DEST=$(mktemp -d /tmp/nvemu-install.XXXXXX)
trap 'rm -rf "$DEST"' EXIT
passed=0 failed=0
check() {  # check NAME COMMAND...
    local name=$1
    shift
    if "$@" > "$DEST/out" 2>&1; then
        echo "PASS: $name"
        passed=$((passed + 1))
    else
        echo "FAIL: $name: $(head -c 400 "$DEST/out")"
        failed=$((failed + 1))
    fi
}

meson install -C "$BUILD" --no-rebuild --quiet --destdir "$DEST/root" > "$DEST/install.log" 2>&1 ||
    { cat "$DEST/install.log"; echo "FAIL: meson install"; exit 1; }
NVEMU=$(find "$DEST/root" -path '*/bin/nvemu' -type f)
PREFIX=$(dirname "$(dirname "$NVEMU")")
DATA=$PREFIX/share/nvemu

# Run from / with no NVEMU_* variables: only the installed layout can answer.
installed() { (cd / && env -u NVEMU_PRESET_DIR -u NVEMU_GUEST_DIR "$NVEMU" "$@"); }
check "nvemu is installed" test -x "$NVEMU"
for preset in femu-bbssd femu-zns small tlc; do
    check "preset $preset by name" installed --preset "$preset" --control none --check-config
done
check "an unknown preset is refused" bash -c "! (cd / && '$NVEMU' --preset nosuch --check-config)"
for f in build-guest.sh run-guest.sh init.sh scripts/lib.sh scripts/tour.sh; do
    check "guest: $f" test -x "$DATA/guest/$f"
done
if command -v man > /dev/null; then
    check "the man page reads" bash -c "man --warnings -l '$PREFIX/share/man/man1/nvemu.1' 2>&1 >/dev/null | (! grep .)"
else
    check "the man page is a man page" grep -q '^\.TH NVEMU 1 ' "$PREFIX/share/man/man1/nvemu.1"
fi
man_names_every_option() {
    local o
    for o in $("$NVEMU" --list-options | cut -f3 | grep -- '^--'); do
        grep -qF "\\fB${o//-/\\-}\\fR" "$PREFIX/share/man/man1/nvemu.1" || { echo "missing $o"; return 1; }
    done
}
check "the man page names every daemon option" man_names_every_option
check "no source path in the binary's strings" bash -c "! strings -a '$NVEMU' | grep -q 'tests/guest'"
# Moved elsewhere, the tree still finds its data (it is found beside bin/, not by a fixed path).
mv "$PREFIX" "$DEST/moved"
NVEMU=$DEST/moved/bin/nvemu
check "a moved install finds its presets" installed --preset small --control none --check-config

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
